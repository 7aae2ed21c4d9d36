"""Benchmark harness (issue 8): `python bench/run.py --scale s|m|l [--json out.json]`. Not part of the tests."""
