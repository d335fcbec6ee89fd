"""SoftmaxClassifierCV against GridSearchCV over SoftmaxClassifier."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from skmax import SoftmaxClassifier, SoftmaxClassifierCV


def _data():
    X, y = make_classification(400, 12, n_informative=6, n_classes=4, flip_y=0.1,
                               random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("scoring, l1_ratios, n_jobs", [
    (None, (0.0,), None), ("neg_log_loss", (0.0,), 2), ("neg_log_loss", (0.0, 0.5, 1.0), 2)])
def test_matches_grid_search(scoring, l1_ratios, n_jobs):
    X, y = _data()
    # up to C=10: weaker L1 penalties converge slowly (OWL-QN in the flat
    # direction of adding one vector to every class's row of W)
    Cs = np.logspace(-3, 1, 6)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    options = dict(label_smoothing=0.05, temperature=1.5, tol=1e-8, max_iter=5000)
    with warnings.catch_warnings():
        # OWL-QN may stop at rounding level a little above tol (both sides alike)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = SoftmaxClassifierCV(Cs=Cs, l1_ratios=l1_ratios, cv=cv, scoring=scoring,
                                   n_jobs=n_jobs, **options).fit(X, y)
        grid = GridSearchCV(SoftmaxClassifier(penalty="elasticnet", **options),
                            {"l1_ratio": list(l1_ratios), "C": list(Cs)}, cv=cv,
                            scoring=scoring).fit(X, y)
    # GridSearchCV's grid is C-major (sorted keys, the last varies fastest). Warm
    # and cold starts stop at different points within tol; with an L1 part,
    # OWL-QN's rounding-level stop is looser at the weakest penalties
    rtol = 1e-6 if max(l1_ratios) == 0 else 1e-4
    np.testing.assert_allclose(ours.scores_.transpose(0, 2, 1).reshape(4, -1),
                               np.array([grid.cv_results_[f"split{k}_test_score"]
                                         for k in range(4)]), rtol=rtol, atol=1e-9)
    assert ours.C_ == grid.best_params_["C"]
    assert ours.l1_ratio_ == grid.best_params_["l1_ratio"]
    best = grid.best_estimator_
    # the same refit up to tol: ours starts from the folds' mean solution
    np.testing.assert_allclose(ours.coef_, best.coef_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, best.intercept_, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), best.predict_proba(X), rtol=0,
                               atol=1e-6)
    assert ours.coefs_paths_.shape == (4, len(l1_ratios), 6, 4, 13)
    assert ours.n_iters_.shape == (4, len(l1_ratios), 6)


def test_warm_starts_cut_the_iterations():
    X, y = _data()
    Cs = np.logspace(-2, 2, 8)
    cv = StratifiedKFold(3)
    path = SoftmaxClassifierCV(Cs=Cs, cv=cv, tol=1e-8, max_iter=5000).fit(X, y)
    train = next(iter(cv.split(X, y)))[0]
    cold = [SoftmaxClassifier(C=C, tol=1e-8, max_iter=5000).fit(X[train], y[train]).n_iter_
            for C in Cs]
    assert path.n_iters_[0, 0].sum() < sum(cold)


def test_refit_false_averages_the_folds():
    X, y = _data()
    model = SoftmaxClassifierCV(Cs=4, cv=3, refit=False, max_iter=500).fit(X, y)
    best_C = int(np.flatnonzero(model.Cs_ == model.C_)[0])
    mean = model.coefs_paths_[:, 0, best_C].mean(axis=0)
    np.testing.assert_allclose(model.coef_, mean[:, :-1])
    np.testing.assert_allclose(model.intercept_, mean[:, -1])
    assert model.predict(X).shape == y.shape


def test_sparse_float32_binary_and_weights():
    X, y = make_classification(300, 20, random_state=1)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    sw = np.random.default_rng(0).uniform(0.5, 2, len(y))
    dense = SoftmaxClassifierCV(Cs=5, cv=3, l1_ratios=(1.0,), tol=1e-6,
                                max_iter=1000).fit(X, y, sample_weight=sw)
    sparse = SoftmaxClassifierCV(Cs=5, cv=3, l1_ratios=(1.0,), tol=1e-6,
                                 max_iter=1000).fit(sp.csr_matrix(X), y, sample_weight=sw)
    assert dense.coef_.dtype == np.float32 and dense.coef_.shape == (1, 20)
    assert dense.C_ == sparse.C_
    # tol=1e-6 is below what float32 resolves: the two fits stop at points
    # whose objectives agree to float32 rounding, while the L1 objective is
    # flat enough along some coefficients that those differ by up to ~1e-3
    sign = np.where(y == 1, 1.0, -1.0)

    def objective(model):
        z = X.astype(np.float64) @ model.coef_.ravel() + model.intercept_[0]
        penalty = np.abs(model.coef_.astype(np.float64)).sum() / model.C_
        return (sw @ np.logaddexp(0, -sign * z) + penalty) / sw.sum()

    assert objective(dense) == pytest.approx(objective(sparse), rel=1e-7)
    np.testing.assert_allclose(dense.coef_, sparse.coef_, atol=2e-3)


def test_bad_grid_is_rejected_and_changes_nothing():
    X, y = load_iris(return_X_y=True)
    model = SoftmaxClassifierCV(Cs=[1.0, -1.0])
    with pytest.raises(ValueError, match="Cs must be positive"):
        model.fit(X, y)
    assert not hasattr(model, "coef_")
    with pytest.raises(ValueError, match="needs solver='lbfgs'"):
        SoftmaxClassifierCV(l1_ratios=(1.0,), solver="newton-cg").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(Cs=3).fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="l1_ratios"):
        model.set_params(l1_ratios=(2.0,)).fit(X, y)
    np.testing.assert_array_equal(model.coef_, coef)
