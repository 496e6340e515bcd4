"""Benchmarks: a synthetic event-log generator and a runner that compares the library to baselines."""
