"""pytest-benchmark suites of the note's training cores (see benchmarks/README in README.md)."""
