"""The federal service: the composition root, the running hub (`mechbus up`), its embedded
servers, the demo and the staff actions."""
