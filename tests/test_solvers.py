"""The full-batch solvers ('lbfgs', 'newton-cg' and its truncated CG)."""

import re
import warnings

import numpy as np
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
