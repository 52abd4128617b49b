"""The federal service: the running hub (`mechbus up`), the demo and the staff actions."""
