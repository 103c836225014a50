"""Benchmarks: timings measured against the emulator, reported as JSON, never asserted.

Each module runs on its own (``python -m bench.NAME``) and exposes ``run(...) -> dict``.
``python -m bench`` (``make bench``) runs them all and ``bench.report`` turns the
figures into ``docs/benchmarks.md``, beside ``bench/results.json``.
"""
