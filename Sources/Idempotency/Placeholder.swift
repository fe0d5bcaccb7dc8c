// Module Idempotency.
