"""Benchmark: the distributed fit on dask input vs the in-memory fit, and dask-ml.

On a ``LocalCluster`` of 2 single-thread worker processes (the in-memory fit
gets the same 2 cores as OpenMP threads):

1. dense float32 (the page: 2M x 100, K = 10, 100k-row chunks) persisted on
   the workers: fit time against the in-memory fit of the same arrays,
   iterations, objective difference, per-evaluation overhead;
2. sparse CSR chunks, the same comparison;
3. ``dask_ml.linear_model.LogisticRegression`` (lbfgs) on a binary version of
   the data (time, and its coefficients' objective under skmax's binary
   objective), and on the K-class labels (the accuracy it reaches);
4. a dataset generated lazily on the workers, larger than a data-size limit
   set on the client process (``RLIMIT_DATA``): client and worker peak RSS.

The data are generated block by block from seeds, so the client's numpy copy
and the workers' chunks are the same numbers.

Usage: python benchmarks/bench_dask.py [--quick] [--write-docs [PAGE]]
"""

import argparse
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

if __package__ in (None, ""):   # run as a script: make `benchmarks` importable, but
    # append the repository root so an installed skmax wins over the source tree
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Report, add_docs_option  # noqa: E402


def _block(i, rows, d, K, seed, density=None):
    """Block ``i`` of a synthetic multinomial problem: ``(X, y)``."""
    import scipy.sparse as sp

    W = np.random.default_rng(seed).standard_normal((K, d)) * (2.0 / np.sqrt(d))
    rng = np.random.default_rng([seed, i])
    if density is None:
        X = rng.standard_normal((rows, d), dtype=np.float32)
    else:
        X = sp.random(rows, d, density=density, format="csr", random_state=rng,
                      dtype=np.float64) * np.sqrt(1 / density)
        X.data = X.data.astype(np.float64)
    logits = np.asarray(X @ W.T) + rng.gumbel(size=(rows, K))
    return X, logits.argmax(axis=1)


def _dataset(n, d, K, chunk, seed=0, density=None):
    """``(dask X, dask y)`` generated lazily on the workers, block by block."""
    import dask.array as da
    from dask import delayed

    X_blocks, y_blocks = [], []
    for i, start in enumerate(range(0, n, chunk)):
        rows = min(chunk, n - start)
        block = delayed(_block, pure=True, nout=2)(i, rows, d, K, seed, density)
        meta = None
        if density is not None:
            import scipy.sparse as sp
            meta = sp.csr_matrix((0, d))
        dtype = np.float32 if density is None else np.float64
        X_blocks.append(da.from_delayed(block[0], (rows, d), dtype=dtype, meta=meta))
        y_blocks.append(da.from_delayed(block[1], (rows,), dtype=np.int64))
    return da.concatenate(X_blocks), da.concatenate(y_blocks)


def _numpy_dataset(n, d, K, chunk, seed=0, density=None):
    import scipy.sparse as sp

    parts = [_block(i, min(chunk, n - s), d, K, seed, density)
             for i, s in enumerate(range(0, n, chunk))]
    X = (sp.vstack([p[0] for p in parts], format="csr") if density is not None
         else np.concatenate([p[0] for p in parts]))
    return X, np.concatenate([p[1] for p in parts])


def _objective(clf, X, y):
    """skmax's objective of ``clf``'s parameters on ``X`` (float64 sums)."""
    from skmax._loss import SoftmaxLoss
    from skmax._objective import SoftmaxObjective

    W, b = clf._rows_per_class()
    obj = SoftmaxObjective(X, np.searchsorted(clf.classes_, y), np.ones(len(y)),
                           len(clf.classes_), SoftmaxLoss(), C=clf.C)
    with obj:
        return obj.loss_gradient(np.concatenate([W.ravel(), b]))[0]


def _timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _evaluation_overhead(client, n_chunks, d, K, repeats=20):
    """Median seconds of one distributed evaluation over ``n_chunks`` tiny
    chunks: the per-iteration cost of the round trip alone."""
    import dask.array as da
    from dask import delayed

    from skmax._dask import DistributedObjective, _build_chunk, _raw_chunk
    from skmax._loss import SoftmaxLoss

    X = da.random.standard_normal((8 * n_chunks, d), chunks=(8, d)).astype(np.float32)
    y = da.arange(8 * n_chunks, chunks=8) % K
    raw = client.compute([delayed(_raw_chunk)(xb, yb, None)
                          for xb, yb in zip(X.to_delayed().ravel(), y.to_delayed().ravel())])
    states = client.map(_build_chunk, raw, classes=np.arange(K), k=0, class_weights=None,
                        n_jobs=1, loss=SoftmaxLoss(), fit_intercept=True, low_memory=False)
    del raw
    objective = DistributedObjective(client, states, 8 * n_chunks, d, K, 8.0 * n_chunks,
                                     1.0, True)
    coef = np.zeros(objective.n_params)
    objective.loss_gradient(coef)    # finds where the chunks live
    times = [_timed(lambda: objective.loss_gradient(coef))[0] for _ in range(repeats)]
    client.cancel(states)
    return float(np.median(times))


def _round_trip(client, repeats=20):
    """Median seconds of submitting one no-op task and fetching its result."""
    return float(np.median([_timed(lambda: client.submit(int, pure=False).result())[0]
                            for _ in range(repeats)]))


def _warm_up(client):
    """A tiny fit, so that the timings below exclude the workers' imports."""
    from skmax import SoftmaxClassifier

    X, y = _dataset(1000, 5, 3, 250)
    SoftmaxClassifier().fit(X, y)


def _fmt(seconds):
    return f"{seconds:.2f}"


class _EvaluationClock:
    """Times the calls of ``cls.<names>`` on the client (patched while open):
    the start of the first call, and each call's duration."""

    def __init__(self, cls, *names):
        self.cls, self.names = cls, names
        self.first, self.durations = None, []

    def __enter__(self):
        self.originals = {name: getattr(self.cls, name) for name in self.names}
        for name, original in self.originals.items():
            setattr(self.cls, name, self._timed(original))
        return self

    def _timed(self, original):
        def timed(obj, *args, **kwargs):
            start = time.perf_counter()
            self.first = start if self.first is None else self.first
            result = original(obj, *args, **kwargs)
            self.durations.append(time.perf_counter() - start)
            return result
        return timed

    def __exit__(self, *exc):
        for name, original in self.originals.items():
            setattr(self.cls, name, original)


def compare_fits(client, name, n, d, K, chunk, density, solver, tol, max_iter, rows):
    """In-memory vs distributed fit on the same data; appends a table row."""
    from distributed import wait

    from skmax import SoftmaxClassifier
    from skmax._dask import DistributedObjective
    from skmax._objective import SoftmaxObjective

    X, y = _numpy_dataset(n, d, K, chunk, density=density)
    dX, dy = client.persist(list(_dataset(n, d, K, chunk, density=density)))
    client.wait_for_workers(2)
    wait([dX, dy])
    params = dict(solver=solver, tol=tol, max_iter=max_iter)
    with _EvaluationClock(SoftmaxObjective, "loss_gradient", "hessp") as in_memory:
        t_mem, memory = _timed(lambda: SoftmaxClassifier(n_jobs=2, **params).fit(X, y))
    with _EvaluationClock(DistributedObjective, "_reduce") as on_dask:
        start = time.perf_counter()
        t_dist, dist = _timed(lambda: SoftmaxClassifier(**params).fit(dX, dy))
    f_mem, f_dist = _objective(memory, X, y), _objective(dist, X, y)
    per_eval_mem = np.mean(in_memory.durations)
    per_eval_dist = np.mean(on_dask.durations)
    rows.append((name, f"{n:,} x {d}, K={K}", f"{chunk:,}", solver, _fmt(t_mem),
                 _fmt(t_dist), f"{t_dist / t_mem:.2f}",
                 f"{memory.n_iter_[0]} / {dist.n_iter_[0]}",
                 f"{len(in_memory.durations)} / {len(on_dask.durations)}",
                 _fmt(on_dask.first - start),
                 f"{1e3 * per_eval_mem:.0f} / {1e3 * per_eval_dist:.0f}",
                 f"{1e3 * (per_eval_dist - per_eval_mem):.0f}",
                 f"{abs(f_dist - f_mem) / abs(f_mem):.1e}"))
    client.cancel([dX, dy])
    return X, y


def dask_ml_rows(client, X, y, chunk, C, rows):
    """dask-ml's LogisticRegression on the binary and the K-class labels."""
    import dask.array as da

    from skmax import SoftmaxClassifier
    try:
        from dask_ml.linear_model import LogisticRegression
    except ImportError:
        rows.append(("dask-ml not installed", "", "", "", ""))
        return
    n_train = int(0.8 * len(y))
    dX = client.persist(da.from_array(X[:n_train], chunks=(chunk, X.shape[1])))
    warnings.filterwarnings("ignore", category=RuntimeWarning)   # dask-glm's exp overflows
    for kind, labels in [("binary", (y >= y.max() / 2).astype(np.int64)), ("multiclass", y)]:
        dy = client.persist(da.from_array(labels[:n_train], chunks=chunk))
        t_ml, ml = _timed(lambda dy=dy: LogisticRegression(solver="lbfgs", C=2 * C,
                                                           max_iter=100).fit(dX, dy))
        t_ours, ours = _timed(lambda dy=dy: SoftmaxClassifier(C=C).fit(dX, dy))
        test = X[n_train:]
        ml_pred = np.asarray(ml.predict(test))
        acc_ml = float(np.mean(ml_pred == labels[n_train:]))
        acc_ours = float(np.mean(ours.predict(test) == labels[n_train:]))
        if kind == "binary":
            proxy = SoftmaxClassifier(C=C)
            proxy.classes_ = np.array([0, 1])
            proxy.coef_ = np.asarray(ml.coef_, dtype=np.float64).reshape(1, -1)
            proxy.intercept_ = np.atleast_1d(np.asarray(ml.intercept_, dtype=np.float64))
            f_ml = _objective(proxy, X[:n_train], labels[:n_train])
            f_ours = _objective(ours, X[:n_train], labels[:n_train])
            objective = f"{f_ml:.6f} vs {f_ours:.6f}"
        else:
            objective = (f"classes_={getattr(ml, 'classes_', None)}, "
                         f"predictions {ml_pred.dtype}")
        rows.append((kind, _fmt(t_ml), _fmt(t_ours), f"{acc_ml:.3f} / {acc_ours:.3f}",
                     objective))
        client.cancel(dy)
    client.cancel(dX)


def _peak_rss_mb():
    """This process's peak RSS (``VmHWM``): ``ru_maxrss`` would include the
    peak of the process that forked it (Linux keeps it across ``exec``), here
    the benchmark holding its in-memory data."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def lazy_case(address, n, d, K, chunk, limit_mb, max_iter):
    """Run in a fresh process under ``RLIMIT_DATA`` (the workers, started by
    the parent, are not limited): fit on data generated lazily on the workers;
    print one table row's fields."""
    resource.setrlimit(resource.RLIMIT_DATA, (limit_mb << 20, limit_mb << 20))
    from distributed import Client

    from skmax import SoftmaxClassifier

    with Client(address) as client:
        _warm_up(client)
        dX, dy = _dataset(n, d, K, chunk)
        t, clf = _timed(lambda: SoftmaxClassifier(max_iter=max_iter).fit(dX, dy))
        workers = client.run(_peak_rss_mb)
    data_mb = n * d * 4 / 2**20
    print("LAZY", f"{n:,} x {d} float32", f"{data_mb:,.0f}", limit_mb,
          f"{_peak_rss_mb():,.0f}", f"{100 * _peak_rss_mb() / data_mb:.1f}%",
          " / ".join(f"{v:,.0f}" for v in workers.values()), int(clf.n_iter_[0]), _fmt(t),
          sep="\t")


def run_lazy_case(n, d, K, chunk, limit_mb, max_iter):
    """:func:`lazy_case` in a subprocess, on a fresh cluster (fresh peak RSS)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--lazy", cluster.scheduler_address,
             *map(str, (n, d, K, chunk, limit_mb, max_iter))],
            capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"the lazy case failed:\n{proc.stderr[-3000:]}")
    return next(line for line in proc.stdout.splitlines() if line.startswith("LAZY"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--lazy-n", type=int, default=10_000_000)
    parser.add_argument("--client-limit-mb", type=int, default=1024)
    parser.add_argument("--lazy", nargs=7, help=argparse.SUPPRESS)
    add_docs_option(parser)
    args = parser.parse_args()
    if args.lazy:
        return lazy_case(args.lazy[0], *map(int, args.lazy[1:]))
    if args.quick:
        args.n, args.chunk, args.lazy_n = 20_000, 2_500, 100_000
    from distributed import Client, LocalCluster

    d, K = 100, 10
    report = Report("bench_dask", "LocalCluster(n_workers=2, threads_per_worker=1) against "
                    "the in-memory fit with n_jobs=2 on the same 2 cores; tol=1e-4, C=1.")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        _warm_up(client)
        rows = []
        X, y = compare_fits(client, "dense float32", args.n, d, K, args.chunk, None, "lbfgs",
                            1e-4, 100, rows)
        compare_fits(client, "dense float32", args.n, d, K, args.chunk, None, "newton-cg",
                     1e-4, 100, rows)
        compare_fits(client, "sparse CSR 1%", args.n // 4, 1000, K, args.chunk // 4, 0.01,
                     "lbfgs", 1e-4, 100, rows)
        report.table(["data", "shape", "chunk rows", "solver", "in memory (s)", "dask (s)",
                      "ratio", "iterations (mem / dask)", "evaluations (mem / dask)",
                      "dask setup (s)", "per evaluation, mem / dask (ms)",
                      "overhead per evaluation (ms)", "objective rel. diff"], rows)
        n_chunks = -(-args.n // args.chunk)
        overhead = _evaluation_overhead(client, n_chunks, d, K)
        report.add(f"A distributed evaluation over {n_chunks} chunks of 8 rows (the "
                   f"round trip alone, median of 20): {1e3 * overhead:.0f} ms; one no-op "
                   f"task submitted and fetched: {1e3 * _round_trip(client):.0f} ms.")
        ml_rows = []
        dask_ml_rows(client, X, y, args.chunk, 1.0, ml_rows)
        report.table(["labels", "dask-ml (s)", "skmax on dask (s)",
                      "held-out accuracy (dask-ml / skmax)",
                      "objective (dask-ml vs skmax) / what dask-ml returns"], ml_rows)
        del X, y
    fields = run_lazy_case(args.lazy_n, d, K, args.chunk, args.client_limit_mb, 1)
    report.table(["lazy data (on the workers)", "size (MB)", "client RLIMIT_DATA (MB)",
                  "client peak RSS (MB)", "client peak / data size",
                  "worker peak RSS (MB)", "iterations", "fit (s)"],
                 [fields.split("\t")[1:]])
    if args.write_docs:
        report.write_docs(args.write_docs)


if __name__ == "__main__":
    main()
