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
