"""Minibatch solvers 'sgd' / 'adam': the epoch loop, early stopping and partial_fit."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skmax import SoftmaxClassifier
from skmax._loss import SoftmaxLoss
from skmax._sgd import StochasticSolver, batch_size_for, new_solver, run_epochs


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


def _solver(X, K, solver="sgd", lr=0.05):
    config = dict(loss=SoftmaxLoss(), learning_rate=lr, n_sampled=None, sampler="uniform",
                  sampler_power=0.75, remove_accidental_hits=True)
    return new_solver(solver, X.dtype, np.zeros((K, X.shape[1])), np.zeros(K), np.ones(K),
                      (0, 1), fit_intercept=True, early_stopping=False, config=config)


def test_run_epochs_stopping_rule():
    X, y = _data()
    y = y.astype(np.int32)
    sw = np.ones(len(y))
    stopping = dict(C=1.0, batch_size="auto", shuffle=True, n_iter_no_change=3,
                    max_iter=20, verbose=0)
    # a tol no epoch can beat: the first epoch sets the best loss, then
    # n_iter_no_change + 1 epochs without improvement stop the loop, no warning
    solver = _solver(X, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        run_epochs(solver, X, y, sw, 20, tol=1e9, **stopping)
    history = solver.history
    assert history.n_iter == 5 == len(history.loss_curve)
    assert history.t == 5 * len(y) and history.best_loss == min(history.loss_curve)
    # tol=0 on a decreasing loss: runs every epoch, then warns
    solver = _solver(X, 4)
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        run_epochs(solver, X, y, sw, 5, tol=0.0, **stopping)
    assert solver.history.n_iter == 5
    assert solver.history.loss_curve[-1] < solver.history.loss_curve[0]


def test_batch_size_for():
    assert batch_size_for("auto", 1000) == 200
    assert batch_size_for("auto", 50) == 50
    assert batch_size_for(64, 10) == 10
    assert batch_size_for(64, 1000) == 64


def test_early_stopping_scores_with_the_estimator_prediction():
    # the solver's validation score and the estimator's predict share one
    # chunked-logits helper: same classes on the same data
    X, y = _data()
    clf = SoftmaxClassifier(solver="sgd", learning_rate_init=0.05, max_iter=3,
                            random_state=0, C=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    solver = StochasticSolver.from_state(clf._stochastic)
    assert solver.alpha != 1.0         # the lazy scale is applied
    np.testing.assert_array_equal(clf.classes_[solver.predict_index(X)], clf.predict(X))



@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_compiled_sampled_step_matches_the_numpy_step(solver, dtype, n_threads):
    # the one-call sampled step (dense X) against the step built of numpy calls,
    # from equal states and random streams: equal losses and parameters
    rng = np.random.default_rng(0)
    K, d, n, batch = 30, 7, 300, 50
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, K, n)
    sw = rng.uniform(0.5, 2.0, n)
    sw[:batch] = 0.0       # a batch without weight is skipped by both
    config = dict(loss=SoftmaxLoss(label_smoothing=0.1, n_threads=n_threads),
                  learning_rate=0.05, n_sampled=5, sampler="unigram", sampler_power=0.75,
                  remove_accidental_hits=True)
    solvers = [new_solver(solver, dtype, np.zeros((K, d)), np.zeros(K), np.bincount(y), (1, 2),
                          fit_intercept=True, early_stopping=False, config=config)
               for _ in range(2)]
    numpy_step, compiled = solvers
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for _ in range(3):
        for start in range(0, n, batch):
            idx = np.arange(start, start + batch)
            want = numpy_step.step(X[idx], y[idx], sw[idx], 0.01)
            got = compiled._compiled_sampled_step(X, idx, y.astype(np.intc), sw, 0.01)
            np.testing.assert_allclose(got, want, rtol=rtol)
    assert compiled.t == numpy_step.t
    for got, want in zip(compiled.coef(), numpy_step.coef()):
        assert np.abs(want).max() > 0
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
