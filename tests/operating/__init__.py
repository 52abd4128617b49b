"""``mechbus up`` in an operator's hands, driven from outside: CLI processes, raw nats-py
clients holding their own credentials, signals, a killed server, a second copy started."""
