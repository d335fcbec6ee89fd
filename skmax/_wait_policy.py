"""OpenMP workers sleep between parallel regions: set before any kernel loads.

1. By default libgomp's workers spin for a while after each parallel region,
   waiting for the next one. On a machine where another process holds a core,
   a spinning worker takes the time slices the thread with the remaining work
   (or the Python thread between regions) needs, and every region waits a
   scheduler time slice: a fit or a calibration that runs in milliseconds
   idle becomes several times slower (issue #20, item 13). A passive worker
   sleeps on a futex instead; waking it costs microseconds per region, which
   the kernels' regions (sized by ``_threads.threads_for``) pay for.
2. The policy is read once, when the OpenMP runtime loads, so it is set here,
   first thing in ``skmax/__init__``, and only if the user has not chosen one
   (``OMP_WAIT_POLICY`` or libgomp's ``GOMP_SPINCOUNT`` set): their setting
   wins. If another library loaded the same runtime first, its setting stays.
3. Child processes (joblib's workers) inherit it, which is what they need too.
"""

import os

if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
