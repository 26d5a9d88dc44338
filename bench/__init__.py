"""Benchmarks that print figures (docs/PERFORMANCE.md quotes them), not tests.

Run each from the repo root as a module, e.g. ``python -m bench.relay --quick``;
``bench.harness`` (the relay subprocess) is shared with the tests.
"""
