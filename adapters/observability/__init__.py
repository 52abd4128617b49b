"""Operating mechbus: its logs, traces, metrics and health, set up once for every process."""
