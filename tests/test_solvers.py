"""The full-batch solvers ('lbfgs', 'newton-cg' and its truncated CG)."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from skmax import SoftmaxClassifier


def test_newton_cg_float32_hessian_products_on_large_problems(monkeypatch):
    # n * n_params >= 2**22: the Hessian products run in float32; the solution
    # still matches lbfgs to the tolerance
    from skmax._objective import SoftmaxObjective

    dtypes = []
    hessp = SoftmaxObjective.hessp

    def spy(self, coef, vector, dtype=None):
        dtypes.append(dtype)
        return hessp(self, coef, vector, dtype)

    monkeypatch.setattr(SoftmaxObjective, "hessp", spy)
    X, y = make_classification(5000, 100, n_informative=20, n_classes=10, random_state=0)
    newton = SoftmaxClassifier(solver="newton-cg", tol=1e-8).fit(X, y)
    assert dtypes and set(dtypes) == {np.float32}
    lbfgs = SoftmaxClassifier(solver="lbfgs", tol=1e-8, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(newton.coef_, lbfgs.coef_, rtol=1e-5, atol=1e-6)
    assert newton.coef_.dtype == np.float64
    # a small problem stays float64 throughout
    dtypes.clear()
    SoftmaxClassifier(solver="newton-cg").fit(X[:300, :20], y[:300])
    assert dtypes and set(dtypes) == {None}


def test_newton_cg_reaches_a_tolerance_at_rounding_level(capsys):
    # near max|g| ~ 1e-8 the objective's decrease is at its rounding error and
    # scipy's Wolfe search fails; the backtracking fallback accepts steps that
    # lower the gradient, so the fit goes on to tol (without it: 7e-9 here);
    # the verbose lines print the objective
    from skmax._loss import SoftmaxLoss
    from skmax._objective import SoftmaxObjective

    X, y = make_classification(300, 20, n_informative=6, n_classes=3, random_state=1)
    X[np.abs(X) < 0.8] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = SoftmaxClassifier(solver="newton-cg", label_smoothing=0.1, tol=1e-10,
                                max_iter=2000, verbose=1).fit(X, y)
    obj = SoftmaxObjective(X, np.searchsorted(clf.classes_, y), np.ones(len(y)), 3,
                           SoftmaxLoss(label_smoothing=0.1), C=1.0)
    value, grad = obj.loss_gradient(np.concatenate([clf.coef_.ravel(), clf.intercept_]))
    assert np.max(np.abs(grad)) < 1e-9
    printed = [float(v) for v in re.findall(r"objective ([0-9.e+-]+)", capsys.readouterr().out)]
    assert printed and max(printed) < 1.0 and abs(printed[-1] - value) < 1e-9


def test_truncated_cg_solves_the_newton_system():
    from skmax._solvers import _truncated_cg

    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 30))
    H = A @ A.T + 0.1 * np.eye(30)
    g = rng.standard_normal(30)
    g_before = g.copy()
    calls = []

    def hessp(v):
        calls.append(v.copy())
        return H @ v

    # a tiny truncation constant: CG runs to the exact Newton direction
    step, n_products = _truncated_cg(hessp, g, max_steps=200, rtol=1e-12)
    np.testing.assert_allclose(step, np.linalg.solve(H, -g), rtol=1e-8)
    assert n_products == len(calls) <= 200
    # the default rule stops early with a descent direction that lowers the model
    calls.clear()
    step, n_products = _truncated_cg(hessp, g, max_steps=200)
    assert n_products < 30 and g @ step < 0 and g @ step + 0.5 * step @ H @ step < 0
    # negative curvature on the first step: steepest descent
    step, n_products = _truncated_cg(lambda v: -v, g, max_steps=200)
    np.testing.assert_array_equal(step, -g)
    assert n_products == 1
    np.testing.assert_array_equal(g, g_before)      # the gradient is not modified


# -- L-BFGS in the span of the rows of sparse X (_objective.py, note 9) ---------
def _wide_sparse(dtype=np.float64, n=90, d=400, n_classes=4, seed=0):
    """Text-like data: sparse, at least twice as many features as rows."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.04, random_state=seed, format="csr", dtype=dtype)
    X.data *= 3.0
    y = np.asarray(X @ rng.standard_normal((d, n_classes))).argmax(axis=1)
    return X, y


def _primal_only(monkeypatch):
    from skmax._objective import SoftmaxObjective
    monkeypatch.setattr(SoftmaxObjective, "row_space", lambda self, coef0: None)


def _count_row_space_fits(monkeypatch):
    from skmax import _solvers
    calls = []
    run = _solvers.minimize_lbfgs_row_space

    def spy(*args, **kwargs):
        calls.append(1)
        return run(*args, **kwargs)

    monkeypatch.setattr(_solvers, "minimize_lbfgs_row_space", spy)
    return calls


@pytest.mark.parametrize("options", [
    {}, {"fit_intercept": False}, {"label_smoothing": 0.1, "temperature": 2.0},
    {"focal_gamma": 1.0}, {"class_weight": "balanced", "C": 100.0}, {"C": np.inf},
])
def test_row_space_lbfgs_takes_the_steps_of_lbfgs_b(monkeypatch, options):
    # same iterations, same solution (float64): the row-space vectors stand
    # for (W, b) exactly, and its L-BFGS follows L-BFGS-B's rules
    X, y = _wide_sparse()
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    params = {"tol": 1e-7, "max_iter": 500, **options}
    with monkeypatch.context() as patch:
        calls = _count_row_space_fits(patch)
        row_space = SoftmaxClassifier(**params).fit(X, y, sample_weight=sw)
        assert calls == [1]
    with monkeypatch.context() as patch:
        _primal_only(patch)
        primal = SoftmaxClassifier(**params).fit(X, y, sample_weight=sw)
    assert abs(int(row_space.n_iter_[0]) - int(primal.n_iter_[0])) <= 1
    np.testing.assert_allclose(row_space.coef_, primal.coef_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(row_space.intercept_, primal.intercept_, atol=1e-6)


def test_row_space_lbfgs_float32(monkeypatch):
    X, y = _wide_sparse(np.float32)
    row_space = SoftmaxClassifier(tol=1e-5, max_iter=500).fit(X, y)
    with monkeypatch.context() as patch:
        _primal_only(patch)
        primal = SoftmaxClassifier(tol=1e-5, max_iter=500).fit(X, y)
    assert row_space.coef_.dtype == np.float32
    np.testing.assert_allclose(row_space.coef_, primal.coef_, atol=2e-4)
    np.testing.assert_allclose(row_space.predict_proba(X), primal.predict_proba(X), atol=1e-5)


def test_row_space_applies_to_wide_sparse_l2_fits_from_zero():
    from skmax._loss import SoftmaxLoss
    from skmax._objective import RowSpace, SoftmaxObjective

    X, y = _wide_sparse()
    K = 4

    def space(X, coef0=None, **kwargs):
        obj = SoftmaxObjective(X, y, np.ones(X.shape[0]), K, SoftmaxLoss(), **kwargs)
        coef0 = np.zeros(obj.n_params) if coef0 is None else coef0
        return obj.row_space(coef0)

    assert isinstance(space(X), RowSpace)
    start = np.zeros(K * (X.shape[1] + 1))
    start[-K:] = [1.0, -1.0, 0.5, 0.0]          # intercepts: still in the row space
    assert isinstance(space(X, start), RowSpace)
    start[0] = 1e-3                             # W != 0 (warm start): not
    assert space(X, start) is None
    assert space(X.toarray()) is None
    assert space(X, l1_ratio=0.5) is None
    assert space(X[:, : 2 * X.shape[0] - 1]) is None


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_row_space_evaluations_equal_the_objective(fit_intercept):
    # dot, along (value and slope from the logits alone), moved (gradient) and
    # coef against SoftmaxObjective on the coefficients the vectors stand for
    from skmax._loss import SoftmaxLoss
    from skmax._objective import SoftmaxObjective

    X, y = _wide_sparse()
    n, d = X.shape
    K = 4
    rng = np.random.default_rng(2)
    obj = SoftmaxObjective(X, y, rng.uniform(0.5, 2, n), K, SoftmaxLoss(label_smoothing=0.05),
                           C=3.0, fit_intercept=fit_intercept)
    space = obj.row_space(np.zeros(obj.n_params))
    x, value, grad, largest = space.start()
    assert np.isclose(value, obj.loss_gradient(np.zeros(obj.n_params))[0], rtol=1e-13)

    def vector(scale):
        A = scale * rng.standard_normal((n, K))
        t = scale * rng.standard_normal(K) if fit_intercept else np.zeros(K)
        return np.concatenate([A.ravel(), (X @ (X.T @ A)).ravel(), t])

    u, p = vector(0.3), vector(0.1)
    coef_u, coef_p = space.coef(u), space.coef(p)
    assert np.isclose(space.dot(u, p), coef_u @ coef_p, rtol=1e-12)
    # move to u (a line from the start), then along p
    phi = space.along(x, u - x)
    phi(1.0)
    x, grad, largest = space.moved(x, u - x, 1.0)
    value0, grad0 = obj.loss_gradient(coef_u)
    np.testing.assert_allclose(space.coef(grad), grad0, rtol=1e-11, atol=1e-15)
    assert np.isclose(largest, np.max(np.abs(grad0)), rtol=1e-12)
    phi = space.along(x, p)
    for step in (0.0, 0.7, -2.0):
        value, slope = phi(step)
        ref_value, ref_grad = obj.loss_gradient(coef_u + step * coef_p)
        assert np.isclose(value, ref_value, rtol=1e-12)
        assert np.isclose(slope, ref_grad @ coef_p, rtol=1e-10)


def test_row_space_lbfgs_warns_at_max_iter_and_reports_overflow(monkeypatch):
    X, y = _wide_sparse()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3"):
        clf = SoftmaxClassifier(tol=1e-10, max_iter=3).fit(X, y)
    assert clf.n_iter_[0] == 3
    X32 = X.astype(np.float32)
    X32.data[:3] = 3e38
    calls = _count_row_space_fits(monkeypatch)
    with pytest.raises(ValueError, match="overflowed.*float32.*float64"):
        SoftmaxClassifier(C=1e6).fit(X32, y)
    assert calls == [1]


# -- the Moré-Thuente line search (_line_search.py) ------------------------------
def _line(f, df):
    return lambda a: (f(a), df(a))


@pytest.mark.parametrize("first_step", [1e-4, 1.0, 1e3])
@pytest.mark.parametrize("name", ["quadratic", "quartic", "logistic"])
def test_wolfe_search_meets_the_strong_wolfe_conditions(name, first_step):
    from skmax._line_search import wolfe_search

    f, df = {
        "quadratic": (lambda a: (a - 3.0) ** 2, lambda a: 2 * (a - 3.0)),
        "quartic": (lambda a: (a - 0.02) ** 4 - a * 1e-3, lambda a: 4 * (a - 0.02) ** 3 - 1e-3),
        "logistic": (lambda a: np.logaddexp(0, -a) + 1e-3 * a * a,
                     lambda a: -0.5 * (1 - np.tanh(a / 2)) + 2e-3 * a),
    }[name]
    f0, g0 = f(0.0), df(0.0)
    step, value, slope, n_evals = wolfe_search(_line(f, df), f0, g0, first_step)
    assert value == f(step) and slope == df(step)
    assert value <= f0 + 1e-3 * step * g0
    assert abs(slope) <= 0.9 * abs(g0)
    assert 1 <= n_evals <= 50


def test_wolfe_search_fails_on_ascent_and_steps_back_from_overflow():
    from skmax._line_search import wolfe_search

    assert wolfe_search(_line(lambda a: a, lambda a: 1.0), 0.0, 1.0, 1.0) is None
    # a trial past a = 2 overflows: the search brackets below it
    def phi(a):
        return (np.inf, np.nan) if a > 2 else ((a - 1.5) ** 2, 2 * (a - 1.5))

    step, value, slope, _ = wolfe_search(phi, 2.25, -3.0, 100.0)
    assert 0 < step <= 2 and np.isfinite(value) and abs(slope) <= 0.9 * 3.0
    # a search that cannot succeed ends after max_evals
    assert wolfe_search(_line(lambda a: -a if a < 1e-9 else 1.0, lambda a: -1.0),
                        0.0, -1.0, 1.0, max_evals=7) is None


def test_row_space_path_continues_from_each_solution(monkeypatch):
    # a regularisation path starts each C from the last solution's row-space
    # point: every fit of the path takes the row-space solver, and the path
    # selects and refits as the primal one does
    from skmax import SoftmaxClassifierCV

    X, y = _wide_sparse(n=120)
    params = {"Cs": [0.1, 1.0, 10.0], "cv": 2, "tol": 1e-7, "max_iter": 500}
    with monkeypatch.context() as patch:
        calls = _count_row_space_fits(patch)
        row_space = SoftmaxClassifierCV(**params).fit(X, y)
        # folds x Cs (the refit starts from the folds' mean: the primal solver)
        assert len(calls) == 2 * 3
    with monkeypatch.context() as patch:
        _primal_only(patch)
        primal = SoftmaxClassifierCV(**params).fit(X, y)
    assert row_space.C_ == primal.C_
    np.testing.assert_allclose(row_space.coef_, primal.coef_, rtol=1e-6, atol=1e-6)
