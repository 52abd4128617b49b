"""The read model: every staff query (CLI and dashboard), the shared column sets, the report."""
