"""Full-batch solvers: scipy optimisers driven by :class:`SoftmaxObjective`."""

import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning


class _Tracker:
    """Wraps ``objective.loss_gradient``; remembers the last evaluation point and
    gradient and prints one progress line per iteration when ``verbose``.
    ``keep_proba`` stores the probabilities for Hessian products."""

    def __init__(self, objective, verbose, keep_proba=False):
        self.objective = objective
        self.verbose = verbose
        self.keep_proba = keep_proba
        self.n_iter = 0
        self.last = (np.nan, None)
        self.last_x = None

    def fun(self, coef):
        value, grad = self.objective.loss_gradient(coef, keep_proba=self.keep_proba)
        self.last = (value, grad)
        self.last_x = np.array(coef, copy=True)
        return value, grad

    def gradient_max(self, x=None):
        """Largest entry (in absolute value) of the last gradient; ``inf`` when
        there is none, or, with ``x``, when that evaluation was not at ``x``."""
        grad = self.last[1]
        if grad is None or (x is not None and not np.array_equal(x, self.last_x)):
            return np.inf
        return float(np.max(np.abs(grad)))

    def gradient_below(self, tol, x=None):
        """Whether the last gradient's largest entry is below ``tol`` (and, with
        ``x``, whether that evaluation was at ``x``)."""
        return self.gradient_max(x) <= tol

    def callback(self, intermediate_result):
        # the solvers' line searches end on the accepted point, so the last
        # evaluation is the new iterate's (unscaled, unlike a scaled ``.fun``)
        self.n_iter += 1
        if self.verbose:
            print(f"iter {self.n_iter:4d}  objective {self.last[0]:.10g}  "
                  f"|grad|_inf {self.gradient_max():.4g}")


# multiply-adds of one Hessian product above which newton-cg may run it in float32
_LOW_PRECISION_MIN_WORK = 1 << 22
# restarts of scipy's Newton-CG with a rescaled objective (see minimize_newton_cg)
_NEWTON_RESTARTS = 5


def _warn_not_converged(solver, n_iter, message):
    warnings.warn(
        f"{solver} failed to converge after {n_iter} iteration(s): {message}. "
        "Increase the number of iterations (max_iter) or scale the data "
        "(e.g. with StandardScaler).",
        ConvergenceWarning,
        stacklevel=3,
    )


def minimize_lbfgs(objective, coef0, *, tol, max_iter, verbose=0):
    """L-BFGS-B with one kernel sweep per evaluation (value and gradient together).

    Stops when the largest gradient entry is below ``tol`` (scikit-learn's
    ``gtol`` convention) or after ``max_iter`` iterations.
    """
    tracker = _Tracker(objective, verbose)
    res = minimize(
        tracker.fun,
        coef0,
        method="L-BFGS-B",
        jac=True,
        callback=tracker.callback,
        options={
            "maxiter": max_iter,
            "maxls": 50,
            "gtol": tol,
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    n_iter = int(res.nit)
    if res.status == 1 or (res.status != 0 and n_iter >= max_iter):
        _warn_not_converged("lbfgs", n_iter, str(res.message))
    return res.x, n_iter


def minimize_newton_cg(objective, coef0, *, tol, max_iter, verbose=0):
    """Line-search Newton-CG (scipy) with the kernels' Hessian-vector products.

    Each iteration costs one gradient sweep, one sweep per CG step and a few
    line-search evaluations; it needs far fewer iterations than L-BFGS on
    badly scaled problems. Stops when the largest gradient entry is below
    ``tol``, the criterion of :func:`minimize_lbfgs`, or after ``max_iter``
    iterations. (scipy's trust-region variant, 'trust-ncg', needed 1.1x-2x
    more Hessian products on the benchmark problems.)

    On large problems (``n_samples * n_params >= 2**22``) with dense float64
    ``X`` the Hessian products run in float32 (``SoftmaxObjective.hessp``):
    1.2x-1.5x faster fits. scipy's CG solves each Newton direction only
    loosely (to a residual of ``min(0.5, sqrt(|g|_1))`` times the gradient's,
    in 1-norm), far above float32 rounding, and the gradient, line search
    and stopping test stay float64, so the solution meets the same
    tolerance. Small problems, where a product costs about a millisecond,
    stay float64 and so are reproducible to rounding (e.g. weighted rows give
    the same fit as repeated rows).

    scipy's CG also gives up on a direction whose curvature is below
    ``3 * eps`` in absolute terms, which near a tight ``tol`` (1e-10) turns
    the steps into slow gradient steps. When scipy stops above ``tol`` the
    solver restarts it from there on the objective scaled by ``1 / max|g|``,
    so that the curvature test is relative to the current gradient again,
    until a restart no longer halves the gradient. (The line search itself
    needs objective decreases above rounding, about ``eps * L``: gradients
    far below ``sqrt(eps * L * curvature)`` cannot be certified, and a
    ConvergenceWarning says so.)
    """
    tracker = _Tracker(objective, verbose, keep_proba=True)
    large = objective.n_samples * objective.n_params >= _LOW_PRECISION_MIN_WORK
    product_dtype = np.float32 if large else None
    scale = 1.0

    def fun(coef):
        value, grad = tracker.fun(coef)
        return scale * value, scale * grad

    def hessp(coef, vector):
        return scale * objective.hessp(coef, vector, product_dtype)

    def callback(intermediate_result):
        tracker.callback(intermediate_result)
        # after an accepted step the last evaluation is at the new iterate
        if tracker.gradient_below(tol, intermediate_result.x):
            raise StopIteration

    coef, last_gmax = coef0, np.inf
    for _ in range(_NEWTON_RESTARTS + 1):
        res = minimize(
            fun,
            coef,
            method="Newton-CG",
            jac=True,
            hessp=hessp,
            callback=callback,
            # xtol only as a backstop: the gradient test in the callback decides
            options={"xtol": 1e-14, "maxiter": max_iter - tracker.n_iter},
        )
        coef = res.x
        if res.status == 1 or tracker.n_iter >= max_iter:   # out of iterations
            break
        if not np.array_equal(coef, tracker.last_x):
            tracker.fun(coef)
        gmax = tracker.gradient_max()
        # stop when converged, or when a restart no longer helps
        if gmax <= tol or not gmax < 0.5 * last_gmax or not np.isfinite(gmax):
            break
        last_gmax, scale = gmax, 1.0 / gmax
    n_iter = tracker.n_iter
    if not tracker.gradient_below(tol, coef):
        _warn_not_converged("newton-cg", n_iter, str(res.message) or "gradient above tol")
    return coef, n_iter


FULL_BATCH_SOLVERS = {"lbfgs": minimize_lbfgs, "newton-cg": minimize_newton_cg}
