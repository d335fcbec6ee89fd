"""Tuning ``C`` by cross-validation: SoftmaxClassifierCV vs GridSearchCV and
LogisticRegressionCV.

For every problem, one table row: the wall time of ``SoftmaxClassifierCV``
(warm-started ``C`` paths), of ``GridSearchCV(SoftmaxClassifier)`` over the
same ``Cs`` and folds, and of ``LogisticRegressionCV(solver='lbfgs')`` with
the same ``Cs`` and folds, each including its refit; their ratios; and the
``C`` each selected (the comparison only holds at the same selected model).
All three score accuracy, run their fits one after the other (``n_jobs=None``:
each fit uses every core) and stop at the same ``tol`` and ``max_iter``.

Run ``python benchmarks/bench_path.py`` (``--quick`` for a smoke run;
``--max-samples`` caps the rows of each problem).
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

if __package__ in (None, ""):   # run as a script: see bench_fit.py
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Report, add_docs_option  # noqa: E402
from skmax import SoftmaxClassifier, SoftmaxClassifierCV  # noqa: E402

REAL = ["letter", "mnist", "20newsgroups"]


def load(name, max_samples, seed=0):
    """``(X, y)`` of a problem: letter standardised, MNIST pixels in [0, 1],
    20 Newsgroups as sparse TF-IDF; at most ``max_samples`` random rows."""
    from benchmarks import datasets

    if name == "20newsgroups":
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs, y = datasets.load_20newsgroups(subset="train", return_X_y=True)
        X = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(docs)
    elif name == "mnist":
        X, y = datasets.load_mnist(subset="test", return_X_y=True)
        X = np.asarray(X, dtype=np.float64) / 255.0
    else:
        X, y = datasets.load_letter(return_X_y=True)
        X = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    y = np.asarray(y)
    if max_samples and X.shape[0] > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(X.shape[0], max_samples,
                                                          replace=False))
        X, y = X[rows], y[rows]
    return X, y


def quick_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 20))
    y = (X[:, :4] @ rng.standard_normal((4, 4)) + rng.standard_normal((600, 4))).argmax(1)
    return X, y


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def path_row(label, X, y, Cs, n_folds, tol, max_iter):
    cv = StratifiedKFold(n_folds, shuffle=True, random_state=0)
    ours = SoftmaxClassifierCV(Cs=Cs, cv=cv, tol=tol, max_iter=max_iter)
    grid = GridSearchCV(SoftmaxClassifier(tol=tol, max_iter=max_iter), {"C": list(Cs)},
                        cv=cv)
    sk = LogisticRegressionCV(Cs=Cs, cv=cv, tol=tol, max_iter=max_iter, l1_ratios=(0.0,),
                              scoring="accuracy", use_legacy_attributes=False)
    # warm-up on a few hundred rows: one-time costs of the first call in a
    # process (thread pools, the BLAS library scan) land on no contender
    rows = np.random.default_rng(1).permutation(X.shape[0])[:min(X.shape[0], 500)]
    for est in (ours, grid, sk):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clone(est).set_params(**{"cv": 2}).fit(X[rows], y[rows])
    t_ours, _ = timed(lambda: ours.fit(X, y))
    t_grid, _ = timed(lambda: grid.fit(X, y))
    t_sk, _ = timed(lambda: sk.fit(X, y))
    C_sk = float(np.ravel(sk.C_)[0])
    return [label, f"{t_ours:.2f}", f"{t_grid:.2f}", f"{t_sk:.2f}",
            f"{t_ours / t_grid:.2f}", f"{t_ours / t_sk:.2f}",
            f"{ours.C_:.3g} / {grid.best_params_['C']:.3g} / {C_sk:.3g}",
            f"{int(ours.n_iters_.sum())}"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--n-Cs", type=int, default=10)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--max-samples", type=int, default=None,
                        help="random rows kept of each problem (default: all)")
    parser.add_argument("--problems", nargs="+", default=REAL, choices=REAL,
                        help="the real problems to run (default: all)")
    add_docs_option(parser)
    args = parser.parse_args(argv)
    n_Cs, folds = (3, 2) if args.quick else (args.n_Cs, args.folds)
    Cs = np.logspace(-4, 4, n_Cs)
    problems = [("synthetic 600x20 K=4", *quick_problem())] if args.quick else []
    if not args.quick:
        for name in args.problems:
            try:
                X, y = load(name, args.max_samples)
            except (ImportError, FileNotFoundError) as exc:
                print(f"skipping {name}: {exc}")
                continue
            kind = "sparse " if hasattr(X, "tocsr") else ""
            problems.append((f"{name} {kind}{X.shape[0]}x{X.shape[1]} K={len(np.unique(y))}",
                             X, y))
    report = Report("bench_path", f"{n_Cs} Cs in logspace(-4, 4), {folds} stratified folds, "
                    f"tol={args.tol}, max_iter={args.max_iter}, accuracy, one run each "
                    f"(max_samples={args.max_samples})")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        for label, X, y in problems:
            rows.append(path_row(label, X, y, Cs, folds, args.tol, args.max_iter))
            print(" ".join(rows[-1]), flush=True)
    print()
    report.table(["problem", "SoftmaxClassifierCV s", "GridSearchCV s",
                  "LogisticRegressionCV s", "vs GridSearchCV", "vs LogisticRegressionCV",
                  "selected C (ours / grid / LRCV)", "path iterations"], rows)
    if args.write_docs:
        report.write_docs(args.write_docs)
    return rows


if __name__ == "__main__":
    main()
