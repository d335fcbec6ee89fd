"""Minibatch solvers 'sgd' / 'adam' and partial_fit."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from skmax import SoftmaxClassifier


def _data(n=300, K=4, seed=0):
    X, y = make_classification(n, 8, n_informative=6, n_classes=K, n_clusters_per_class=1,
                               random_state=seed)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("n_sampled", [None, 2])
@pytest.mark.parametrize("sparse", [False, True])
def test_partial_fit_chunks_match_one_fit_pass(solver, n_sampled, sparse):
    X, y = _data()
    X = sp.csr_matrix(X) if sparse else X
    rng = np.random.default_rng(0)
    sw = rng.uniform(0.5, 2, size=y.shape[0])
    bs, C = 50, 2.0
    # 'uniform': the data-dependent samplers use the counts seen so far in
    # partial_fit, all the data in fit
    params = dict(solver=solver, batch_size=bs, shuffle=False, learning_rate_init=0.05,
                  n_sampled=n_sampled, sampler="uniform", random_state=0)
    ref = SoftmaxClassifier(C=C, max_iter=1, **params).fit(X, y, sample_weight=sw)
    inc = SoftmaxClassifier(**params)
    for start in range(0, y.shape[0], bs):
        sl = slice(start, start + bs)
        # a call's penalty is scaled by its chunk's weight: C_chunk targets the
        # objective of the whole data set
        inc.set_params(C=C * sw.sum() / sw[sl].sum())
        inc.partial_fit(X[sl], y[sl], classes=np.unique(y), sample_weight=sw[sl])
    np.testing.assert_allclose(inc.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(inc.intercept_, ref.intercept_, rtol=1e-5, atol=1e-7)
    assert inc.n_iter_ == y.shape[0] // bs and inc.t_ == y.shape[0]


def test_partial_fit_errors():
    X, y = _data()
    clf = SoftmaxClassifier(solver="adam")
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "classes_")
    clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="balanced"):
        SoftmaxClassifier(solver="sgd", class_weight="balanced").partial_fit(
            X, y, classes=[0, 1, 2, 3])
    assert not hasattr(SoftmaxClassifier(), "partial_fit")
    assert hasattr(SoftmaxClassifier(solver="sgd"), "partial_fit")


@pytest.mark.parametrize("solver, lr", [("sgd", 0.5), ("adam", 0.02)])
def test_full_batch_minibatch_solvers_reach_the_lbfgs_optimum(solver, lr):
    """With one batch the stochastic solvers minimise the same penalised objective."""
    X, y = _data()
    ref = SoftmaxClassifier(C=0.5, tol=1e-10, max_iter=1000).fit(X, y)
    clf = SoftmaxClassifier(C=0.5, solver=solver, learning_rate_init=lr, batch_size=len(y),
                            max_iter=3000, tol=0.0, n_iter_no_change=3000,
                            random_state=0)
    with pytest.warns(Warning):
        clf.fit(X, y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, atol=2e-3)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_minibatch_accuracy_and_attributes(solver):
    X, y = _data(n=1000)
    ref = SoftmaxClassifier().fit(X, y).score(X, y)
    clf = SoftmaxClassifier(solver=solver, learning_rate_init=0.05, batch_size=32,
                            random_state=0, max_iter=50).fit(X, y)
    assert clf.score(X, y) > ref - 0.03
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.t_ == clf.n_iter_ * len(y)
    assert clf.validation_scores_ is None
    es = SoftmaxClassifier(solver=solver, learning_rate_init=0.05, early_stopping=True,
                           random_state=0, max_iter=50).fit(X, y)
    assert len(es.validation_scores_) == es.n_iter_
    assert es.best_validation_score_ == max(es.validation_scores_)


def test_sgd_sparse_matches_dense():
    """'sgd' applies the penalty exactly (lazy scale), so sparse == dense."""
    X, y = _data()
    params = dict(solver="sgd", learning_rate_init=0.05, max_iter=5, random_state=0)
    d = SoftmaxClassifier(**params).fit(X, y)
    s = SoftmaxClassifier(**params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(s.coef_, d.coef_, rtol=1e-6, atol=1e-8)


def test_input_not_modified_and_float32():
    X, y = _data()
    X32 = X.astype(np.float32)
    X_copy = X32.copy()
    clf = SoftmaxClassifier(solver="adam", max_iter=2).fit(X32, y)
    assert clf.coef_.dtype == np.float32
    np.testing.assert_array_equal(X32, X_copy)
