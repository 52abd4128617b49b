"""Simulated agencies for demos and tests; they use the agency client as a real agency would."""
