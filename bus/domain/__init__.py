"""The pure coordination core: rules, lifecycle, deadlines and need-to-know. No I/O: nothing here
imports NATS, FastStream, SQL, sockets or the environment."""
