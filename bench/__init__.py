"""Conductor-E benchmarks. Run ``python3 bench/run.py --help``; see bench/README.md."""
