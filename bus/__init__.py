"""The coordination core (pure domain modules) and the running bus (hub, clients, streams)."""
