"""Operating mechbus: logs, traces, health checks and Prometheus metrics for every process."""
