"""The REST API's shared parts: API-key authentication, errors, pagination, idempotency."""
