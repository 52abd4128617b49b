"""Revisions of the ledger's schema, one file each, named <rev>_<slug>.py."""
