"""The compiled prediction path (skmax/_prediction.py, _kernels.predict_*)
against the numpy reference, and rows with non-finite logits."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from cases import RTOL
from sklearn.datasets import make_classification

import skmax._prediction as prediction
from skmax import SoftmaxClassifier, _kernels
from skmax._prediction import predict_linear

from reference import log_softmax


def _model(n, d, K, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    coef = (rng.normal(size=(K, d)) * scale).astype(dtype)
    intercept = rng.normal(size=K).astype(dtype)
    return X, coef, intercept


def _reference(X, coef, intercept, kind, inv_T):
    X = X.toarray() if sp.issparse(X) else X
    a = X.astype(np.float64) @ coef.astype(np.float64).T + intercept
    if coef.shape[0] == 1 and kind != "decision":
        a = np.hstack([np.zeros_like(a), a])
    if kind == "decision":
        return a * inv_T
    if kind == "label":
        return a.argmax(axis=1)
    logp = log_softmax(a * inv_T)
    return logp if kind == "log_proba" else np.exp(logp)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["decision", "proba", "log_proba", "label"])
@pytest.mark.parametrize("K", [1, 3, 40])
@pytest.mark.parametrize("fmt", [None, "csr"])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_prediction_matches_reference(monkeypatch, dtype, kind, K, fmt, n_threads):
    # blocks of a few rows, so that every thread gets several
    monkeypatch.setattr(prediction, "_PREDICT_CHUNK_BYTES", 5 * 8 * (K + 1))
    X, coef, intercept = _model(37, 6, K, dtype)
    Xin = X if fmt is None else sp.csr_matrix(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = predict_linear(Xin, coef, intercept, kind, inv_T=0.7, n_threads=n_threads)
    want = _reference(X, coef, intercept, kind, 0.7)
    if kind == "label":
        np.testing.assert_array_equal(got, want)
        return
    assert got.dtype == dtype
    rtol = RTOL[dtype]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fmt", [None, "csr"])
def test_extreme_finite_logits_give_finite_predictions(dtype, fmt):
    big = 1e300 if dtype == np.float64 else 1e36
    X, coef, intercept = _model(20, 4, 5, dtype, scale=big / 10)
    Xin = X if fmt is None else sp.csr_matrix(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = predict_linear(Xin, coef, intercept, "proba")
        logP = predict_linear(Xin, coef, intercept, "log_proba")
    assert np.isfinite(P).all() and np.isfinite(logP).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=RTOL[dtype])
    a = X.astype(np.float64) @ coef.astype(np.float64).T + intercept
    np.testing.assert_array_equal(P.argmax(axis=1), a.argmax(axis=1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_rows_take_the_limit_of_infinite_logits(dtype):
    inf, nan = np.inf, np.nan
    raw = np.array([[inf, 1.0, inf, -inf], [-inf] * 4, [0.0, -inf, 2.0, 1.0],
                    [1.0, nan, 0.0, 2.0]], dtype=dtype)
    P = raw.copy()
    _kernels.softmax(P, 1.0, False, 1)
    np.testing.assert_array_equal(P[0], [0.5, 0, 0.5, 0])
    np.testing.assert_array_equal(P[1], [0.25] * 4)
    assert P[2, 1] == 0 and abs(P[2].sum() - 1) < 1e-6
    assert np.isnan(P[3]).all()
    logP = raw.copy()
    _kernels.softmax(logP, 1.0, True, 1)
    np.testing.assert_allclose(logP[0, [0, 2]], np.log(0.5), rtol=1e-6)
    assert (logP[0, [1, 3]] == -np.finfo(dtype).max).all()
    assert np.isnan(logP[3]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overflowing_logits_give_valid_distributions(dtype):
    # issue #20 item 1: X @ coef_.T overflows for finite X; rows used to be zeros
    X, y = make_classification(200, 5, n_informative=3, n_classes=3, random_state=0)
    clf = SoftmaxClassifier().fit(X.astype(dtype), y)
    big = 1.7e308 if dtype == np.float64 else 2e38
    Xbig = np.full((2, 5), big, dtype=dtype)
    Xbig[1, 0] = -big
    direction = Xbig.astype(np.float64) / big @ clf.coef_.astype(np.float64).T
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = clf.predict_proba(Xbig)
        logP = clf.predict_log_proba(Xbig)
        labels = clf.predict(Xbig)
        scores = clf.decision_function(Xbig)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(P.argmax(axis=1), direction.argmax(axis=1))
    np.testing.assert_array_equal(labels, clf.classes_[direction.argmax(axis=1)])
    assert np.isfinite(logP).all() and (P.max(axis=1) == 1).all()
    assert not np.isnan(scores).any()
    np.testing.assert_array_equal(np.sign(scores), np.sign(direction))


def test_nan_coefficients_give_nan_rows_and_a_warning():
    X, y = make_classification(50, 5, n_informative=3, n_classes=3, random_state=0)
    clf = SoftmaxClassifier().fit(X, y)
    clf.coef_[1, 2] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN"):
        P = clf.predict_proba(X[:4])
    assert np.isnan(P).all()
    with pytest.warns(RuntimeWarning, match="NaN"):
        clf.predict(X[:4])


def test_prediction_rejects_mismatched_buffers():
    X, coef, intercept = _model(4, 3, 2, np.float64)
    out, bad = np.empty((4, 2)), np.zeros(4, dtype=np.uint8)
    with pytest.raises(ValueError, match="must match"):
        _kernels.predict_dense(X, coef, intercept, out[:3], None, bad, kind=1, block_rows=2)
    with pytest.raises(ValueError, match="must match"):
        _kernels.predict_logits(X @ coef.T, intercept[:1], out, None, bad, kind=1)


@pytest.mark.parametrize("order", ["C", "F"])
def test_dense_input_of_another_dtype_or_order_is_converted_by_slices(monkeypatch, order):
    # float32 X with a float64 model: float64 results, as from one product
    monkeypatch.setattr(prediction, "_PREDICT_CHUNK_BYTES", 4 * 8 * 5)
    X, coef, intercept = _model(23, 4, 5, np.float64)
    X32 = np.asarray(X.astype(np.float32), order=order)
    got = predict_linear(X32, coef, intercept, "proba", n_threads=2)
    assert got.dtype == np.float64
    want = _reference(X32.astype(np.float64), coef, intercept, "proba", 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _float32_rows(K, seed=0):
    """float32 logits of every kind of row the float path meets: ordinary ones
    of several spreads, ties, rows whose shift would overflow in float (they
    take the double path) and non-finite ones."""
    rng = np.random.default_rng(seed)
    a = rng.normal(scale=[[1.0], [30.0], [300.0], [1e4], [1.0]], size=(5, K))
    a[4] = 2.5      # a row of ties
    wide = rng.uniform(-3e38, 3e38, size=(2, K))
    special = np.full((2, K), 1.0)
    special[0, 0] = np.inf
    special[1, -1] = -np.inf
    return np.vstack([a, wide, special]).astype(np.float32)


@pytest.mark.parametrize("K", [1, 2, 7, 16, 17, 33, 1000])
@pytest.mark.parametrize("kind", ["proba", "log_proba"])
@pytest.mark.parametrize("inv_T", [1.0, 0.3, 4.0])
def test_float32_rows_match_the_double_rows(K, kind, inv_T):
    # the float path of float32 rows (_fast_exp.h, skmax_softmax_f32) against
    # the same rows computed in float64 by the double path
    logits = _float32_rows(K)
    n = logits.shape[0]
    zero = np.zeros(K, dtype=np.float32)
    out = np.empty_like(logits)
    bad = np.zeros(n, dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _kernels.predict_logits(logits.copy(), zero, out, None, bad, kind=prediction.KINDS[kind],
                                inv_T=inv_T)
    want = logits.astype(np.float64)
    _kernels.predict_logits(want.copy(), zero.astype(np.float64), want,
                            None, np.zeros(n, dtype=np.uint8), kind=prediction.KINDS[kind],
                            inv_T=inv_T)
    np.testing.assert_array_equal(bad, [0] * 7 + [1, 1])
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(out), finite)
    lo = -np.finfo(np.float32).max
    want32 = np.maximum(want, lo) if kind == "log_proba" else want
    # float rounding, relative to each row's largest magnitude
    scale = np.abs(np.where(finite, want32, 0)).max(axis=1, keepdims=True)
    error = np.abs(np.where(finite, out - want32, 0))
    assert (error <= 2e-6 * np.abs(want32) + 2e-6 * scale).all()
    if kind == "proba":
        np.testing.assert_allclose(out[:7].sum(axis=1, dtype=np.float64), 1.0, rtol=1e-6)


@pytest.mark.parametrize("disabled", ["SKMAX_NO_AVX512", "SKMAX_NO_AVX2"])
def test_float32_prediction_dispatch_copies_agree(disabled):
    # the AVX-512, AVX2 + FMA and portable copies of the float32 rows (picked
    # at import) give the same predictions to float rounding
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, sys, numpy as np\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "from skmax._prediction import predict_linear\n"
        "from skmax import _kernels\n"
        "from test_prediction import _model\n"
        "X, coef, b = _model(300, 9, 33, np.float32, scale=3.0)\n"
        "out = [predict_linear(X, coef, b, k, inv_T=0.7, n_threads=2).tolist()\n"
        "       for k in ('proba', 'log_proba')]\n"
        "print(json.dumps([_kernels.softmax_f32_uses_avx512(), out]))\n"
    )
    env = dict(os.environ, **{disabled: "1"})
    here = os.path.dirname(os.path.dirname(os.path.abspath(_kernels.__file__)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=here, check=True).stdout
    avx512, (proba, log_proba) = json.loads(result)
    assert avx512 is False
    X, coef, b = _model(300, 9, 33, np.float32, scale=3.0)
    for kind, got in (("proba", proba), ("log_proba", log_proba)):
        here_ = predict_linear(X, coef, b, kind, inv_T=0.7, n_threads=2)
        np.testing.assert_allclose(got, here_, rtol=2e-6, atol=2e-6 * np.abs(here_).max())
        want = _reference(X, coef, b, kind, 0.7)
        np.testing.assert_allclose(got, want, rtol=RTOL[np.float32],
                                   atol=RTOL[np.float32] * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", ["C", "F", "csr", "csc"])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_nonfinite_input_raises_sklearns_error(dtype, bad_value, fmt, method, n_jobs):
    # the finiteness of X is checked inside the prediction kernel (note 4 of
    # skmax/_prediction.py), not by validate_data: every row, every layout,
    # also where the model gives the column a zero weight (0 * inf is NaN, but
    # a BLAS may skip zero products, so the check must not rely on the logits)
    X, y = make_classification(300, 5, n_informative=3, n_classes=3, random_state=0)
    clf = SoftmaxClassifier(n_jobs=n_jobs).fit(X.astype(dtype), y)
    clf.coef_[:, 4] = 0.0
    for row in (0, 150, 299):
        Xbad = X.astype(dtype)
        Xbad[row, 4] = bad_value
        Xin = {"C": Xbad, "F": np.asfortranarray(Xbad), "csr": sp.csr_matrix(Xbad),
               "csc": sp.csc_matrix(Xbad)}[fmt]
        kind = "NaN" if np.isnan(bad_value) else "infinity"
        with pytest.raises(ValueError, match=f"Input X contains {kind}"):
            getattr(clf, method)(Xin)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_flags_each_nonfinite_row_of_x(dtype):
    X, coef, intercept = _model(50, 7, 4, dtype)
    X[[3, 17, 49], [0, 6, 2]] = [np.nan, np.inf, -np.inf]
    out, bad = np.empty((50, 4), dtype=dtype), np.zeros(50, dtype=np.uint8)
    for check, want in ((True, [3, 17, 49]), (False, [3, 17, 49])):
        bad[:] = 0
        _kernels.predict_dense(X, coef, intercept, out, None, bad, kind=1, block_rows=8,
                               n_threads=2, check_x=check)
        np.testing.assert_array_equal(np.flatnonzero(bad), want)
        assert np.all(bad[want] == (2 if check else 1))
