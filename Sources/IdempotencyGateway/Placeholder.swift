// Module IdempotencyGateway.
