"""Regression tests of issue #20 ("never a silent wrong answer"), one per item,
each with the item's minimal reproduction."""

import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

import skmax
from skmax import SoftmaxClassifier, metrics
from skmax._sampling import CandidateSampler


# -- item 3: the sampler's proposal in log space --------------------------------
def test_unigram_proposal_with_huge_power_is_finite():
    sampler = CandidateSampler("unigram", [1e6, 10.0, 0.0], power=120)
    assert np.all(np.isfinite(sampler.log_q)) and np.isclose(sampler.q.sum(), 1.0)
    assert sampler.q[0] == pytest.approx(1.0)
    _, log_q = sampler.draw(4, np.random.default_rng(0))
    assert np.all(np.isfinite(log_q))


@pytest.mark.parametrize("kind", ["uniform", "unigram", "log_uniform"])
def test_proposal_matches_its_formula(kind):
    counts = np.array([5.0, 0.0, 30.0, 2.0])
    q = {"uniform": np.ones(4),
         "unigram": (counts + 1) ** 0.75,
         "log_uniform": np.log(([3, 5, 2, 4]) / np.array([2, 4, 1, 3])) / np.log(5)}[kind]
    np.testing.assert_allclose(CandidateSampler(kind, counts).q, q / q.sum(), rtol=1e-12)


def test_sampled_softmax_learns_with_huge_sampler_power():
    X, y = make_classification(3000, 20, n_informative=10, n_classes=20,
                               n_clusters_per_class=1, random_state=0)
    sw = np.full(len(y), 10.0)   # class totals ~1,500: 1,500 ** 120 overflows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxClassifier(solver="adam", n_sampled=5, sampler_power=120, max_iter=20,
                                learning_rate_init=0.01, random_state=0)
        clf.fit(X, y, sample_weight=sw)
    assert np.any(clf.coef_ != 0)
    assert clf.score(X, y) > 0.2   # chance: 0.05; it was 0.05 with coef_ == 0


# -- item 12: newton-cg in float32 with tol below float32 resolution -----------
def test_newton_cg_float32_stops_at_its_precision():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 1).astype(np.float32)
    y = (X[:, 0] + rng.randn(64) > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="float32 precision.*float64 X"):
        clf = SoftmaxClassifier(solver="newton-cg", tol=1e-10, max_iter=5000).fit(X, y)
    assert clf.n_iter_ < 50
    # float64 data reaches the same tol without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SoftmaxClassifier(solver="newton-cg", tol=1e-10).fit(X.astype(np.float64), y)


def test_overflowing_objective_is_a_clear_error():
    X = np.array([[3e38], [-0.13]], dtype=np.float32)
    with pytest.raises(ValueError, match="overflowed.*float32.*float64"):
        SoftmaxClassifier(solver="newton-cg", C=1e-8, temperature=0.05,
                          fit_intercept=False).fit(X, [0, 1])


# -- item 15: importing a source tree without built kernels ---------------------
def test_import_without_built_kernels_says_how_to_fix(tmp_path):
    source = os.path.dirname(skmax.__file__)
    shutil.copytree(source, tmp_path / "skmax",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    result = subprocess.run([sys.executable, "-c", "import skmax"], cwd=tmp_path,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode != 0
    assert "not built" in result.stderr and "build_ext --inplace" in result.stderr
    assert "circular import" not in result.stderr


# -- item 19: metrics accept float32 probabilities cast to float64 -----------
def test_metrics_accept_float32_probabilities_as_float64():
    X, y = make_classification(500, 10, n_informative=5, n_classes=4, random_state=0)
    X32 = X.astype(np.float32)
    P = SoftmaxClassifier().fit(X32, y).predict_proba(X32).astype(np.float64)
    assert np.abs(P.sum(axis=1) - 1).max() > np.sqrt(np.finfo(np.float64).eps)
    assert 0 <= metrics.expected_calibration_error(y, P) <= 1
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.expected_calibration_error(y, P * 1.001)


# -- phase 2 items ---------------------------------------------------------------
def _three_classes(n=200):
    return make_classification(n, 5, n_informative=3, n_classes=3, random_state=0)


@pytest.mark.parametrize("scale", [1e-310, 1e306])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "adam"])
def test_degenerate_sample_weights_are_normalised_or_rejected(scale, solver):
    """Item 4: subnormal weights gave NaN coef_, huge ones an untrained model."""
    X, y = _three_classes()
    sw = np.full(len(y), scale)
    clf = SoftmaxClassifier(solver=solver, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y, sample_weight=sw)
    except ValueError as exc:
        assert "sample_weight" in str(exc)
        return
    assert np.all(np.isfinite(clf.coef_)) and np.all(clf.n_iter_ > 0)


def test_balanced_class_weight_uses_weighted_counts():
    """Item 5: as scikit-learn 1.9, 'balanced' counts the sample weights."""
    from sklearn.linear_model import LogisticRegression

    X, y = _three_classes()
    sw = np.random.default_rng(0).uniform(0.1, 3, len(y))
    ours = SoftmaxClassifier(class_weight="balanced", tol=1e-10, max_iter=1000)
    theirs = LogisticRegression(class_weight="balanced", tol=1e-10, max_iter=1000)
    P = ours.fit(X, y, sample_weight=sw).predict_proba(X)
    Q = theirs.fit(X, y, sample_weight=sw).predict_proba(X)
    np.testing.assert_allclose(P, Q, atol=1e-6)


def test_partial_fit_after_early_stopping_fit():
    """Item 6: TypeError, after the failed call had applied one epoch."""
    X, y = _three_classes(300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxClassifier(solver="adam", early_stopping=True, max_iter=5,
                                random_state=0).fit(X, y)
    n_iter = np.ravel(clf.n_iter_)[0]
    clf.partial_fit(X, y)
    assert np.ravel(clf.n_iter_)[0] == n_iter + 1


def test_failed_fit_keeps_the_previous_model():
    """Item 7: a fit failing after validation replaced classes_ but not coef_."""
    X, y = _three_classes()
    clf = SoftmaxClassifier(solver="sgd").fit(X, y)
    before = {k: np.copy(v) for k, v in vars(clf).items() if k.endswith("_")}
    y_other = np.where(y == 2, 7, y)   # other classes: a fit would replace classes_
    clf.set_params(learning_rate_init=1e10)
    with pytest.raises(ValueError, match="learning_rate_init"):
        clf.fit(X, y_other)
    assert set(before) == {k for k in vars(clf) if k.endswith("_")}
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(clf, k), v)
    clf.predict(X)


def test_keyboard_interrupt_keeps_the_previous_model(monkeypatch):
    """Item 7: an interrupted fit leaves the previous fitted state intact."""
    from skmax import _objective

    X, y = _three_classes()
    clf = SoftmaxClassifier().fit(X, y)
    coef, classes = clf.coef_.copy(), clf.classes_.copy()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_objective.SoftmaxObjective, "loss_gradient", interrupt)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X[:50], np.where(y[:50] == 2, 9, y[:50]))
    np.testing.assert_array_equal(clf.coef_, coef)
    np.testing.assert_array_equal(clf.classes_, classes)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_coef_is_not_the_solvers_live_state(solver):
    """Item 8: a later partial_fit mutated the coef_ array a user held."""
    X, y = _three_classes()
    clf = SoftmaxClassifier(solver=solver, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    held, copy = clf.coef_, clf.coef_.copy()
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(held, copy)


def test_temperature_calibrator_bool_labels():
    """Item 9: arange() TypeError with bool labels and three score columns."""
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((40, 3))
    y = rng.random(40) < 0.5
    cal = skmax.TemperatureCalibrator().fit(scores, y)
    np.testing.assert_array_equal(cal.classes_, [0, 1, 2])
    assert cal.transform(scores).shape == (40, 3)


@pytest.mark.parametrize("n_jobs", [2**31, 500])
def test_n_jobs_is_capped_at_the_cpu_count(n_jobs):
    """Item 10: 2**31 overflowed at prediction, 500 started 500 threads."""
    from skmax._threads import n_threads_from_n_jobs

    X, y = _three_classes()
    clf = SoftmaxClassifier(n_jobs=n_jobs).fit(X, y)
    clf.predict_proba(X)
    assert n_threads_from_n_jobs(n_jobs) <= os.cpu_count()


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("n_sampled", [None, 1])
def test_skops_round_trip_trusts_only_public_classes(solver, n_sampled):
    """Item 16: the fitted state of a stochastic fit held private objects."""
    sio = pytest.importorskip("skops.io")
    X, y = _three_classes()
    clf = SoftmaxClassifier(solver=solver, n_sampled=n_sampled, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    dumped = sio.dumps(clf)
    assert sio.get_untrusted_types(data=dumped) == ["skmax._softmax.SoftmaxClassifier"]
    loaded = sio.loads(dumped, trusted=["skmax._softmax.SoftmaxClassifier"])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        loaded.partial_fit(X, y)
        clf.partial_fit(X, y)
    np.testing.assert_allclose(loaded.coef_, clf.coef_)


def test_warnings_point_at_the_users_call():
    """Item 17: ConvergenceWarning and TemperatureScalingWarning named library lines."""
    X, y = _three_classes()
    for fit in (lambda: SoftmaxClassifier(max_iter=1).fit(X, y),
                lambda: SoftmaxClassifier(solver="adam", max_iter=1).fit(X, y),
                lambda: skmax.TemperatureCalibrator().fit(np.eye(3)[y], y)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        assert caught and all(w.filename == __file__ for w in caught), [
            (w.filename, w.lineno) for w in caught]


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "adam"])
def test_n_iter_is_an_array_of_shape_1(solver):
    """Item 18: as LogisticRegression."""
    X, y = _three_classes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxClassifier(solver=solver, max_iter=5).fit(X, y)
    assert isinstance(clf.n_iter_, np.ndarray) and clf.n_iter_.shape == (1,)


def test_temperature_docstring_states_the_equivalence():
    """Item 20: T at fit time is equivalent to C / T**2."""
    doc = " ".join(SoftmaxClassifier.__doc__.split())
    assert "C / T**2" in doc


def test_verbose_prints_validation_score_and_time(capsys):
    """Item 22: early stopping's validation score and the elapsed time per epoch."""
    X, y = _three_classes(300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SoftmaxClassifier(solver="adam", early_stopping=True, max_iter=3, verbose=1,
                          random_state=0).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) >= 3
    assert all("validation score" in line and "s" in line.split()[-1] for line in lines[:3])


def _peak_bytes(func):
    import tracemalloc

    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_low_memory_makes_no_copy_of_X():
    """Item 11: opt out of the column-compaction copy and newton-cg's float32 copy."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 50))
    X[:, :10] = 0.0                      # compacted by default
    y = rng.integers(5, size=20_000)
    fits = {}
    peaks = {}
    for low_memory in (False, True):
        clf = SoftmaxClassifier(solver="newton-cg", max_iter=3, low_memory=low_memory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            peaks[low_memory] = _peak_bytes(lambda clf=clf: clf.fit(X, y))
        fits[low_memory] = clf
    # the default copies: 0.8 X (compacted) and 0.4 X (float32 of the compacted)
    assert peaks[True] < peaks[False] - 0.8 * X.nbytes
    np.testing.assert_allclose(fits[True].predict_proba(X), fits[False].predict_proba(X),
                               atol=1e-4)


def test_early_stopping_scores_in_bounded_chunks(monkeypatch):
    """Item 11: early stopping's scoring held several validation x K arrays."""
    from skmax import _prediction

    monkeypatch.setattr(_prediction, "_PREDICT_CHUNK_BYTES", 1 << 16)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 5))
    y = np.arange(10_000) % 1000         # 1,000 classes: 1,000 x 1,000 validation logits
    peaks = {}
    for early_stopping in (False, True):
        clf = SoftmaxClassifier(solver="sgd", max_iter=1, early_stopping=early_stopping,
                                random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            peaks[early_stopping] = _peak_bytes(lambda clf=clf: clf.fit(X, y))
    full_logits = 1000 * 1000 * 8
    assert peaks[True] - peaks[False] < full_logits / 2


def test_decision_function_peaks_at_its_output():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 5))
    clf = SoftmaxClassifier(max_iter=5).fit(X, np.arange(20_000) % 50)
    out_bytes = 20_000 * 50 * 8
    assert _peak_bytes(lambda: clf.decision_function(X)) < 1.3 * out_bytes


def test_interrupted_partial_fit_keeps_the_previous_call(monkeypatch):
    """Item 7 for partial_fit: the previous call's model stays, the next call
    restarts the optimiser from it."""
    from skmax import _sgd

    X, y = _three_classes()
    clf = SoftmaxClassifier(solver="adam", random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    coef = clf.coef_.copy()
    epoch = _sgd.StochasticSolver.epoch

    def interrupted(self, *args, **kwargs):
        self.V += 1.0          # a half-done epoch has moved the working weights
        raise KeyboardInterrupt

    monkeypatch.setattr(_sgd.StochasticSolver, "epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.coef_, coef)
    monkeypatch.setattr(_sgd.StochasticSolver, "epoch", epoch)
    clf.partial_fit(X, y)
    assert np.abs(clf.coef_ - coef).max() < 0.1   # continued from coef, not from coef + 1
