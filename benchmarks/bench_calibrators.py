"""Benchmark: skmax's calibrators against scikit-learn's and probmetrics' on real data.

For each dataset and base model (HistGradientBoosting, RandomForest, an
overfit SoftmaxClassifier, an MLP) the model is trained on one part of the
training rows, and every calibrator is fitted on the model's probabilities
for a second, disjoint part (the calibration set) and scored on the test set:
test NLL, Brier score, top-label and classwise ECE (15 bins), smooth ECE
(top-label) and the calibrator's fit time (one fit; seconds).

Peers: scikit-learn's ``CalibratedClassifierCV`` on the frozen scores
(sigmoid, isotonic, temperature), ``probmetrics`` (temperature scaling, SMS,
SVS) when it imports, ``dirichletcal`` when it imports. Base-model scores
are cached under ``/tmp/skmax_bench_calibrators`` (delete it to retrain).

Usage: python benchmarks/bench_calibrators.py [--quick] [--datasets a,b] [--models a,b]
[--write-docs [PAGE]]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

if __package__ in (None, ""):   # run as a script: make `benchmarks` importable, but
    # append the repository root so an installed skmax wins over the source tree
    sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Report, add_docs_option  # noqa: E402

CACHE = "/tmp/skmax_bench_calibrators"
DATASETS = ["letter", "pendigits", "optdigits", "shuttle", "mnist", "aloi"]
MODELS = ["hgb", "rf", "softmax", "mlp"]
# rows of each split after subsampling (2 shared cores: models stay small)
SIZES = {"model": 6000, "calibration": 4000, "test": 5000}
# ALOI has 1,000 classes: more rows so each class has a few in every split
ALOI_SIZES = {"model": 30000, "calibration": 10000, "test": 5000}
# classes from which a full K x K matrix (K^2 parameters) is not fitted
MAX_MATRIX_CLASSES = 200
# dirichletcal (jax) takes minutes per fit on a few thousand rows: it runs on these only
DIRICHLETCAL_CONFIGS = {("letter", "hgb"), ("shuttle", "hgb"), ("pendigits", "softmax")}


# ---------------------------------------------------------------------------
# Data and base models
# ---------------------------------------------------------------------------


def _subsample(X, y, n, seed):
    if len(y) <= n:
        return X, y
    from sklearn.model_selection import train_test_split

    counts = np.unique(y, return_counts=True)[1]
    keep, _ = train_test_split(np.arange(len(y)), train_size=n, random_state=seed,
                               stratify=y if counts.min() >= 2 else None)
    return X[keep], y[keep]


def load_splits(name, quick):
    """Model, calibration and test rows of a dataset (labels encoded 0..K-1)."""
    from sklearn.model_selection import train_test_split

    from benchmarks.datasets import load_train_test

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a fallback says so in its name
        X_train, X_test, y_train, y_test, used = load_train_test(
            name, fallback="digits", dtype=np.float32)
    classes, y_all = np.unique(np.concatenate([y_train, y_test]), return_inverse=True)
    y_train, y_test = y_all[: len(y_train)], y_all[len(y_train):]
    sizes = ALOI_SIZES if name == "aloi" else SIZES
    if quick:
        sizes = {k: min(v, 600) for k, v in sizes.items()}
    counts = np.bincount(y_train)
    X_model, X_cal, y_model, y_cal = train_test_split(
        X_train, y_train, train_size=0.6, random_state=0,
        stratify=y_train if counts.min() >= 2 else None)
    X_model, y_model = _subsample(X_model, y_model, sizes["model"], 0)
    X_cal, y_cal = _subsample(X_cal, y_cal, sizes["calibration"], 1)
    X_test, y_test = _subsample(X_test, y_test, sizes["test"], 2)
    return used, len(classes), (X_model, y_model), (X_cal, y_cal), (X_test, y_test)


def make_model(kind, quick, n_classes):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler

    from skmax import SoftmaxClassifier

    if kind == "hgb":
        return HistGradientBoostingClassifier(max_iter=10 if quick else 60,
                                              early_stopping=False, random_state=0)
    if kind == "rf":
        return RandomForestClassifier(n_estimators=10 if quick else 100, n_jobs=2,
                                      random_state=0)
    if kind == "softmax":
        # a weak penalty on few rows: overfit, overconfident
        return make_pipeline(MaxAbsScaler(), SoftmaxClassifier(C=1e4, max_iter=300))
    return make_pipeline(MaxAbsScaler(), MLPClassifier(
        hidden_layer_sizes=(128,), max_iter=20 if quick else (40 if n_classes > 100 else 150),
        random_state=0))


def model_scores(name, kind, quick):
    """``(used_name, K, P_cal, y_cal, P_test, y_test)`` with the model's
    probabilities (cached)."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}_{kind}{'_quick' if quick else ''}.npz")
    if os.path.exists(path):
        d = np.load(path, allow_pickle=False)
        return (str(d["used"]), int(d["K"]), d["P_cal"], d["y_cal"], d["P_test"],
                d["y_test"])
    used, K, (Xm, ym), (Xc, yc), (Xt, yt) = load_splits(name, quick)
    model = make_model(kind, quick, K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # convergence of the deliberately short fits
        model.fit(Xm, ym)

    def proba(X):
        # the model's columns are the classes it saw; spread them over all K
        P = np.zeros((X.shape[0], K))
        P[:, model.classes_] = model.predict_proba(X)
        return P

    P_cal, P_test = proba(Xc), proba(Xt)
    np.savez(path, used=used, K=K, P_cal=P_cal, y_cal=yc, P_test=P_test, y_test=yt)
    return used, K, P_cal, yc, P_test, yt


# ---------------------------------------------------------------------------
# Calibrators
# ---------------------------------------------------------------------------


def _frozen_scores(n_classes):
    """A fitted 'classifier' whose probabilities are its input: lets
    ``CalibratedClassifierCV(FrozenEstimator(...))`` calibrate cached scores."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.frozen import FrozenEstimator

    class FrozenScores(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.arange(n_classes)
            return self

        def predict_proba(self, X):
            return X

        def predict(self, X):
            return np.argmax(X, axis=1)

    return FrozenEstimator(FrozenScores().fit(None, None))


def skmax_methods(K, quick):
    from skmax import TemperatureCalibrator
    from skmax._matrix_scaling import (
        DirichletCalibrator,
        StructuredMatrixScalingCalibrator,
        VectorScalingCalibrator,
    )

    methods = {
        "temperature": lambda: TemperatureCalibrator(input="probabilities"),
        "vector": lambda: VectorScalingCalibrator(input="probabilities"),
    }
    if K <= MAX_MATRIX_CLASSES:
        # a coarse grid (the default has 6 points): this machine's time budget
        alphas = [1.0, 100.0] if quick else [1.0, 100.0, 1e4]
        methods["dirichlet-odir"] = lambda: DirichletCalibrator(
            input="probabilities", cv=3, alphas=alphas)
        methods["sms"] = lambda: StructuredMatrixScalingCalibrator(input="probabilities")
        # the same, its overall strength chosen by 5-fold CV (default grid)
        methods["sms-cv"] = lambda: StructuredMatrixScalingCalibrator(input="probabilities",
                                                                      cv=3 if quick else 5)
    methods["svs"] = lambda: StructuredMatrixScalingCalibrator(input="probabilities",
                                                               structure="vector")
    if K > MAX_MATRIX_CLASSES:
        methods["svs-cv"] = lambda: StructuredMatrixScalingCalibrator(
            input="probabilities", structure="vector", cv=3 if quick else 5)
    return {f"skmax {name}": (make, "transform") for name, make in methods.items()}


def peer_methods(K, config=None):
    from sklearn.calibration import CalibratedClassifierCV

    methods = {}
    for method in ("sigmoid", "isotonic", "temperature"):
        methods[f"sklearn {method}"] = (
            lambda m=method: CalibratedClassifierCV(_frozen_scores(K), method=m),
            "predict_proba")
    try:
        import torch
        from probmetrics.calibrators import get_calibrator

        torch.set_num_threads(2)
        methods["probmetrics temperature"] = (lambda: get_calibrator("temp-scaling"),
                                              "predict_proba")
        if K <= MAX_MATRIX_CLASSES:
            methods["probmetrics sms"] = (lambda: get_calibrator("sms"), "predict_proba")
        methods["probmetrics svs"] = (lambda: get_calibrator("svs"), "predict_proba")
    except ImportError as exc:
        print(f"probmetrics not available: {exc}", file=sys.stderr)
    try:
        # its releases declare Python >= 3.12 but run on 3.11 (install with
        # --ignore-requires-python); ODIR = separate off-diagonal and intercept strengths
        from dirichletcal.calib.fulldirichlet import FullDirichletCalibrator

        if K <= MAX_MATRIX_CLASSES and config in DIRICHLETCAL_CONFIGS:
            methods["dirichletcal odir"] = (
                lambda: FullDirichletCalibrator(reg_lambda=1e-2, reg_mu=1e-2, reg_norm=True),
                "predict_proba")
    except ImportError as exc:
        print(f"dirichletcal not available: {exc}", file=sys.stderr)
    return methods


def scores_of(P, y, K):
    from sklearn.metrics import brier_score_loss, log_loss

    from skmax.metrics import expected_calibration_error, smooth_calibration_error

    labels = np.arange(K)
    P = np.asarray(P, dtype=np.float64)
    P = P / P.sum(axis=1, keepdims=True)
    return {
        "nll": log_loss(y, P, labels=labels),
        "brier": brier_score_loss(y, P, labels=labels),
        "ece": expected_calibration_error(y, P, labels=labels),
        "cw-ece": expected_calibration_error(y, P, labels=labels, kind="classwise"),
        "smece": smooth_calibration_error(y, P, labels=labels),
    }


def run_config(name, kind, quick):
    used, K, P_cal, y_cal, P_test, y_test = model_scores(name, kind, quick)
    rows = [("uncalibrated", scores_of(P_test, y_test, K), None)]
    # no dirichletcal in a smoke run (minutes per fit)
    methods = {**skmax_methods(K, quick), **peer_methods(K, None if quick else (name, kind))}
    for method, (make, predict) in methods.items():
        cal = make()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                cal.fit(P_cal, y_cal)
                seconds = time.perf_counter() - start
                P = getattr(cal, predict)(P_test)
            if not np.all(np.isfinite(P)):
                raise FloatingPointError("non-finite probabilities")
            rows.append((method, scores_of(P, y_test, K), seconds))
        except Exception as exc:   # a peer failing is a result, not a crash
            rows.append((method, None, f"{type(exc).__name__}: {str(exc)[:60]}"))
    return used, K, len(y_cal), rows


def _method_table(rows):
    table = []
    for method, s, t in rows:
        if s is None:
            table.append((method, "failed", "", "", "", "", t))
            continue
        table.append((method, f"{s['nll']:.4f}", f"{s['brier']:.4f}", f"{s['ece']:.4f}",
                      f"{s['cw-ece']:.4f}", f"{s['smece']:.4f}",
                      "" if t is None else f"{t:.3f}"))
    return table


def _compare(ours, peer):
    """'yes' / 'no' for ``ours <= peer``; 'tie' within the tables' 4 decimals."""
    if peer is None or ours < peer - 5e-5:
        return "yes"
    return "tie" if abs(ours - peer) <= 5e-5 else "no"


def _summary_rows(summary):
    out = []
    for used, kind, K, rows in summary:
        ok = {m: s for m, s, _ in rows if s is not None}
        ours = {m: s for m, s in ok.items() if m.startswith("skmax")}
        peers = {m: s for m, s in ok.items() if not m.startswith("skmax") and m != "uncalibrated"}
        best_ours = min(ours, key=lambda m: ours[m]["nll"])
        best_peer = min(peers, key=lambda m: peers[m]["nll"]) if peers else None
        sms = "skmax sms" if "skmax sms" in ok else "skmax svs"
        sms_cv = sms + "-cv"
        out.append((
            used, kind, K, f"{ok['uncalibrated']['nll']:.4f}",
            f"{ours[best_ours]['nll']:.4f} ({best_ours[6:]})",
            "" if best_peer is None else f"{peers[best_peer]['nll']:.4f} ({best_peer})",
            _compare(ours[best_ours]["nll"], None if best_peer is None
                     else peers[best_peer]["nll"]),
            f"{ok[sms]['nll']:.4f} / {ok['skmax temperature']['nll']:.4f} ({sms[6:]})",
            f"{ok[sms_cv]['nll']:.4f}" if sms_cv in ok else "",
            f"{ok['uncalibrated']['ece']:.4f} / {ok['skmax temperature']['ece']:.4f} / "
            f"{ok[sms]['ece']:.4f}",
        ))
    return out


# (skmax method, peer of the same method)
SPEED_PAIRS = [("skmax temperature", "sklearn temperature"),
               ("skmax temperature", "probmetrics temperature"),
               ("skmax sms", "probmetrics sms"), ("skmax svs", "probmetrics svs"),
               ("skmax dirichlet-odir", "dirichletcal odir")]


def _speed_rows(summary):
    out = []
    for ours, peer in SPEED_PAIRS:
        ratios = []
        for _, _, _, rows in summary:
            t = {m: s for m, _, s in rows if isinstance(s, float)}
            if ours in t and peer in t:
                ratios.append(t[ours] / t[peer])
        if ratios:
            out.append((ours, peer, len(ratios), f"{np.median(ratios):.3f}",
                        f"{min(ratios):.3f}-{max(ratios):.3f}",
                        sum(r < 1 for r in ratios)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--datasets", default=None, help="comma-separated subset")
    ap.add_argument("--models", default=None, help="comma-separated subset")
    add_docs_option(ap)
    args = ap.parse_args(argv)
    datasets = args.datasets.split(",") if args.datasets else (
        ["pendigits"] if args.quick else DATASETS)
    models = args.models.split(",") if args.models else (
        ["hgb", "softmax"] if args.quick else MODELS)
    sizes = {k: min(v, 600) for k, v in SIZES.items()} if args.quick else SIZES
    report = Report("bench_calibrators",
                    f"rows per split (model / calibration / test): {sizes}, ALOI "
                    f"{ALOI_SIZES}; one fit per calibrator; Dirichlet and SMS matrices "
                    f"only for K <= {MAX_MATRIX_CLASSES}")
    summary, per_config = [], []
    for name in datasets:
        for kind in models:
            if name == "aloi" and kind == "hgb":
                continue   # 1,000 trees per boosting round: out of this machine's budget
            used, K, n_cal, rows = run_config(name, kind, args.quick)
            print(f"{used}, {kind} done", file=sys.stderr, flush=True)
            per_config.append((f"**{used}, {kind}** (K = {K}, {n_cal} calibration rows)",
                               rows))
            summary.append((used, kind, K, rows))
    report.add("**Summary.** Test NLL of the uncalibrated model, of the best skmax "
               "calibrator and of the best peer (is skmax's <= the peer's?), SMS "
               "against temperature scaling (SVS where K is too large for a matrix), "
               "SMS with its strength chosen by 5-fold cross-validation (SVS on "
               "ALOI), and the top-label ECE uncalibrated / temperature / SMS.")
    report.table(["dataset", "model", "K", "uncalibrated", "best skmax", "best peer",
                  "skmax <= peer", "SMS / temperature", "SMS (cv)",
                  "ECE uncal. / temp. / SMS"],
                 _summary_rows(summary), plot="none")
    report.add("**Fit time, skmax / peer of the same method** (one fit each; median "
               "and range over the configurations; below 1: skmax is faster).")
    report.table(["skmax", "peer", "configurations", "median ratio", "range",
                  "skmax faster"], _speed_rows(summary), plot="none")
    for title, rows in per_config:
        report.add(title)
        report.table(["method", "NLL", "Brier", "ECE", "classwise ECE", "smooth ECE",
                      "fit (s)"], _method_table(rows), plot="none")
    if args.write_docs:
        report.write_docs(args.write_docs)


if __name__ == "__main__":
    main()
