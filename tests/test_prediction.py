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
