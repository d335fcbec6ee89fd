"""Helpers shared by the benchmark scripts: timing, machine description, tables."""

import os
import platform
import time
from datetime import date

import numpy as np


def best_of(func, repeats):
    """Best wall time of ``repeats`` calls and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def best_of_interleaved(funcs, repeats):
    """Best wall time of each function over ``repeats`` rounds, one call of
    each per round: a slow phase of a shared machine then hits every
    contender alike instead of only the one that was running."""
    best = [np.inf] * len(funcs)
    for _ in range(repeats):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def median_of(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def machine_line():
    import sklearn

    import skmax
    from skmax import _kernels

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (f"{date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, numpy {np.__version__}, "
            f"scikit-learn {sklearn.__version__}, skmax {skmax.__version__}, "
            f"OpenMP threads {_kernels.openmp_max_threads()}")


def print_table(header, rows, out=None):
    """Print a Markdown table (and return it as a string)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    text = "\n".join(lines)
    print(text, file=out, flush=True)
    return text


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
