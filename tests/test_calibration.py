import warnings

import numpy as np
import pytest
from sklearn.calibration import _TemperatureScaling
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from skmax import (
    TemperatureCalibratedClassifier,
    TemperatureCalibrator,
    TemperatureScalingWarning,
    _temperature_kernels,
)
from skmax._calibration import TEMPERATURE_RANGE, fit_temperature

from reference import softmax, temperature_mean_nll


def make_scores(n=2000, K=5, scale=2.5, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, K, n)
    L = scale * (2.0 * np.eye(K)[y] + 1.5 * rng.randn(n, K))
    return L.astype(dtype), y


def test_kernel_derivatives_match_finite_differences():
    L, y = make_scores(300, 4)
    sw = np.random.RandomState(1).rand(300)
    y32 = y.astype(np.int32)
    for beta in (0.05, 0.4, 3.0):
        f, g, h = _temperature_kernels.temperature_nll(L, y32, sw, beta, 2)
        assert f == pytest.approx(temperature_mean_nll(L, y, beta, sw) * sw.sum(), rel=1e-12)
        eps = 1e-5 * beta
        fp, gp, _ = _temperature_kernels.temperature_nll(L, y32, sw, beta + eps, 1)
        fm, gm, _ = _temperature_kernels.temperature_nll(L, y32, sw, beta - eps, 1)
        assert g == pytest.approx((fp - fm) / (2 * eps), rel=1e-6)
        assert h == pytest.approx((gp - gm) / (2 * eps), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [2, 3, 10, 50])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_matches_sklearn_temperature_scaling(dtype, K, weighted):
    L, y = make_scores(3000, K, dtype=dtype, seed=K)
    sw = np.random.RandomState(0).randint(0, 4, len(y)).astype(float) if weighted else None
    cal = TemperatureCalibrator().fit(L, y, sample_weight=sw)
    sk = _TemperatureScaling().fit(L, y, sample_weight=sw)
    ours = temperature_mean_nll(L, y, cal.beta_, sw)
    theirs = temperature_mean_nll(L, y, float(sk.beta_), sw)
    assert ours <= theirs * (1 + 1e-7)
    assert ours == pytest.approx(theirs, rel=1e-7)
    assert cal.nll_ == pytest.approx(ours, rel=1e-9)
    assert cal.temperature_ == pytest.approx(1 / float(sk.beta_), rel=1e-3)


def test_binary_1d_convention_vs_sklearn():
    # 1-D score s is the positive logit: p1 = sigmoid(s / T). scikit-learn reads it as
    # the logits (-s, s), i.e. p1 = sigmoid(2 s beta_sk): T_ours = T_sklearn / 2.
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 2000)
    s = 3.0 * (2 * y - 1) + 2.5 * rng.randn(2000)
    cal = TemperatureCalibrator().fit(s, y)
    sk = _TemperatureScaling().fit(s, y)
    assert cal.temperature_ == pytest.approx(0.5 / float(sk.beta_), rel=1e-6)
    P = cal.transform(s)
    assert P.shape == (2000, 2)
    np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-s / cal.temperature_)), rtol=1e-12)
    np.testing.assert_allclose(P, sk.predict(s), rtol=1e-6, atol=1e-12)
    assert cal.n_features_in_ == 1
    np.testing.assert_array_equal(cal.classes_, [0, 1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_transform_is_softmax_over_T_and_keeps_dtype(dtype):
    L, y = make_scores(500, 6, dtype=dtype)
    L_orig = L.copy()
    cal = TemperatureCalibrator().fit(L, y)
    P = cal.transform(L)
    assert P.dtype == dtype
    np.testing.assert_array_equal(L, L_orig)  # inputs not modified
    tol = 1e-12 if dtype == np.float64 else 1e-6
    expected = softmax(L.astype(np.float64) / cal.temperature_)
    np.testing.assert_allclose(P, expected, rtol=tol, atol=tol)
    assert cal.get_feature_names_out().tolist() == [f"temperaturecalibrator_{k}" for k in range(6)]


def test_probability_input_auto_and_floor():
    L, y = make_scores(1000, 4)
    proba = softmax(L)
    proba[0] = [1.0, 0.0, 0.0, 0.0]  # exact zeros -> floored at 1e-12
    cal = TemperatureCalibrator().fit(proba, y)
    assert cal.input_kind_ == "probabilities"
    logits = np.log(np.maximum(proba, 1e-12))
    ref = TemperatureCalibrator(input="logits").fit(logits, y)
    assert ref.input_kind_ == "logits"
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=1e-12)
    np.testing.assert_allclose(cal.transform(proba), ref.transform(logits), rtol=1e-12)
    # 1-D probabilities of the positive class
    p1 = 1 / (1 + np.exp(-L[:, 0]))
    yb = (L[:, 0] + np.random.RandomState(0).randn(1000) > 0).astype(int)
    c1 = TemperatureCalibrator(input="probabilities").fit(p1, yb)
    assert c1.transform(p1).shape == (1000, 2)
    # auto with 1-D is always logits
    assert TemperatureCalibrator().fit(p1, yb).input_kind_ == "logits"


def test_huge_scores_finite():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 50)
    L = 1e300 * rng.randn(50, 3)
    L[np.arange(50), y] = 1e308
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TemperatureScalingWarning)
        cal = TemperatureCalibrator().fit(L, y)
    P = cal.transform(L)
    assert np.isfinite(cal.temperature_) and cal.temperature_ > 0
    assert np.all(np.isfinite(P))
    L32 = (3e38 * np.clip(rng.randn(50, 3), -1, 1)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TemperatureScalingWarning)
        cal = TemperatureCalibrator().fit(L32, y)
    assert np.all(np.isfinite(cal.transform(L32)))


def test_separable_constant_single_row():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 100)
    L = np.eye(3)[y] * 5 + 0.1 * rng.rand(100, 3)  # separable
    with pytest.warns(TemperatureScalingWarning, match="separate"):
        cal = TemperatureCalibrator().fit(L, y)
    spread = np.ptp(L, axis=1).max()
    assert cal.temperature_ == pytest.approx(spread * 1e-6, rel=1e-9)
    assert np.all(np.isfinite(cal.transform(L)))
    with pytest.warns(TemperatureScalingWarning, match="constant"):
        cal = TemperatureCalibrator().fit(np.ones((10, 3)), rng.randint(0, 3, 10))
    assert cal.temperature_ == 1.0
    with pytest.warns(TemperatureScalingWarning, match="single sample"):
        cal = TemperatureCalibrator().fit([[0.0, 1.0, 2.0]], [1], )
    assert cal.temperature_ == 1.0
    # anti-informative scores: the optimum runs to T -> inf
    with pytest.warns(TemperatureScalingWarning, match="T -> inf"):
        cal = TemperatureCalibrator().fit(-L, y)
    assert cal.temperature_ == pytest.approx(spread * 1e6, rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity"),
                                            (-np.inf, "infinity")])
@pytest.mark.parametrize("row", [0, 57, -1])
@pytest.mark.parametrize("input", ["auto", "logits", "probabilities"])
def test_non_finite_scores_raise_scikit_learn_error(dtype, value, message, row, input):
    # logits are checked by the fit's first kernel pass, not by the input
    # validation; the error is the same, whatever the row and its weight
    L, y = make_scores(100, 3)
    scores = softmax(L) if input == "probabilities" else L
    fitted = TemperatureCalibrator(input=input).fit(scores.astype(dtype), y)
    before = fitted.temperature_
    bad = scores.astype(dtype)
    bad[row, 1] = value
    sw = np.ones(100)
    sw[row] = 0.0
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        fitted.fit(bad, y, sample_weight=sw)
    assert fitted.temperature_ == before        # the failed fit changed nothing
    assert not np.isfinite(bad[row, 1])         # nor the input


def test_bad_inputs():
    L, y = make_scores(100, 3)
    with pytest.raises(ValueError, match="NaN"):
        TemperatureCalibrator().fit(np.where(L > 3, np.nan, L), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TemperatureCalibrator().fit(L, y[:-1])
    with pytest.raises(ValueError, match="distinct labels"):
        TemperatureCalibrator().fit(L, np.array(["a", "b", "c", "d"] * 25))
    with pytest.raises(ValueError, match="not in classes"):
        TemperatureCalibrator(classes=[0, 1, 5]).fit(L, y)
    with pytest.raises(ValueError, match="negative"):
        TemperatureCalibrator(input="probabilities").fit(L, y)
    with pytest.raises(ValueError, match="sum to 1"):
        TemperatureCalibrator(input="probabilities").fit(np.full((100, 3), 0.2), y)
    with pytest.raises(InvalidParameterError):
        TemperatureCalibrator(input="logit").fit(L, y)
    with pytest.raises(NotFittedError):
        TemperatureCalibrator().transform(L)
    cal = TemperatureCalibrator().fit(L, y)
    with pytest.raises(ValueError, match="features"):
        cal.transform(L[:, :2])
    with pytest.raises(ValueError, match="non-zero"):
        TemperatureCalibrator().fit(L, y, sample_weight=np.zeros(100))


def test_pipeline_and_classes_param():
    X, y = make_classification(400, n_informative=6, n_classes=3, random_state=0)
    lr = LogisticRegression().fit(X, y)
    pipe = make_pipeline(FunctionTransformer(lr.decision_function), TemperatureCalibrator())
    P = pipe.fit(X, y).transform(X)
    assert P.shape == (400, 3)
    # string labels mapped to columns in the given order
    labels = np.array(["c", "a", "b"])
    cal = TemperatureCalibrator(classes=labels).fit(lr.decision_function(X), labels[y])
    np.testing.assert_array_equal(cal.classes_, labels)
    ref = TemperatureCalibrator().fit(lr.decision_function(X), y)
    assert cal.temperature_ == pytest.approx(ref.temperature_, rel=1e-12)


@pytest.mark.parametrize("ensemble", [False, True])
def test_wrapper_calibrates(ensemble):
    X, y = make_classification(1500, n_informative=8, n_classes=4, random_state=0)
    clf = TemperatureCalibratedClassifier(GaussianNB(), cv=3, ensemble=ensemble).fit(X, y)
    assert clf.response_method_ == "predict_proba"
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert len(clf.estimators_) == (3 if ensemble else 1)
    assert clf.temperatures_.shape == (len(clf.estimators_),)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[P.argmax(axis=1)])


def test_wrapper_frozen_and_gridsearch():
    X, y = load_iris(return_X_y=True)
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    clf = TemperatureCalibratedClassifier(FrozenEstimator(lr)).fit(X, y)
    assert clf.estimators_[0] is not None and clf.response_method_ == "decision_function"
    cal = TemperatureCalibrator().fit(lr.decision_function(X), y)
    assert clf.temperatures_[0] == pytest.approx(cal.temperature_)
    gs = GridSearchCV(
        TemperatureCalibratedClassifier(LogisticRegression(max_iter=1000), cv=3),
        {"estimator__C": [0.1, 1.0]}, cv=3, scoring="neg_log_loss",
    ).fit(X, y)
    assert gs.best_params_["estimator__C"] in (0.1, 1.0)


def test_fit_returns_self_read_only_input_and_params_kept():
    # what the three expected-failed common checks verify, on scores that have
    # one column per class
    from sklearn.base import clone
    from sklearn.utils._testing import create_memmap_backed_data

    L, y = make_scores(200, 3)
    L_ro, y_ro = create_memmap_backed_data([L, y])
    cal = TemperatureCalibrator()
    params = clone(cal).get_params()
    assert cal.fit(L_ro, y_ro) is cal
    assert cal.get_params() == params
    np.testing.assert_allclose(cal.transform(L_ro), TemperatureCalibrator().fit(L, y).transform(L))


def _fit(L, y, sw=None):
    """fit_temperature on finite scores, with the scale the calibrator computes."""
    L = np.ascontiguousarray(L)
    rows = slice(None) if sw is None else sw > 0
    scale = float((L.max(axis=1) - L.min(axis=1))[rows].max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # pure: the caller warns, not the fit
        return fit_temperature(L, np.asarray(y, dtype=np.int32), sw, scale, 1), scale


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_temperature_minimises_the_reference_nll(weighted):
    from scipy.optimize import minimize_scalar

    L, y = make_scores(500, 4)
    sw = np.random.RandomState(2).rand(500) if weighted else None
    fit, _ = _fit(L, y, sw)
    assert fit.status is None and fit.n_evaluations >= 1
    total = 500.0 if sw is None else sw.sum()
    assert fit.nll == pytest.approx(temperature_mean_nll(L, y, fit.beta, sw) * total, rel=1e-10)
    ref = minimize_scalar(lambda t: temperature_mean_nll(L, y, np.exp(t), sw),
                          bracket=(-3.0, 1.0), tol=1e-12)
    assert fit.beta == pytest.approx(np.exp(ref.x), rel=1e-5)
    assert fit.nll / total <= ref.fun * (1 + 1e-12)


def test_fit_temperature_flags_instead_of_warning():
    L, y = make_scores(200, 3)
    # every label a row maximum: the upper bound of beta (T -> 0)
    sep = L.copy()
    sep[np.arange(200), y] = sep.max(axis=1) + 1.0
    fit, scale = _fit(sep, y)
    assert fit.status == "upper" and fit.beta == TEMPERATURE_RANGE / scale
    # every label a row minimum: the NLL grows with beta, the lower bound (T -> inf)
    anti = L.copy()
    anti[np.arange(200), y] = anti.min(axis=1) - 1.0
    fit, scale = _fit(anti, y)
    assert fit.status == "lower" and fit.beta == pytest.approx(1.0 / (scale * TEMPERATURE_RANGE))
    # constant rows and a single sample: beta = 1
    fit = fit_temperature(np.ones((5, 3)), np.zeros(5, dtype=np.int32), None, 0.0, 1)
    assert (fit.status, fit.beta) == ("constant", 1.0)
    assert fit.nll == pytest.approx(5 * np.log(3))
    fit, _ = _fit(L[:1], y[:1])
    assert (fit.status, fit.beta) == ("single", 1.0)


def test_fit_temperature_warm_start_subset_reaches_the_same_optimum(monkeypatch):
    import skmax._calibration as calibration

    L, y = make_scores(4000, 5)
    full, _ = _fit(L, y)
    monkeypatch.setattr(calibration, "_WARM_START_ROWS", 100)   # 4000 >= 4 * 100 rows
    warm, _ = _fit(L, y)
    assert warm.status is None and warm.n_evaluations != full.n_evaluations
    assert warm.beta == pytest.approx(full.beta, rel=1e-9)
    assert warm.nll == pytest.approx(full.nll, rel=1e-12)

