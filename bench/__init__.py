"""Benchmarks: each compares a fast path with its baseline in the same run and checks they agree."""
