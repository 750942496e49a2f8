"""Benchmarks of the Simpul hot paths against a raw Kafka passthrough (`python -m bench`, `make bench`).

See docs/performance.md for the method and the results.
"""
