"""Benchmark harness: a load generator (`python -m bench.loadgen`) and a runner that starts a
collector, drives it and reports one JSON line (`python -m bench.run`)."""
