"""Property-based tests: random inputs through every public estimator and metric.

Random shapes, dtypes, memory layouts, sparse formats, extreme values, sample
weights, label types and parameter boundaries. Every case must end in one of:

1. a clear exception of a documented type (``ValueError``, scikit-learn's
   ``InvalidParameterError``, ``TypeError`` for a wrong input type), whose
   message names the problem rather than an internal failure;
2. or a valid answer: finite probabilities in [0, 1] whose rows sum to 1, the
   predicted class the most probable one, finite fitted parameters, no
   RuntimeWarning, and the inputs unchanged.

``SKMAX_HYPOTHESIS_EXAMPLES`` sets the number of cases per test (default 50:
about a minute for the module on two cores); a long run before a release:
``SKMAX_HYPOTHESIS_EXAMPLES=2000 pytest tests/test_properties.py``. Known
failures owned by open items of issue #20 are kept here as ``xfail`` tests
naming the item, so that they start passing (XPASS) when the item lands.
"""

import os
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from skmax import (  # noqa: E402
    SoftmaxClassifier,
    TemperatureCalibratedClassifier,
    TemperatureCalibrator,
    metrics,
)
from skmax._calibration import TemperatureScalingWarning  # noqa: E402

N_EXAMPLES = int(os.environ.get("SKMAX_HYPOTHESIS_EXAMPLES", "50"))
PROPERTY = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    derandomize=N_EXAMPLES <= 50,   # CI: the same cases on every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)

# messages of Python's own errors: a user must never see one of these
_INTERNAL_ERROR = re.compile(
    r"unsupported operand|has no attribute|not subscriptable|is only supported for|"
    r"out of bounds|division by zero|unhashable|Buffer dtype mismatch|positional argument|"
    r"partially initialized|NoneType|cannot reshape|operands could not be broadcast"
)


# -- the two outcomes -------------------------------------------------------
class _Inputs:
    """Copies of the arrays given to a case, to check they come back unchanged."""

    def __init__(self, *arrays):
        self.arrays = arrays
        self.copies = [None if a is None else a.copy() for a in arrays]

    def assert_unchanged(self):
        for a, c in zip(self.arrays, self.copies):
            if a is None:
                continue
            if sp.issparse(a):
                a, c = a.toarray(), c.toarray()
            assert np.array_equal(np.asarray(a), np.asarray(c), equal_nan=a.dtype.kind == "f")


def _run(case, inputs):
    """Run ``case()``; return its value, or None after a clear documented error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", TemperatureScalingWarning)
        try:
            return case()
        except (ValueError, TypeError) as exc:
            message = str(exc)
            assert len(message) > 15 and not _INTERNAL_ERROR.search(message), (
                f"unclear error {type(exc).__name__}: {message}")
            return None
        finally:
            inputs.assert_unchanged()


def _assert_distribution(P, n_rows):
    P = np.asarray(P)
    assert P.shape[0] == n_rows
    assert np.all(np.isfinite(P)), "non-finite probabilities"
    assert P.min() >= 0 and P.max() <= 1
    tol = 1e-5 if P.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=tol * P.shape[1])


def _assert_prediction(clf, X, n_rows):
    P = clf.predict_proba(X)
    _assert_distribution(P, n_rows)
    pred = clf.predict(X)
    col = np.searchsorted(clf.classes_, pred)
    assert np.array_equal(clf.classes_[col], pred)
    # the predicted class is a most probable one (ties: any of them)
    assert np.all(P[np.arange(n_rows), col] >= P.max(axis=1) - 1e-7)
    return P


# -- strategies --------------------------------------------------------------
_SCALES = [1e-30, 1e-3, 1.0, 1e3, 1e30]
_LAYOUTS = ["C", "F", "strided", "csr", "csc", "coo", "list"]


_SPECIALS = (np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-45)


@st.composite
def features(draw, n_rows, scales=_SCALES, specials=()):
    """``X`` of random width, dtype, scale and layout; one of ``specials``
    (NaN, infinities, float32 extremes...) at a random place."""
    d = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = draw(st.sampled_from(scales))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = (rng.standard_normal((n_rows, d)) * scale).astype(dtype)
    if draw(st.booleans()):   # some exact zeros (and zero columns)
        X[rng.random(X.shape) < 0.4] = 0
    value = draw(st.sampled_from(specials)) if specials else None
    if specials and X.size:
        X.flat[rng.integers(X.size)] = value
    layout = draw(st.sampled_from(_LAYOUTS))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((n_rows, 2 * d), dtype=dtype)
        wide[:, ::2] = X
        X = wide[:, ::2]
    elif layout in ("csr", "csc", "coo"):
        X = sp.random(n_rows, d, density=0.5, format=layout, dtype=dtype,
                      random_state=rng.integers(2**31)) * scale
        X = X.asformat(layout)
        if specials and X.nnz:
            X.data[rng.integers(X.nnz)] = value
    elif layout == "list":
        return X.tolist()
    return X


@st.composite
def labels(draw, n_rows, n_classes):
    """``y`` with ``n_classes`` distinct values (when ``n_rows`` allows) of a
    random type: small or large ints, strings, floats, booleans."""
    kind = draw(st.sampled_from(["int", "bigint", "str", "float", "bool"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = rng.integers(n_classes, size=n_rows)
    codes[:min(n_rows, n_classes)] = np.arange(min(n_rows, n_classes))
    rng.shuffle(codes)
    if kind == "bool" or (kind != "int" and n_classes == 2 and draw(st.booleans())):
        return codes.astype(bool) if n_classes <= 2 else codes
    values = {"int": np.arange(n_classes), "bigint": -(10**12) + 7 * np.arange(n_classes),
              "str": np.array([f"class {k}" for k in range(n_classes)]),
              "float": np.linspace(-1.5, 2.5, n_classes)}[kind]
    return values[codes]


@st.composite
def sample_weights(draw, n_rows):
    kind = draw(st.sampled_from(["none", "ones", "random", "zeros_in", "integer", "tiny"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "none":
        return None
    w = {"ones": np.ones(n_rows), "random": rng.uniform(0.1, 10, n_rows),
         "zeros_in": rng.uniform(0, 1, n_rows) * (rng.random(n_rows) < 0.6),
         "integer": rng.integers(0, 4, n_rows).astype(float),
         "tiny": rng.uniform(1e-6, 1e-3, n_rows)}[kind]
    return w


@st.composite
def softmax_params(draw, n_classes):
    solver = draw(st.sampled_from(["lbfgs", "newton-cg", "sgd", "adam"]))
    params = dict(
        solver=solver,
        C=draw(st.sampled_from([1e-8, 0.1, 1.0, 1e8, np.inf])),
        temperature=draw(st.sampled_from([0.05, 1.0, 20.0])),
        label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.9])),
        fit_intercept=draw(st.booleans()),
        class_weight=draw(st.sampled_from([None, "balanced"])),
        max_iter=draw(st.integers(1, 30)),
        tol=draw(st.sampled_from([0.0, 1e-4, 1e-2])),
        n_jobs=draw(st.sampled_from([None, 1, 2, -1])),
        random_state=0,
    )
    if solver != "newton-cg":
        params["focal_gamma"] = draw(st.sampled_from([0.0, 2.0]))
    if solver in ("sgd", "adam"):
        params.update(
            learning_rate_init=draw(st.sampled_from([1e-4, 1e-2, 0.5])),
            batch_size=draw(st.sampled_from(["auto", 1, 7])),
            early_stopping=draw(st.booleans()),
            n_iter_no_change=draw(st.integers(1, 3)),
        )
        if n_classes >= 3 and draw(st.booleans()):
            params.update(n_sampled=draw(st.integers(1, n_classes)),
                          sampler=draw(st.sampled_from(["uniform", "unigram", "log_uniform"])))
    return params


# -- SoftmaxClassifier -------------------------------------------------------
@st.composite
def softmax_cases(draw, scales=_SCALES, specials=()):
    n = draw(st.integers(1, 40))
    K = draw(st.integers(1, 4))
    params = draw(softmax_params(K))
    X = draw(features(n, scales, specials))
    y = draw(labels(n, K))
    sw = draw(sample_weights(n))
    X_test = draw(features(draw(st.integers(1, 8)), scales, specials))
    return X, y, sw, X_test, params


def _n_rows(X):
    return len(X) if isinstance(X, list) else X.shape[0]


def _check_softmax_case(X, y, sw, X_test, params):
    clf = SoftmaxClassifier(**params)
    inputs = _Inputs(None if isinstance(X, list) else X, y, sw,
                     None if isinstance(X_test, list) else X_test)

    def case():
        clf.fit(X, y, sample_weight=sw)
        assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
        _assert_prediction(clf, X, _n_rows(X))
        # a test set of another width must be rejected (by _run's rule)
        _assert_prediction(clf, X_test, _n_rows(X_test))
        return clf

    return _run(case, inputs)


@PROPERTY
@given(softmax_cases())
def test_softmax_classifier_fit_predict(case):
    _check_softmax_case(*case)


@PROPERTY
@given(softmax_cases(scales=[1.0], specials=_SPECIALS))
def test_softmax_classifier_rejects_or_handles_special_values(case):
    """NaN and infinities are rejected with a message naming them; float32
    extremes and subnormals are valid input."""
    _check_softmax_case(*case)


@PROPERTY
@given(softmax_cases(), st.integers(1, 3))
def test_softmax_partial_fit_sequence(case, n_calls):
    X, y, sw, X_test, params = case
    params = {k: v for k, v in params.items()
              if k not in ("solver", "early_stopping", "max_iter")}
    clf = SoftmaxClassifier(solver="adam", **params)
    inputs = _Inputs(None if isinstance(X, list) else X, y, sw)
    classes = np.unique(np.asarray(y))

    def case_():
        for _ in range(n_calls):
            clf.partial_fit(X, y, classes=classes, sample_weight=sw)
        assert np.all(np.isfinite(clf.coef_))
        _assert_prediction(clf, X, len(y))

    _run(case_, inputs)


@pytest.mark.parametrize("solver, X", [
    ("adam", np.array([[1.26e29], [-1.32e29]], dtype=np.float32)),
    ("sgd", np.array([[3e38], [-0.13]], dtype=np.float32)),
    ("sgd", sp.csr_matrix(np.array([[3e38], [0.0]], dtype=np.float32))),
])
def test_stochastic_solvers_huge_features(solver, X):
    _check_softmax_case(X, np.array([0, 1]), None, X,
                        dict(solver=solver, C=0.1, temperature=0.05, fit_intercept=False,
                             max_iter=1, random_state=0))


@pytest.mark.parametrize("value, dtype", [(1.7e308, np.float64), (-1.7e308, np.float64),
                                          (2e38, np.float32), (-2e38, np.float32)])
def test_extreme_logits_give_distributions(value, dtype):
    X, y = make_classification(200, 5, n_informative=3, n_classes=3, random_state=0)
    clf = SoftmaxClassifier().fit(X.astype(dtype), y)
    with warnings.catch_warnings():
        # NaN logits may warn, as long as the rows are not silently zero
        warnings.simplefilter("ignore", RuntimeWarning)
        P = clf.predict_proba(np.full((1, 5), value, dtype=dtype))
    assert np.all(np.isnan(P)) or np.allclose(P.sum(axis=1), 1.0), P


@PROPERTY
@given(st.sampled_from([1e-310, 1e-300, 1e-200, 1e200, 1e300, 1e306]),
       st.sampled_from(["lbfgs", "newton-cg", "adam"]))
def test_degenerate_sample_weights(scale, solver):
    """Weights scaled by ``c`` are the penalty scaled by ``c`` (issue #20 item
    4): the same model as unit weights at ``C * c``, or a clear error when
    ``C * c`` underflows."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = rng.integers(3, size=40)
    params = dict(solver=solver, random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            weighted = SoftmaxClassifier(**params).fit(X, y, sample_weight=np.full(40, scale))
        except ValueError as exc:   # rejected: the message names the weights
            assert "sample_weight" in str(exc) and not 1.0 / scale < np.inf
            return
        unit = SoftmaxClassifier(C=scale, **params).fit(X, y)
    assert np.all(np.isfinite(weighted.coef_))
    np.testing.assert_allclose(weighted.predict_proba(X), unit.predict_proba(X), atol=1e-6)


# -- TemperatureCalibrator ---------------------------------------------------
@st.composite
def calibrator_cases(draw, scales=(1e-300, 1e-3, 1.0, 30.0, 1e3, 1e300)):
    n = draw(st.integers(1, 40))
    K = draw(st.integers(1, 4))
    y = draw(labels(n, max(K, 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = draw(st.sampled_from(scales))
    if dtype == np.float32:   # scores a float32 array can hold
        scale = min(max(scale, 1e-30), 1e30)
    kind = draw(st.sampled_from(["logits", "probabilities", "1-D"]))
    if kind == "1-D":
        S = (rng.standard_normal(n) * scale).astype(dtype)
    else:
        S = (rng.standard_normal((n, K)) * scale).astype(dtype)
        if kind == "probabilities":
            S = np.exp(S - S.max(axis=1, keepdims=True))
            S = (S / S.sum(axis=1, keepdims=True)).astype(dtype)
        if draw(st.booleans()):
            S = np.asfortranarray(S)
    params = dict(input=draw(st.sampled_from(["auto", "logits", "probabilities"])))
    return S, y, draw(sample_weights(n)), params


def _check_calibrator_case(S, y, sw, params):
    cal = TemperatureCalibrator(**params)
    inputs = _Inputs(S, y, sw)

    def case():
        cal.fit(S, y, sample_weight=sw)
        assert np.isfinite(cal.temperature_) and cal.temperature_ > 0
        assert np.isfinite(cal.nll_)
        _assert_distribution(cal.transform(S), S.shape[0])

    _run(case, inputs)


@PROPERTY
@given(calibrator_cases())
def test_temperature_calibrator(case):
    S, y, sw, params = case
    _check_calibrator_case(*case)


def test_temperature_calibrator_bool_labels():
    rng = np.random.default_rng(0)
    _check_calibrator_case(rng.standard_normal((20, 3)), rng.random(20) < 0.5, None, {})


@PROPERTY
@given(st.sampled_from([1e-320, 1e-300, 1e-200, 1e-30, 1e30, 1e200, 1e300]))
def test_temperature_scale_equivariance(c):
    """Scores scaled by ``c`` give the temperature scaled by ``c`` (issue #20
    item 2) and the same probabilities, without a warning."""
    rng = np.random.default_rng(0)
    y = rng.integers(3, size=200)
    Z = 3 * np.eye(3)[y] + rng.standard_normal((200, 3)) * 2
    reference = TemperatureCalibrator().fit(Z, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cal = TemperatureCalibrator().fit(Z * c, y)
    # subnormal scores keep only a few significant bits
    rtol = 1e-3 if c * np.abs(Z).max() < 1e-300 else 1e-9
    assert cal.temperature_ == pytest.approx(reference.temperature_ * c, rel=rtol)
    np.testing.assert_allclose(cal.transform(Z * c), reference.transform(Z), atol=rtol)


@settings(PROPERTY, max_examples=max(3, N_EXAMPLES // 4))
@given(softmax_cases(scales=[1.0]), st.sampled_from([2, 3]), st.booleans())
def test_temperature_calibrated_classifier(case, cv, ensemble):
    X, y, sw, X_test, params = case
    clf = TemperatureCalibratedClassifier(
        SoftmaxClassifier(max_iter=20), cv=cv, ensemble=ensemble)
    inputs = _Inputs(None if isinstance(X, list) else X, y, sw)

    def case_():
        clf.fit(X, y, sample_weight=sw)
        _assert_prediction(clf, X, len(y))

    _run(case_, inputs)


# -- metrics -------------------------------------------------------------------
@st.composite
def metric_cases(draw):
    n = draw(st.integers(1, 50))
    K = draw(st.integers(1, 5))
    y = draw(labels(n, K))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.float32, np.float64, "float32 as float64"]))
    P = rng.dirichlet(np.full(max(K, 1), draw(st.sampled_from([0.05, 1.0, 20.0]))), size=n)
    if dtype == "float32 as float64":
        P = P.astype(np.float32).astype(np.float64)
    else:
        P = P.astype(dtype)
    if K == 2 and draw(st.booleans()):
        P = np.ascontiguousarray(P[:, 1])
    kwargs = dict(n_bins=draw(st.integers(1, 20)),
                  strategy=draw(st.sampled_from(["uniform", "quantile"])),
                  sample_weight=draw(sample_weights(n)))
    return y, P, kwargs, draw(st.sampled_from(["ece", "mce", "bins"])), draw(st.booleans())


@PROPERTY
@given(metric_cases())
def test_metrics(case):
    y, P, kwargs, which, classwise = case
    inputs = _Inputs(y, P, kwargs["sample_weight"])

    def run():
        if which == "bins":
            conf, acc, weight = metrics.calibration_bins(y, P, **kwargs)
            for a in (conf, acc):
                assert np.all(np.isfinite(a)) and np.all((a >= 0) & (a <= 1))
            assert np.all(weight > 0)
            return
        func = (metrics.expected_calibration_error if which == "ece"
                else metrics.maximum_calibration_error)
        kind = "classwise" if classwise else "top-label"
        value = func(y, P, kind=kind, **kwargs)
        assert np.isfinite(value) and 0 <= value <= 1

    _run(run, inputs)
