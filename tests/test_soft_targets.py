"""Soft targets: rows of class probabilities in place of labels, from the row
kernel to the estimator, against the numpy reference."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from cases import OPTIONS, RTOL, random_logits
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmax import SoftmaxClassifier
from skmax._loss import SoftmaxLoss
from skmax._objective import SoftmaxObjective
from skmax.metrics import soft_log_loss, soft_log_loss_scorer

import reference as ref


def _soft(n, K, seed=0):
    """Random target distributions, some rows with exact zeros."""
    rng = np.random.default_rng(seed)
    t = rng.dirichlet(np.full(K, 0.5), size=n)
    t[::3, 0] = 0.0
    return t / t.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", OPTIONS)
def test_row_kernel_matches_reference(dtype, options):
    T, eps, gamma = options
    a, _, sw = random_logits(40, 5, dtype, seed=4)
    t = _soft(40, 5)
    raw = a.copy()
    total = SoftmaxLoss(T, eps, gamma, n_threads=2).loss_gradient(raw, t, sw)
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(total, sw @ ref.row_losses(a64, t, T, eps, gamma),
                               rtol=RTOL[dtype])
    expected = sw[:, None] * ref.row_gradients(a64, t, T, eps, gamma)
    np.testing.assert_allclose(raw, expected, rtol=RTOL[dtype],
                               atol=RTOL[dtype] * np.abs(expected).max())


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("sparse", [False, True])
def test_objective_matches_reference_and_finite_differences(options, sparse):
    T, eps, gamma = options
    rng = np.random.default_rng(1)
    n, d, K = 90, 6, 4
    X = rng.normal(size=(n, d))
    t, sw = _soft(n, K, seed=2), rng.uniform(0.2, 2.0, n)
    coef = rng.normal(size=K * (d + 1)) * 0.5
    obj = SoftmaxObjective(sp.csr_matrix(X) if sparse else X, t, sw, K,
                           SoftmaxLoss(T, eps, gamma), C=0.5, block_rows=17)
    value, grad = obj.loss_gradient(coef)

    def f(c):
        W, b = obj.unpack(c)
        return ref.objective(W, b, X, t, sw, 0.5, T, eps, gamma)

    np.testing.assert_allclose(value, f(coef), rtol=1e-12)
    h = 1e-6
    fd = np.array([(f(coef + h * e) - f(coef - h * e)) / (2 * h) for e in np.eye(coef.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


def _data(K=3):
    X, y = make_classification(300, 8, n_informative=5, n_classes=K, random_state=0)
    return X, y


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize("class_weight", [None, {0: 2.0, 2: 0.5}, "balanced"])
def test_one_hot_targets_are_the_hard_labels(solver, class_weight):
    X, y = _data()
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    params = dict(solver=solver, class_weight=class_weight, temperature=1.5, tol=1e-10,
                  max_iter=1000)
    hard = SoftmaxClassifier(**params).fit(X, y, sample_weight=sw)
    soft = SoftmaxClassifier(**params).fit(X, np.eye(3)[y], sample_weight=sw)
    np.testing.assert_allclose(soft.coef_, hard.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(soft.intercept_, hard.intercept_, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(soft.classes_, np.arange(3))


@pytest.mark.parametrize("gamma", [0.0, 1.5])
def test_targets_mixed_with_uniform_are_label_smoothing(gamma):
    X, y = _data()
    eps = 0.2
    smoothed = SoftmaxClassifier(label_smoothing=eps, focal_gamma=gamma, tol=1e-10,
                                 max_iter=1000).fit(X, y)
    mixed = SoftmaxClassifier(focal_gamma=gamma, tol=1e-10, max_iter=1000).fit(
        X, (1 - eps) * np.eye(3)[y] + eps / 3)
    # the same objective through two kernel branches that round differently
    # (a maximal label's entry is computed from the rest of the sum): the two
    # L-BFGS paths stop at different points within tol
    np.testing.assert_allclose(mixed.coef_, smoothed.coef_, rtol=1e-5, atol=1e-7)


def test_minibatch_one_hot_targets_are_the_hard_labels():
    X, y = _data()
    params = dict(solver="adam", learning_rate_init=0.05, random_state=0, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        hard = SoftmaxClassifier(**params).fit(X, y)
        soft = SoftmaxClassifier(**params).fit(X, np.eye(3)[y])
    np.testing.assert_allclose(soft.coef_, hard.coef_, rtol=1e-6, atol=1e-9)
    a = SoftmaxClassifier(**params).partial_fit(X, y, classes=[0, 1, 2])
    b = SoftmaxClassifier(**params).partial_fit(X, np.eye(3)[y], classes=[0, 1, 2])
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-6, atol=1e-9)


def test_pipeline_and_cross_val_score_with_the_soft_scorer():
    X, y = _data()
    t = 0.7 * np.eye(3)[y] + 0.1
    model = make_pipeline(StandardScaler(), SoftmaxClassifier(C=0.5))
    scores = cross_val_score(model, X, t, cv=KFold(3), scoring=soft_log_loss_scorer)
    assert scores.shape == (3,) and np.all(scores < 0)
    fitted = model.fit(X, t)
    np.testing.assert_allclose(-soft_log_loss_scorer(fitted, X, t),
                               soft_log_loss(t, fitted.predict_proba(X)))


def test_soft_log_loss_is_log_loss_on_labels():
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(4), size=50)
    y = rng.integers(0, 4, 50)
    w = rng.uniform(0.5, 2, 50)
    np.testing.assert_allclose(soft_log_loss(y, P, sample_weight=w),
                               log_loss(y, P, sample_weight=w, labels=range(4)))
    np.testing.assert_allclose(soft_log_loss(np.eye(4)[y], P), log_loss(y, P))


@pytest.mark.parametrize("bad, match", [
    (lambda t: t * 2, "summing to 1"),
    (lambda t: np.column_stack([t[:, :1] + 0.5, t[:, 1:] - 0.5 * t[:, 1:2] / t[:, 1:2]]),
     "non-negative"),
])
def test_invalid_targets_are_rejected_and_change_nothing(bad, match):
    X, y = _data()
    t = np.eye(3)[y] * 0.8 + 0.2 / 3
    model = SoftmaxClassifier().fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match=match):
        model.fit(X, bad(t))
    np.testing.assert_array_equal(model.coef_, coef)
    t_before = t.copy()
    SoftmaxClassifier().fit(X, t)
    np.testing.assert_array_equal(t, t_before)     # inputs never modified


def test_soft_targets_reject_sampling_and_early_stopping():
    X, y = _data()
    t = np.eye(3)[y]
    with pytest.raises(ValueError, match="Soft targets need"):
        SoftmaxClassifier(solver="adam", n_sampled=1).fit(X, t)
    with pytest.raises(ValueError, match="Soft targets need"):
        SoftmaxClassifier(solver="adam", early_stopping=True).fit(X, t)


def test_sparse_and_float32_soft_fits():
    X, y = _data()
    t = _soft(len(y), 3, seed=5)
    dense = SoftmaxClassifier(tol=1e-10).fit(X, t)
    sparse = SoftmaxClassifier(tol=1e-10).fit(sp.csr_matrix(X), t)
    single = SoftmaxClassifier(tol=1e-6).fit(X.astype(np.float32), t.astype(np.float32))
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
    assert single.coef_.dtype == np.float32
    np.testing.assert_allclose(single.coef_, dense.coef_, rtol=1e-3, atol=1e-4)
