"""Health checks and Prometheus metrics over HTTP, for every long-running mechbus process."""
