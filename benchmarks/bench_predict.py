"""Benchmark: prediction of a fitted linear softmax model, skmax against
scikit-learn, the numpy expression and the product alone.

Both models hold the same random weights (set, not fitted: prediction's cost
does not depend on how the weights were found). Columns: ``predict_proba`` of
``SoftmaxClassifier`` and of ``LogisticRegression``, the numpy expression
``softmax(X @ W.T + b)`` (max-shifted, in place), the product ``X @ W.T`` alone
(numpy's BLAS, or scipy.sparse), and skmax's ``predict``. Dense rows are
Gaussian; sparse rows are CSR with ``--nnz`` nonzeros among 1,000 columns.

Usage: python benchmarks/bench_predict.py [--quick] [--max-cells N] [--repeats R]
[--write-docs [PAGE]]
"""

import argparse
import os
import sys
import warnings

import numpy as np
import scipy.sparse as sp

if __package__ in (None, ""):   # run as a script: make `benchmarks` importable, but
    # append the repository root so an installed skmax wins over the source tree
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Report, add_docs_option, best_of_interleaved  # noqa: E402

# (n, d, K): the shapes (K = 10 at n = 200,000, d = 100; K = 1,000 at
# n = 100,000, d = 50) and the range of K between them
SIZES = [(200_000, 100, 10), (100_000, 50, 100), (100_000, 50, 1000), (10_000, 50, 10_000)]
QUICK_SIZES = [(2000, 20, 10), (500, 20, 1000)]
SPARSE_FEATURES = 1000


def _data(n, d, K, dtype, sparse, nnz, seed=0):
    rng = np.random.default_rng(seed)
    if sparse:
        d = SPARSE_FEATURES
        cols = rng.integers(0, d, size=(n, nnz))
        X = sp.csr_matrix((rng.normal(size=n * nnz).astype(dtype), cols.ravel(),
                           np.arange(0, n * nnz + 1, nnz)), shape=(n, d))
        X.sum_duplicates()
    else:
        X = rng.normal(size=(n, d)).astype(dtype)
    W = (rng.normal(size=(K, d)) / np.sqrt(min(d, nnz if sparse else d))).astype(dtype)
    b = rng.normal(size=K).astype(dtype)
    return X, W, b


def _models(W, b):
    """A SoftmaxClassifier and a LogisticRegression holding ``W, b``."""
    from sklearn.linear_model import LogisticRegression

    from skmax import SoftmaxClassifier

    ours, theirs = SoftmaxClassifier(), LogisticRegression()
    for model in (ours, theirs):
        model.coef_, model.intercept_ = W, b
        model.classes_ = np.arange(W.shape[0])
        model.n_features_in_ = W.shape[1]
    return ours, theirs


def _numpy_softmax(X, W, b):
    a = np.asarray(X @ W.T)
    a += b
    a -= a.max(axis=1, keepdims=True)
    np.exp(a, out=a)
    a /= a.sum(axis=1, keepdims=True)
    return a


def _contenders(X, W, b):
    """The timed calls, in the table's column order."""
    ours, theirs = _models(W, b)
    return [lambda: ours.predict_proba(X), lambda: theirs.predict_proba(X),
            lambda: _numpy_softmax(X, W, b), lambda: X @ W.T, lambda: ours.predict(X)]


def timing_rows(sizes, max_cells, repeats, nnz):
    rows = []
    for n, d, K in sizes:
        for sparse in (False, True):
            for dtype in (np.float64, np.float32):
                name = ("CSR" if sparse else "dense", np.dtype(dtype).name)
                if n * K > max_cells:
                    rows.append((n, d, K, *name, None))
                    continue
                X, W, b = _data(n, d, K, dtype, sparse, nnz)
                times = best_of_interleaved(_contenders(X, W, b),
                                            repeats)
                rows.append((n, X.shape[1], K, *name, times))
                X = None   # free the data before the next size
    return rows


def _ms(t):
    return f"{1000 * t:,.1f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--max-cells", type=float, default=1e8, help="skip n*K above this")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nnz", type=int, default=20, help="nonzeros per sparse row")
    add_docs_option(ap)
    args = ap.parse_args(argv)
    sizes, repeats = (QUICK_SIZES, 1) if args.quick else (SIZES, args.repeats)
    report = Report("bench_predict",
                    f"best of {repeats} (interleaved), times in ms, "
                    f"problems with n*K above {args.max_cells:.0e} skipped, "
                    f"sparse: {args.nnz} nonzeros per row among {SPARSE_FEATURES} columns")
    table = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, d, K, fmt, dt, times in timing_rows(sizes, args.max_cells, repeats, args.nnz):
            if times is None:
                table.append([n, d, K, fmt, dt, f"skipped (n*K > {args.max_cells:.0e})"]
                             + [""] * 7)
                continue
            proba, sk, npy, gemm, pred = times
            table.append([n, d, K, fmt, dt, _ms(proba), _ms(sk), _ms(npy), _ms(gemm), _ms(pred),
                          f"{proba / sk:.2f}", f"{proba / gemm:.2f}", f"{pred / gemm:.2f}"])
    report.table(["n", "d", "K", "X", "dtype", "skmax predict_proba", "sklearn predict_proba",
                  "numpy softmax(X @ W.T + b)", "X @ W.T alone", "skmax predict",
                  "proba / sklearn", "proba / product", "predict / product"], table)
    if args.write_docs:
        report.write_docs(args.write_docs)


if __name__ == "__main__":
    main()
