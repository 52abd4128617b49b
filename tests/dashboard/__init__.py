"""The staff dashboard through FastAPI's test client, by topic."""
