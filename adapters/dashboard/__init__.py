"""The federal staff dashboard: a FastAPI app with server-rendered pages over the ledger."""
