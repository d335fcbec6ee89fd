"""Threads of the compiled kernels and of BLAS: one module owns the rules.

1. ``n_jobs`` maps to an OpenMP thread count as in joblib (``None``: OpenMP's
   default, which honours ``OMP_NUM_THREADS`` as joblib sets it in its workers,
   so nested parallelism does not oversubscribe; negative: counted back from
   the number of CPUs), capped at the number of CPUs: more threads only
   compete for the cores, and a huge count overflows the kernels' ``int``.
2. One small-block rule for every parallel call (the loss's row kernels, the
   minibatch step, calibration, the objective's row chunks): a block gets one
   more thread per ``MIN_WORK_PER_THREAD`` units of work, up to the thread
   count. Waking a team of OpenMP workers (which spin, and fight any other
   process for the cores) costs more than the rows of a small block. Work is
   counted in logit entries; callers with costlier rows weight them.
3. BLAS runs on one thread around the kernels' evaluations: the small,
   tall-skinny products scale better over row chunks than inside BLAS, and the
   OpenMP and BLAS pools never compete for the cores. The limit is a context
   entered per use, never state an object must carry (objectives stay
   picklable). The controller is created once per process: scanning the loaded
   libraries is slow, limiting a known one is not.
Measured costs live in ``docs/benchmarks.md``.
"""

import joblib
from threadpoolctl import ThreadpoolController

from . import _kernels

#: Units of work (logit entries) that pay for one more thread (note 2).
MIN_WORK_PER_THREAD = 1 << 16

_CONTROLLER = None


def n_threads_from_n_jobs(n_jobs):
    """OpenMP thread count for ``n_jobs`` (note 1): from 1 to the CPU count."""
    n_cpus = joblib.cpu_count()
    if n_jobs is None:
        n_threads = _kernels.openmp_max_threads()
    elif n_jobs < 0:
        n_threads = n_cpus + 1 + n_jobs
    else:
        n_threads = n_jobs
    return max(1, min(int(n_threads), n_cpus))


def threads_for(n_threads, work):
    """Threads for a block of ``work`` logit entries (note 2): one, plus one per
    further ``MIN_WORK_PER_THREAD``, at most ``n_threads``."""
    return max(1, min(int(n_threads), int(work) // MIN_WORK_PER_THREAD + 1))


def limit_blas_threads():
    """Context manager that runs BLAS on one thread inside its block (note 3)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")
