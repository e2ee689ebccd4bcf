"""Benchmarks run by `make bench` (python -m benchmarks.run); figures land in var/bench.json."""
