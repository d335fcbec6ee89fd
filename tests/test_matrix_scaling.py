"""Vector, Dirichlet and structured matrix scaling (``skmax/_matrix_scaling.py``)."""

import warnings

import numpy as np
import pytest
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skmax import TemperatureCalibrator
from skmax._matrix_scaling import (
    CalibrationWarning,
    DirichletCalibrator,
    StructuredMatrixScalingCalibrator,
    VectorScalingCalibrator,
    cross_validate_strength,
    fit_scaling,
    identity_coef,
    log_probabilities,
    mean_nll,
    penalty_weights,
    scaling_objective,
)

from reference import scaling_objective as reference_objective

CALIBRATORS = [
    VectorScalingCalibrator(),
    DirichletCalibrator(),
    StructuredMatrixScalingCalibrator(),
    StructuredMatrixScalingCalibrator(structure="vector"),
]


def make_scores(n=1500, K=4, seed=0, dtype=np.float64):
    """Logits miscalibrated differently per class: per-class scales and biases."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, K, n)
    L = 2.0 * np.eye(K)[y] + 1.5 * rng.randn(n, K)
    L = L * np.linspace(0.5, 3.0, K) + np.linspace(-1.0, 1.0, K)
    return L.astype(dtype), y


def random_coef(structure, K, rng):
    return identity_coef(structure, K) + 0.3 * rng.randn(len(identity_coef(structure, K)))


@pytest.mark.parametrize("structure", ["vector", "matrix"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_objective_matches_numpy_reference(structure, dtype):
    rng = np.random.RandomState(0)
    L, y = make_scores(400, 5, dtype=dtype)
    Z = log_probabilities(L, "logits")
    sw = rng.rand(len(y))
    K = Z.shape[1]
    weights = penalty_weights(structure, K, 0.3, 0.2, 0.1)
    coef = random_coef(structure, K, rng)
    objective = scaling_objective(Z, y, sw, structure, weights)
    with objective:
        value, grad = objective.loss_gradient(coef)
    ref_value, ref_grad = reference_objective(coef, Z.astype(np.float64), y, sw, structure,
                                              weights, identity_coef(structure, K))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert value == pytest.approx(ref_value, rel=rtol)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol * 10, atol=rtol * 1e-1)


@pytest.mark.parametrize("structure", ["vector", "matrix"])
def test_gradient_and_hessian_products_match_finite_differences(structure):
    rng = np.random.RandomState(1)
    L, y = make_scores(300, 4)
    Z = log_probabilities(L, "logits")
    sw = rng.rand(len(y))
    weights = penalty_weights(structure, 4, 0.05, 0.1, 0.2)
    coef = random_coef(structure, 4, rng)
    direction = rng.randn(len(coef))
    objective = scaling_objective(Z, y, sw, structure, weights)
    eps = 1e-6
    with objective:
        _, grad = objective.loss_gradient(coef)
        plus, g_plus = objective.loss_gradient(coef + eps * direction)
        minus, g_minus = objective.loss_gradient(coef - eps * direction)
        product = objective.hessp(coef, direction)
    assert grad @ direction == pytest.approx((plus - minus) / (2 * eps), rel=1e-6)
    np.testing.assert_allclose(product, (g_plus - g_minus) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_vector_scaling_with_equal_scales_is_temperature_scaling():
    L, y = make_scores()
    ts = TemperatureCalibrator().fit(L, y)
    Z = log_probabilities(L, "logits")
    K = Z.shape[1]
    coef = np.concatenate([np.full(K, ts.beta_), np.zeros(K)])
    sw = np.ones(len(y))
    # the same probabilities, so the same NLL
    assert mean_nll(Z, y, sw, coef, "vector") == pytest.approx(ts.nll_, rel=1e-10)
    # the temperature is optimal along the equal-scales line: the scales'
    # gradients sum to zero there
    objective = scaling_objective(Z, y, sw, "vector", np.zeros(2 * K))
    _, grad = objective.loss_gradient(coef)
    assert abs(grad[:K].sum()) < 1e-6
    vs = VectorScalingCalibrator().fit(L, y)
    vs.coef_, vs.intercept_ = np.full(K, ts.beta_), np.zeros(K)
    np.testing.assert_allclose(vs.transform(L), ts.transform(L), rtol=1e-10, atol=1e-14)


def test_dirichlet_with_infinite_off_diagonal_penalty_is_vector_scaling():
    L, y = make_scores()
    logp = log_softmax(L, axis=1)
    vector = VectorScalingCalibrator(input="logits", alpha=0.0).fit(logp, y)
    diagonal = DirichletCalibrator(alpha=np.inf).fit(L, y)
    np.testing.assert_allclose(diagonal.coef_, vector.coef_, rtol=1e-12)
    np.testing.assert_allclose(diagonal.intercept_, vector.intercept_, rtol=1e-12, atol=1e-14)
    # a finite but huge penalty converges to the same map with a full matrix
    with warnings.catch_warnings():
        # the huge penalty makes the problem stiff: L-BFGS stops at max_iter close enough
        warnings.simplefilter("ignore", ConvergenceWarning)
        strong = DirichletCalibrator(alpha=1e6, intercept_alpha=0.0).fit(L, y)
    off = strong.coef_ - np.diag(np.diag(strong.coef_))
    assert np.abs(off).max() < 1e-3
    np.testing.assert_allclose(np.diag(strong.coef_), vector.coef_, rtol=1e-2)
    np.testing.assert_allclose(strong.transform(L), vector.transform(logp), atol=3e-3)


@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_richer_maps_beat_temperature_on_per_class_miscalibration(calibrator):
    calibrator = clone(calibrator)
    L, y = make_scores(4000)
    L_test, y_test = make_scores(4000, seed=1)
    ts = TemperatureCalibrator().fit(L, y)
    cal = calibrator.fit(L, y)
    assert cal.nll_ < ts.nll_
    test_nll = mean_nll(np.log(cal.transform(L_test)), y_test, np.ones(len(y_test)),
                        identity_coef("vector", 4), "vector")
    ts_nll = mean_nll(np.log(ts.transform(L_test)), y_test, np.ones(len(y_test)),
                      identity_coef("vector", 4), "vector")
    assert test_nll < ts_nll


@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_float32_kept_and_close_to_float64(calibrator):
    calibrator = clone(calibrator)
    L, y = make_scores()
    p64 = calibrator.fit(L, y).transform(L)
    p32 = calibrator.fit(L.astype(np.float32), y).transform(L.astype(np.float32))
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, atol=2e-3)


@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_weights_equal_repeated_rows(calibrator):
    calibrator = clone(calibrator)
    # SMS's strengths scale with the number of rows, which weights do not change
    if isinstance(calibrator, StructuredMatrixScalingCalibrator):
        pytest.skip("strengths depend on the row count")
    L, y = make_scores(600)
    reps = np.random.RandomState(0).randint(0, 3, len(y))
    weighted = calibrator.fit(L, y, sample_weight=reps).transform(L[:50])
    repeated = calibrator.fit(np.repeat(L, reps, axis=0), np.repeat(y, reps)).transform(L[:50])
    np.testing.assert_allclose(weighted, repeated, atol=1e-5)


@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_probabilities_and_logits_inputs(calibrator):
    calibrator = clone(calibrator)
    L, y = make_scores()
    P = softmax(L, axis=1)
    from_logits = calibrator.fit(L, y).transform(L)
    assert calibrator.input_kind_ == "logits"
    from_proba = calibrator.fit(P, y).transform(P)
    assert calibrator.input_kind_ == "probabilities"
    np.testing.assert_allclose(from_proba, from_logits, atol=1e-5)


@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_binary_one_dimensional_scores_and_classes(calibrator):
    calibrator = clone(calibrator)
    rng = np.random.RandomState(0)
    y = np.where(rng.rand(500) < 0.5, "no", "yes")
    s = 3.0 * (y == "yes") - 1.5 + 2.0 * rng.randn(500)
    P = calibrator.fit(s, y).transform(s)
    assert P.shape == (500, 2) and calibrator.classes_.tolist() == ["no", "yes"]
    assert calibrator.nll_ < mean_nll(log_probabilities(s[:, None], "logits"),
                                      (y == "yes").astype(np.int32), np.ones(500),
                                      identity_coef("vector", 2), "vector")
    # classes= gives the columns' labels in column order
    L, y_int = make_scores(300, 3)
    cal = calibrator.set_params(classes=["c", "a", "b"]).fit(L, np.array(["cab"[k] for k in y_int]))
    assert cal.get_feature_names_out()[0].endswith("_c")
    calibrator.set_params(classes=None)


@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_cross_validation_picks_from_the_grid_and_refits(calibrator):
    calibrator = clone(calibrator)
    L, y = make_scores(900, 3)
    alphas = [1e-3, 1e-1, 10.0]
    cal = calibrator.set_params(cv=3, alphas=alphas).fit(L, y)
    calibrator.set_params(cv=None, alphas=None)
    assert cal.alpha_ in alphas and cal.cv_scores_.shape == (3,)
    assert cal.cv_scores_[alphas.index(cal.alpha_)] == cal.cv_scores_.min()
    # the warm-started refit is the fit at that strength from the identity
    direct = calibrator.set_params(alpha=cal.alpha_, tol=1e-10).fit(L, y)
    calibrator.set_params(alpha=type(calibrator)().alpha, tol=1e-8)
    np.testing.assert_allclose(cal.nll_, direct.nll_, rtol=1e-5)


def test_cross_validation_warm_starts_along_the_grid():
    L, y = make_scores(900, 3)
    Z = log_probabilities(L, "logits")
    sw = np.ones(len(y))
    calls = []

    def weights_of(alpha, n_rows):
        calls.append(alpha)
        return penalty_weights("matrix", 3, alpha / 3, 0.0, alpha / 6)

    alpha, coef, _, scores = cross_validate_strength(
        Z, y, sw, "matrix", weights_of, np.array([1e-2, 1.0, 1e-4]), 2)
    # per fold strongest first, then the refit path down to the chosen strength
    assert calls[:3] == [1.0, 1e-2, 1e-4]
    ref, _ = fit_scaling(Z, y, sw, "matrix", weights_of(alpha, len(y)), tol=1e-9)
    np.testing.assert_allclose(mean_nll(Z, y, sw, coef, "matrix"),
                               mean_nll(Z, y, sw, ref, "matrix"), rtol=1e-6)


def test_sms_preprocessing_is_temperature_scaling_and_uniform_mixture():
    L, y = make_scores(1000)
    sms = StructuredMatrixScalingCalibrator().fit(L, y)
    ts = TemperatureCalibrator().fit(L, y)
    assert sms.temperature_ == pytest.approx(ts.temperature_, rel=1e-6)
    assert sms.mixture_weight_ == pytest.approx(1.0 / 1001)
    # strengths follow the paper's K^rho / n^tau (rho = tau = 1)
    w = sms._weights(None, 1000, 4)
    assert w[-1] == pytest.approx(4 / 1000) and w[1] == pytest.approx(12 / 1000)
    assert w[0] == pytest.approx(4 / 1000)


# ---------------------------------------------------------------------------
# Robustness: a warning, finite probabilities, never worse than the identity
# ---------------------------------------------------------------------------


def _identity_nll(cal, scores, y):
    kind = cal.input_kind_
    S = np.asarray(scores, dtype=np.float64)
    S = S[:, None] if S.ndim == 1 else S
    Z = log_probabilities(S, kind)
    classes = list(cal.classes_)
    y_enc = np.array([classes.index(v) for v in y], dtype=np.int32)
    return mean_nll(Z, y_enc, np.ones(len(y)), identity_coef("vector", Z.shape[1]), "vector")


def _separable():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 60)
    return 5.0 * np.eye(3)[y] + 0.1 * rng.rand(60, 3), y


def _absent_class():
    L, y = make_scores(200, 4)
    keep = y != 2
    return L[keep], y[keep]


def _more_classes_than_rows():
    rng = np.random.RandomState(0)
    return rng.randn(5, 8), np.array([0, 1, 2, 3, 1])


def _exact_zeros():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 100)
    P = softmax(2 * np.eye(3)[y] + rng.randn(100, 3), axis=1)
    P[:30, 0] = 0.0
    P[:30] /= P[:30].sum(axis=1, keepdims=True)
    P[:5, y[:5]] = 0.0    # confidently wrong: the label has probability 0
    P[:5] /= P[:5].sum(axis=1, keepdims=True)
    return P, y


def _one_row():
    return np.array([[2.0, 0.5, -1.0]]), np.array([1])


BAD_DATA = {
    "separable": (_separable, "separate the classes"),
    "absent class": (_absent_class, "no calibration rows"),
    "K > n": (_more_classes_than_rows, "calibration rows"),
    "exact zeros": (_exact_zeros, None),
    "one row": (_one_row, "single calibration row"),
}


@pytest.mark.parametrize("case", BAD_DATA)
@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_hard_data_warns_stays_finite_and_beats_identity(calibrator, case):
    calibrator = clone(calibrator)
    make, message = BAD_DATA[case]
    S, y = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cal = calibrator.fit(S, y, ) if case != "absent class" else calibrator.set_params(
            classes=[0, 1, 2, 3]).fit(S, y)
    calibrator.set_params(classes=None)
    texts = [str(w.message) for w in caught if issubclass(w.category, CalibrationWarning)]
    if message is not None:
        assert any(message in t for t in texts), texts
    P = cal.transform(S)
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=1), 1.0)
    assert np.all(np.isfinite(cal.coef_)) and np.all(np.isfinite(cal.intercept_))
    assert cal.nll_ <= _identity_nll(cal, S, y) + 1e-12


def test_huge_logits_give_finite_probabilities():
    L, y = make_scores(300)
    L = L * 1e300
    for cal in CALIBRATORS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CalibrationWarning)
            P = cal.fit(L, y).transform(L)
        assert np.all(np.isfinite(P))


# ---------------------------------------------------------------------------
# Bad input: a clear error, nothing changed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("calibrator", CALIBRATORS, ids=lambda c: repr(c))
def test_bad_input(calibrator):
    calibrator = clone(calibrator)
    L, y = make_scores(200, 3)
    with pytest.raises(NotFittedError):
        calibrator.transform(L)
    cal = calibrator.fit(L, y)
    before = (cal.coef_.copy(), cal.intercept_.copy())
    with pytest.raises(ValueError, match="classes"):
        calibrator.fit(L[:, :2], y)          # 2 columns for 3 labels
    with pytest.raises(ValueError, match="non-zero|sum to zero"):
        calibrator.fit(L, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="alphas"):
        calibrator.set_params(cv=2, alphas=[-1.0]).fit(L, y)
    calibrator.set_params(cv=None, alphas=None)
    np.testing.assert_array_equal(cal.coef_, before[0])    # the failed fits changed nothing
    np.testing.assert_array_equal(cal.intercept_, before[1])
    with pytest.raises(ValueError, match="features"):
        cal.transform(L[:, :2])
    P = softmax(L, axis=1)
    prob_cal = calibrator.set_params(input="probabilities")
    with pytest.raises(ValueError, match="sum to 1"):
        prob_cal.fit(P * 0.5, y)
    calibrator.set_params(input="auto")
    L_copy = L.copy()
    calibrator.fit(L, y).transform(L)
    np.testing.assert_array_equal(L, L_copy)    # inputs never modified


# ---------------------------------------------------------------------------
# The wrapper: method= is the calibration map, response_method= the scores
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method, calibrator", [
    ("temperature", TemperatureCalibrator),
    ("vector", VectorScalingCalibrator),
    ("dirichlet", DirichletCalibrator),
    ("sms", StructuredMatrixScalingCalibrator),
])
def test_wrapper_methods(method, calibrator):
    from sklearn.datasets import load_iris
    from sklearn.svm import LinearSVC

    from skmax import CalibratedSoftmaxClassifier, TemperatureCalibratedClassifier

    X, y = load_iris(return_X_y=True)
    for cls in (CalibratedSoftmaxClassifier, TemperatureCalibratedClassifier):
        clf = cls(LinearSVC(), method=method, cv=3).fit(X, y)
        assert isinstance(clf.calibrators_[0], calibrator)
        assert clf.method_ == method and clf.response_method_ == "decision_function"
        assert hasattr(clf, "temperatures_") == (method == "temperature")
        P = clf.predict_proba(X)
        assert np.allclose(P.sum(axis=1), 1.0) and np.all(np.isfinite(P))


def test_wrapper_old_method_names_are_response_methods_with_a_warning():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from skmax import TemperatureCalibratedClassifier

    X, y = load_iris(return_X_y=True)
    with pytest.warns(FutureWarning, match="response_method='predict_proba'"):
        old = TemperatureCalibratedClassifier(LogisticRegression(), method="predict_proba",
                                              cv=3).fit(X, y)
    new = TemperatureCalibratedClassifier(LogisticRegression(), cv=3,
                                          response_method="predict_proba").fit(X, y)
    assert old.method_ == "temperature" and old.response_method_ == "predict_proba"
    np.testing.assert_allclose(old.predict_proba(X), new.predict_proba(X))
    with pytest.raises(ValueError, match="calibration method"):
        TemperatureCalibratedClassifier(LogisticRegression(), method="predict_proba",
                                        response_method="decision_function").fit(X, y)
