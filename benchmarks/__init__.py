"""Benchmark scripts of skmax; each module has ``main(argv)`` and a ``--quick`` smoke mode."""
