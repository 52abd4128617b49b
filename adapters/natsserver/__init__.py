"""Running nats-server: the binary, a server or a cluster, credentials and TLS."""
