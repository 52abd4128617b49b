"""Benchmarks for mechbus (run with ``python -m bench``); not tests."""
