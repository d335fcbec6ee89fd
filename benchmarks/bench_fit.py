"""Fit time of SoftmaxClassifier vs scikit-learn's LogisticRegression(solver='lbfgs').

One run, one table: for every problem, the best-of-N fit time of each
estimator at the same ``C`` and ``tol`` (the N rounds interleave the
estimators, so a slow phase of the machine hits all of them), the final value of the same objective
``(sum_i l_i + ||W||^2 / (2C)) / n`` for both (evaluated in float64), and the
time ratio. A second table gives, per shape, the time of one loss+gradient
evaluation against the cost of the two BLAS products it needs (numpy, every
core) and against one read of ``X``, best of at least 5 interleaved calls.
A third table (its own section of the page, ``bench_fit_penalties``;
``--penalties-only`` runs just that one) times the L1
and elastic-net penalties (OWL-QN) against
``LogisticRegression(solver='saga')``, the only scikit-learn solver for
multinomial L1, with their final objectives and numbers of nonzero weights.

Sparse problems (CSR, never densified): 20 Newsgroups TF-IDF (``TfidfVectorizer``
defaults on the training documents) and ALOI, at ``C = 10``; like the other real
data sets they are skipped when absent (``benchmarks.datasets``).

Run ``python benchmarks/bench_fit.py`` (``--quick`` for a smoke run; the page's
tables: ``--repeats 5 --write-docs``).
"""

import argparse
import os
import sys
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

if __package__ in (None, ""):   # run as a script: make `benchmarks` importable, but
    # append the repository root so an installed skmax wins over the source tree
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import (  # noqa: E402
    Report,
    add_docs_option,
    best_of_interleaved,
)
from skmax import SoftmaxClassifier  # noqa: E402
from skmax._loss import SoftmaxLoss, n_threads_from_n_jobs  # noqa: E402
from skmax._objective import SoftmaxObjective  # noqa: E402
from skmax._softmax import rows_per_class  # noqa: E402

SYNTHETIC = [(100_000, 100, 10), (50_000, 784, 10), (20_000, 100, 100), (10_000, 50, 1000)]
QUICK = [(2_000, 20, 5), (1_000, 10, 50)]
REAL = ["letter", "pendigits", "optdigits", "mnist"]
# largest n * d on which the penalties are timed against saga (its fits are slow)
PENALTY_MAX_SIZE = 5_000_000
SPARSE = ["20newsgroups", "aloi"]
SPARSE_C = 10.0


def synthetic(n, d, K, dtype, seed=0):
    """Gaussian features, labels drawn from a random softmax model (not separable)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((K, d)) * (2.0 / np.sqrt(d))
    logits = X @ W.T
    logits -= logits.max(1, keepdims=True)
    P = np.exp(logits)
    P /= P.sum(1, keepdims=True)
    y = (P.cumsum(1) > rng.random((n, 1))).argmax(1)
    return X.astype(dtype), y


def real(name, dtype):
    from benchmarks import datasets

    loader = getattr(datasets, f"load_{name}")
    kwargs = {"subset": "test"} if name == "mnist" else {}
    X, y = loader(return_X_y=True, **kwargs)
    X = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    return X.astype(dtype), y


def sparse_real(name, dtype):
    """CSR features of a sparse benchmark problem: ``(X, y)``."""
    from benchmarks import datasets

    if name == "20newsgroups":
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs, y = datasets.load_20newsgroups(subset="train", return_X_y=True)
        return TfidfVectorizer(dtype=dtype).fit_transform(docs), np.asarray(y)
    X, y = datasets.load_aloi(subset="train", return_X_y=True, dtype=dtype)
    return sp.csr_matrix(X), np.asarray(y)


def objective(model, X, y, C, l1_ratio=0.0):
    """Float64 objective (mean loss + penalty / n) of a fitted multinomial model."""
    X = X.astype(np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    classes, y_enc = np.unique(y, return_inverse=True)
    W, b = rows_per_class(model.coef_, model.intercept_)   # binary: two rows
    obj = SoftmaxObjective(X, y_enc, np.ones(len(y)), len(classes), SoftmaxLoss(), C=C,
                           l1_ratio=l1_ratio)
    coef = np.concatenate([W.ravel(), b])
    return obj.loss_gradient(coef)[0] + obj.l1_weights() @ np.abs(coef)


def fit_row(label, X, y, C, tol, max_iter, repeats, solvers=("lbfgs", "newton-cg")):
    rows = []
    sk = LogisticRegression(C=C, tol=tol, max_iter=max_iter)
    ours = [SoftmaxClassifier(C=C, tol=tol, max_iter=max_iter, solver=s) for s in solvers]
    t_sk, *t_ours = best_of_interleaved(
        [lambda: sk.fit(X, y)] + [lambda m=m: m.fit(X, y) for m in ours], repeats)
    f_sk = objective(sk, X, y, C)
    for solver, model, t in zip(solvers, ours, t_ours, strict=True):
        f = objective(model, X, y, C)
        rows.append([label, str(X.dtype), solver, f"{t:.3f}", f"{t_sk:.3f}", f"{t / t_sk:.2f}",
                     f"{f:.8g}", f"{f_sk:.8g}", f"{(f - f_sk) / abs(f_sk):+.1e}",
                     f"{int(model.n_iter_[0])}/{int(np.max(sk.n_iter_))}"])
    return rows


def penalty_rows(label, X, y, C, tol, max_iter, repeats):
    """L1 and elastic net: skmax (OWL-QN) vs LogisticRegression(solver='saga')."""
    rows = []
    for penalty, l1_ratio in (("l1", 1.0), ("elasticnet", 0.5)):
        ours = SoftmaxClassifier(penalty=penalty, l1_ratio=l1_ratio, C=C, tol=tol,
                                 max_iter=max_iter)
        saga = LogisticRegression(l1_ratio=l1_ratio, C=C, tol=tol, max_iter=max_iter,
                                  solver="saga")
        t_ours, t_saga = best_of_interleaved(
            [lambda m=ours: m.fit(X, y), lambda m=saga: m.fit(X, y)], repeats)
        f, f_saga = (objective(m, X, y, C, l1_ratio) for m in (ours, saga))
        rows.append([label, str(X.dtype), penalty, f"{t_ours:.3f}", f"{t_saga:.3f}",
                     f"{t_ours / t_saga:.2f}", f"{f:.8g}", f"{f_saga:.8g}",
                     f"{(f - f_saga) / abs(f_saga):+.1e}",
                     f"{np.count_nonzero(ours.coef_)}/{np.count_nonzero(saga.coef_)}"])
    return rows


def evaluation_row(label, X, y, repeats):
    """One loss+gradient evaluation vs the two GEMMs vs one read of X."""
    K = len(np.unique(y))
    n, d = X.shape
    y_enc = np.unique(y, return_inverse=True)[1]
    rng = np.random.default_rng(0)
    coef = rng.standard_normal(K * (d + 1)) * 0.01
    W = coef[: K * d].reshape(K, d).astype(X.dtype)
    values = X.data if sp.issparse(X) else X
    n_threads = n_threads_from_n_jobs(None)
    blas = ThreadpoolController()

    def gemms():
        # the objective holds BLAS at one thread while open; numpy's products
        # get every core, as outside a fit
        with blas.limit(limits=n_threads, user_api="blas"):
            (X @ W.T).T @ X

    with SoftmaxObjective(X, y_enc, np.ones(n), K, SoftmaxLoss(), C=1.0,
                          n_threads=n_threads) as obj:
        obj.loss_gradient(coef)     # first call: thread pool, page faults
        # best of max(repeats, 5), the three interleaved with rests between
        # (benchmarks/_common.py): one median of a few calls was noisy here
        t_eval, t_gemm, t_read = best_of_interleaved(
            [lambda: obj.loss_gradient(coef), gemms,
             lambda: np.add.reduce(values, axis=None)], max(repeats, 5))
    return [label, str(X.dtype), f"{t_eval * 1e3:.2f}", f"{t_gemm * 1e3:.2f}",
            f"{t_read * 1e3:.2f}", f"{t_eval / t_gemm:.2f}", f"{t_eval / t_read:.1f}"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--penalties-only", action="store_true",
                        help="only the L1 / elastic-net table (its own section)")
    parser.add_argument("--skip-penalties", action="store_true",
                        help="leave out the L1 / elastic-net table (and its docs section)")
    parser.add_argument("--problems", nargs="+", metavar="NAME",
                        help="only the problems whose label starts with one of these "
                             "(e.g. synthetic mnist 20newsgroups aloi)")
    parser.add_argument("--solvers", nargs="+", default=["lbfgs", "newton-cg"],
                        choices=["lbfgs", "newton-cg"], help="skmax solvers to time")
    add_docs_option(parser)
    args = parser.parse_args(argv)
    shapes = QUICK if args.quick else [] if args.penalties_only else SYNTHETIC
    repeats = 1 if args.quick else args.repeats

    problems = []    # (label, X, y, C)
    for n, d, K in shapes:
        for dtype in (np.float64, np.float32):
            problems.append((f"synthetic n={n} d={d} K={K}", *synthetic(n, d, K, dtype), args.C))
    loaders = [(name, real, args.C) for name in REAL]
    if not args.penalties_only:
        loaders += [(name, sparse_real, SPARSE_C) for name in SPARSE]

    def wanted(label):
        return args.problems is None or label.startswith(tuple(args.problems))

    problems = [p for p in problems if wanted(p[0])]
    for name, load, C in [] if args.quick or args.no_real else loaders:
        if not wanted(name):
            continue
        for dtype in (np.float64, np.float32):
            try:
                X, y = load(name, dtype)
            except (ImportError, FileNotFoundError) as exc:
                print(f"skipping {name}: {exc}")
                break
            kind = f" (sparse, C={C:g})" if sp.issparse(X) else ""
            problems.append((f"{name}{kind} {X.shape[0]}x{X.shape[1]} K={len(np.unique(y))}",
                             X, y, C))

    only = "" if args.problems is None else f", problems: {' '.join(args.problems)}"
    settings = (f"C={args.C}, tol={args.tol}, max_iter={args.max_iter}, best of {repeats} "
                "(interleaved: one fit of each estimator per round)" + only)
    # saga's time grows with n * d, and it fits float32 in float64: the penalty
    # rows are the dense float64 problems up to PENALTY_MAX_SIZE
    penalty_problems = [(label, X, y) for label, X, y, _ in problems
                        if X.dtype == np.float64 and not sp.issparse(X)
                        and X.size <= PENALTY_MAX_SIZE and not args.skip_penalties]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        penalty_table = []
        for label, X, y in penalty_problems:
            penalty_table += penalty_rows(label, X, y, args.C, args.tol, args.max_iter, repeats)
            for row in penalty_table[-2:]:      # progress; the tables follow
                print(" ".join(row[:6]), flush=True)
        penalties = Report("bench_fit_penalties", settings)
        penalties.table(["problem", "dtype", "penalty", "skmax s", "saga s", "ratio",
                         "objective skmax", "objective saga", "rel. diff",
                         "nonzeros skmax/saga"], penalty_table)
        if args.write_docs and not args.skip_penalties:
            penalties.write_docs(args.write_docs)
        if args.penalties_only:
            return penalty_table, []
        fit_rows, eval_rows = [], []
        for label, X, y, C in problems:
            fit_rows += fit_row(label, X, y, C, args.tol, args.max_iter, repeats,
                                tuple(args.solvers))
            eval_rows.append(evaluation_row(label, X, y, max(3, repeats)))
            for row in fit_rows[-len(args.solvers):]:
                print(" ".join(row[:6]), flush=True)
    print()
    report = Report("bench_fit", settings)
    report.table(["problem", "dtype", "solver", "skmax s", "sklearn s", "ratio",
                  "objective skmax", "objective sklearn", "rel. diff", "iters skmax/sklearn"],
                 fit_rows)
    report.table(["problem", "dtype", "loss+grad ms", "2 GEMMs ms", "read X ms",
                  "eval / GEMMs", "eval / read"], eval_rows, plot="eval / GEMMs, eval / read")
    if args.write_docs:
        report.write_docs(args.write_docs)
    return fit_rows, eval_rows

if __name__ == "__main__":
    main()
