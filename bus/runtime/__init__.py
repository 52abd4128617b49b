"""The running bus: the hub, the pull consumer, the sweeper, the streams on the server and the
agency client (the SDK). Everything here talks to NATS."""
