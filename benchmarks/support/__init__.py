"""What the benchmarks share (not a benchmark itself: every benchmarks/*.py is one)."""
