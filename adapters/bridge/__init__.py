"""The HTTP bridge for agencies that run no NATS client: tokens, the FastAPI app, webhooks and
email notices (see docs/ARCHITECTURE.md, "The HTTP bridge")."""
