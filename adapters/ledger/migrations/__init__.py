"""The ledger's Alembic migrations (shipped with the package; run by adapters.ledger.migrate)."""
