"""Benchmarks: ``python -m bench NAME``; each prints ours beside a baseline or peer."""
