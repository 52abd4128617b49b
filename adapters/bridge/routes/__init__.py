"""The bridge's routes, one router per topic: what an agency owes and may read, its answers on
a request, its shelter's capacity, its webhook."""
