"""Fit time with a core taken by another process (issue #20, item 13).

One run, one table: the best-of-N fit time of ``SoftmaxClassifier`` (lbfgs,
dense float64 100k x 100, K = 10 by default) with ``n_jobs=None`` (every
core) and ``n_jobs=1``, first on an idle machine, then while ``--busy``
processes (default 1) spin in a pure busy loop, each taking one core. The
slowdown is busy time over idle time; the target is at most 1.3x with one
busy core, and no loss when the machine is idle. Each best fit also reports
the cores the process got (its CPU time over its wall time, every thread):
with one more runnable thread than cores, the kernel's fair scheduler gives
each thread an equal share, which bounds what any thread count can get.

Run ``python benchmarks/bench_contention.py`` (``--quick`` for a smoke run;
``--write-docs`` writes the table into ``docs/benchmarks.md``); prefix it with
``OMP_WAIT_POLICY=active`` to measure spinning OpenMP workers instead.
"""

import argparse
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

if __package__ in (None, ""):   # run as a script: make `benchmarks` importable, but
    # append the repository root so an installed skmax wins over the source tree
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import (  # noqa: E402
    Report,
    add_docs_option,
    best_of_interleaved_with_cores,
)
from skmax import SoftmaxClassifier  # noqa: E402

_BUSY_LOOP = "while True: pass"


class BusyCores:
    """``n`` processes spinning in a busy loop while the block runs."""

    def __init__(self, n):
        self.n, self.procs = n, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", _BUSY_LOOP])
                      for _ in range(self.n)]
        time.sleep(0.5)   # let the scheduler place them
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(100_000, 100, 10),
                        metavar=("N", "D", "K"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--busy", type=int, default=1, help="busy-loop processes")
    parser.add_argument("--quick", action="store_true")
    add_docs_option(parser)
    args = parser.parse_args(argv)
    n, d, K = (5_000, 20, 5) if args.quick else args.shape
    repeats = 1 if args.quick else args.repeats

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = np.argmax(X @ rng.standard_normal((d, K)) + rng.gumbel(size=(n, K)), axis=1)
    jobs = [None, 1]

    def fit(n_jobs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            SoftmaxClassifier(n_jobs=n_jobs).fit(X, y)

    funcs = [lambda j=j: fit(j) for j in jobs]
    fit(None)   # warm up: the OpenMP pool, BLAS, page faults
    idle = best_of_interleaved_with_cores(funcs, repeats)
    with BusyCores(args.busy):
        busy = best_of_interleaved_with_cores(funcs, repeats)

    report = Report("bench_contention",
                    f"dense float64 {n} x {d}, K = {K}, lbfgs; best of {repeats} "
                    f"(interleaved); {args.busy} busy-loop process(es); "
                    f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} (skmax's default: "
                    "PASSIVE unless set before import)")
    rows = [[str(j), f"{i:.3f}", f"{b:.3f}", f"{b / i:.2f}x", f"{i / idle[1][0]:.2f}x",
             f"{ci:.2f}", f"{cb:.2f}"]
            for j, (i, ci), (b, cb) in zip(jobs, idle, busy)]
    report.table(["n_jobs", "idle s", "busy s", "busy / idle", "idle / idle at n_jobs=1",
                  "cores used idle", "cores used busy"], rows)
    if args.write_docs:
        report.write_docs(args.write_docs)


if __name__ == "__main__":
    main()
