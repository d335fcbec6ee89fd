"""The L1 and elastic-net penalties (OWL-QN) against their optimality
conditions, the L2 solvers and scikit-learn's saga."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skmax import SoftmaxClassifier
from skmax._loss import SoftmaxLoss
from skmax._objective import SoftmaxObjective
from skmax._softmax import rows_per_class
from skmax._solvers import minimize_lbfgs, minimize_owlqn

import reference


def _wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("penalty, l1_ratio", [("l1", 1.0), ("elasticnet", 0.3)])
@pytest.mark.parametrize("options", [(1.0, 0.0, 0.0), (2.0, 0.1, 0.0), (1.0, 0.0, 1.5)])
@pytest.mark.parametrize("sparse", [False, True])
def test_solution_meets_the_optimality_conditions(penalty, l1_ratio, options, sparse):
    T, eps, gamma = options
    X, y = make_classification(300, 20, n_informative=6, n_classes=4, random_state=0)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    C = 0.05
    model = SoftmaxClassifier(penalty=penalty, l1_ratio=l1_ratio, C=C, temperature=T,
                              label_smoothing=eps, focal_gamma=gamma, tol=1e-7,
                              max_iter=5000)
    model.fit(sp.csr_matrix(X) if sparse else X, y, sample_weight=sw)
    W, b = rows_per_class(model.coef_, model.intercept_)
    grad_W, grad_b = reference.smooth_gradient(W, b, X, y, sw, C, T, eps, gamma, l1_ratio)
    strength = l1_ratio / C / sw.sum()
    assert reference.l1_optimality_violation(W, grad_W, grad_b, strength) <= 1e-7
    assert (model.coef_ == 0).sum() > 0                # exact zeros
    assert np.abs(model.coef_).min() == 0


def test_l1_at_large_C_equals_no_penalty():
    # without a penalty, adding one vector to every class's row of W changes
    # nothing: compare the identifiable parts, the probabilities and the
    # centred coefficients
    X, y = make_classification(1000, 5, n_informative=4, n_redundant=0, n_classes=3,
                               flip_y=0.3, random_state=1)
    free = SoftmaxClassifier(penalty=None, tol=1e-10, max_iter=5000).fit(X, y)
    inf_C = SoftmaxClassifier(C=np.inf, tol=1e-10, max_iter=5000).fit(X, y)
    l1 = SoftmaxClassifier(penalty="l1", C=1e8, tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(free.coef_, inf_C.coef_, rtol=1e-12)
    np.testing.assert_allclose(l1.predict_proba(X), free.predict_proba(X), atol=1e-6)

    def centred(coef):
        return coef - coef.mean(axis=0)

    np.testing.assert_allclose(centred(l1.coef_), centred(free.coef_), atol=1e-6)


def test_owlqn_without_l1_is_the_l2_solution():
    # elastic net at l1_ratio=0 is the L2 objective; OWL-QN run on it (no L1
    # term) finds the L-BFGS solution
    X, y = _wine()
    y = np.searchsorted(np.unique(y), y).astype(np.int32)
    objective = SoftmaxObjective(X, y, np.ones(len(y)), 3, SoftmaxLoss(), C=0.3, l1_ratio=0.0)
    coef0 = np.zeros(objective.n_params)
    owlqn, _ = minimize_owlqn(objective, coef0, tol=1e-10, max_iter=5000)
    lbfgs, _ = minimize_lbfgs(objective, coef0, tol=1e-10, max_iter=5000)
    np.testing.assert_allclose(owlqn, lbfgs, rtol=1e-6, atol=1e-8)
    en = SoftmaxClassifier(penalty="elasticnet", l1_ratio=0.0, C=0.3, tol=1e-10).fit(X, y)
    l2 = SoftmaxClassifier(C=0.3, tol=1e-10).fit(X, y)
    np.testing.assert_array_equal(en.coef_, l2.coef_)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("C", [0.05, 1.0])
def test_agrees_with_scikit_learn_saga(l1_ratio, C):
    X, y = _wine()
    penalty = "l1" if l1_ratio == 1 else "elasticnet"
    ours = SoftmaxClassifier(penalty=penalty, l1_ratio=l1_ratio, C=C, tol=1e-10,
                             max_iter=10000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, FutureWarning))
        saga = LogisticRegression(l1_ratio=l1_ratio, C=C, solver="saga", tol=1e-8,
                                  max_iter=100000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, saga.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, saga.intercept_, atol=1e-5)
    np.testing.assert_array_equal(ours.coef_ == 0, saga.coef_ == 0)


def test_sparse_dense_and_float32_agree():
    X, y = make_classification(300, 30, n_informative=5, n_classes=3, random_state=2)
    params = dict(penalty="l1", C=0.1, tol=1e-9, max_iter=5000)
    dense = SoftmaxClassifier(**params).fit(X, y)
    sparse = SoftmaxClassifier(**params).fit(sp.csr_matrix(X), y)
    single = SoftmaxClassifier(**{**params, "tol": 1e-5}).fit(X.astype(np.float32), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, atol=1e-7)
    assert single.coef_.dtype == np.float32
    np.testing.assert_allclose(single.coef_, dense.coef_, atol=1e-3)


def test_binary_l1_is_logistic_regression_l1():
    X, y = make_classification(300, 10, n_informative=4, random_state=3)
    ours = SoftmaxClassifier(penalty="l1", C=0.2, tol=1e-10, max_iter=5000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, FutureWarning))
        saga = LogisticRegression(l1_ratio=1.0, C=0.2, solver="saga", tol=1e-10,
                                  max_iter=100000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, saga.coef_, atol=1e-5)


@pytest.mark.parametrize("solver", ["newton-cg", "sgd", "adam"])
def test_l1_needs_lbfgs(solver):
    X, y = make_classification(50, 4, random_state=0)
    model = SoftmaxClassifier(penalty="l1", solver=solver)
    with pytest.raises(ValueError, match="needs solver='lbfgs'"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_not_converged_warns():
    X, y = make_classification(200, 10, random_state=0)
    with pytest.warns(ConvergenceWarning, match="OWL-QN"):
        SoftmaxClassifier(penalty="l1", C=0.1, tol=1e-12, max_iter=2).fit(X, y)
