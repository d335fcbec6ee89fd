"""Benchmark scripts of skmax (not installed with it).

Each ``bench_*`` module has ``main(argv)``, a ``--quick`` smoke mode and
``--write-docs`` (its section of ``docs/benchmarks.md``); ``python -m benchmarks
--write-docs`` runs them all. ``datasets.py`` loads the real datasets that the
benchmarks and the gallery examples use.
"""
