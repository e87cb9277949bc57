"""Test helpers for BalDistill, installed apart from it (``pip install -e testing``, done by
``scripts/setup.sh test``): a fault-injecting OpenAI-compatible server for the tests and the benchmarks."""
