print("idempotency-gateway")
