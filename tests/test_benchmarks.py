"""Smoke runs of the benchmark scripts (``--quick``): they run and print a table.

Timings are never asserted here; the benchmarks themselves compare speed.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ["bench_fit.py", "bench_calibration.py", "bench_many_classes.py"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_quick_run(script):
    path = os.path.join(ROOT, "benchmarks", script)
    if not os.path.exists(path):
        pytest.skip("benchmarks/ not in this checkout")
    proc = subprocess.run([sys.executable, path, "--quick"], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "|---" in proc.stdout            # a Markdown table was printed
