"""Medic benchmarks: `make bench` (full) or `make bench-quick`; results in bench/RESULTS.md."""
