"""Benchmark: TemperatureCalibrator.fit vs scikit-learn's temperature scaling.

scikit-learn side: ``sklearn.calibration._TemperatureScaling().fit(scores, y)``, the
helper that ``CalibratedClassifierCV(method='temperature')`` calls on the
out-of-fold scores (so no classifier fitting or cross-validation is timed on
either side; both include their input validation). Both get the same logits;
the NLL of both temperatures is recomputed by one float64 reference.

Usage: python benchmarks/bench_calibration.py [--quick] [--max-cells N] [--repeats R]
[--write-docs [PAGE]] (the page's tables: ``--max-cells 2e7``).
"""

import argparse
import os
import sys
import warnings

import numpy as np

if __package__ in (None, ""):   # run as a script: make `benchmarks` importable, but
    # append the repository root so an installed skmax wins over the source tree
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Report, add_docs_option, best_of  # noqa: E402


def _nll(L, y, beta):
    from skmax import _temperature_kernels

    f = _temperature_kernels.temperature_nll(
        np.ascontiguousarray(L), y.astype(np.int32), None, float(beta), 1)[0]
    return f / len(y)


def _scores(n, K, dtype, seed=0):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, K, n)
    L = rng.standard_normal((n, K)).astype(dtype)
    L *= 2.0
    L[np.arange(n), y] += 3.0
    L *= 2.5  # overconfident: optimum T around 2-3
    return L, y


def timing_table(sizes, dtypes, max_cells, repeats):
    from sklearn.calibration import _TemperatureScaling

    from skmax import TemperatureCalibrator

    rows = []
    for n, K in sizes:
        for dtype in dtypes:
            if n * K > max_cells:
                rows.append((n, K, np.dtype(dtype).name, None))
                continue
            L, y = _scores(n, K, dtype)
            r = 1 if n * K >= 5e7 else repeats
            t_ours, cal = best_of(
                lambda L=L, y=y: TemperatureCalibrator(input="logits").fit(L, y), r)
            t_sk, sk = best_of(lambda L=L, y=y: _TemperatureScaling().fit(L, y), r)
            nll_o, nll_s = _nll(L, y, cal.beta_), _nll(L, y, float(sk.beta_))
            rows.append((n, K, np.dtype(dtype).name, (t_ours, t_sk, nll_o, nll_s, cal.n_iter_)))
            L = None   # free the scores before the next size
    return rows


def ece_table(quick):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    from benchmarks.datasets import load_dataset
    from skmax import TemperatureCalibratedClassifier
    from skmax.metrics import expected_calibration_error

    data = []
    names = ["digits"] if quick else ["letter", "pendigits", "optdigits", "shuttle"]
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # fallback notice: the name says it
            if name == "digits":
                X, y = load_digits(return_X_y=True)
                used = "digits"
            else:
                X, y, used = load_dataset(name, fallback="digits")
        if used not in [d[0] for d in data]:
            data.append((used, X, y))
    out = []
    for name, X, y in data:
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
        hgb = HistGradientBoostingClassifier(max_iter=30 if quick else 100, random_state=0)
        p0 = hgb.fit(Xtr, ytr).predict_proba(Xte)
        cal = TemperatureCalibratedClassifier(hgb, cv=3).fit(Xtr, ytr)
        p1 = cal.predict_proba(Xte)
        out.append((name, expected_calibration_error(yte, p0), expected_calibration_error(yte, p1),
                    float(cal.temperatures_[0])))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--max-cells", type=float, default=1e8, help="skip n*K above this")
    ap.add_argument("--repeats", type=int, default=3)
    add_docs_option(ap)
    args = ap.parse_args(argv)
    if args.quick:
        sizes, repeats = [(2000, 10), (2000, 100)], 1
    else:
        sizes = [(n, K) for n in (10_000, 100_000, 1_000_000) for K in (10, 100, 1000)]
        sizes.insert(5, (200_000, 100))
        repeats = args.repeats
    report = Report("bench_calibration",
                    f"best of {repeats}, problems with n*K above {args.max_cells:.0e} skipped")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, K, dt, r in timing_table(sizes, (np.float64, np.float32), args.max_cells, repeats):
            if r is None:
                rows.append([n, K, dt, f"skipped (n*K > {args.max_cells:.0e})", "", "", "", "", ""])
                continue
            t_o, t_s, nll_o, nll_s, it = r
            rows.append([n, K, dt, f"{t_o:.4f}", f"{t_s:.4f}", f"{t_o / t_s:.3f}",
                         f"{nll_o:.10f}", f"{nll_s:.10f}", it])
        report.table(["n", "K", "dtype", "skmax fit (s)", "sklearn fit (s)", "ratio",
                      "skmax NLL", "sklearn NLL", "passes"], rows)
        report.table(["dataset", "ECE HGB", "ECE HGB + temperature", "T"],
                     [[name, f"{e0:.4f}", f"{e1:.4f}", f"{T:.3f}"]
                      for name, e0, e1, T in ece_table(args.quick)],
                     plot="ECE HGB, ECE HGB + temperature")
    if args.write_docs:
        report.write_docs(args.write_docs)

if __name__ == "__main__":
    main()
