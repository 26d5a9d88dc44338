"""Attack benchmarks (issue 10): a relay under a hostile load, watched by a canary."""
