"""Full-batch solvers driven by :class:`SoftmaxObjective`: scipy's L-BFGS-B, a
truncated Newton-CG (scipy's Wolfe line search), and OWL-QN for the L1 and
elastic-net penalties.

1. The L1 term is non-smooth, so it gets an orthant-wise method (OWL-QN,
   Andrew & Gao 2007) rather than subgradient steps: L-BFGS directions from the
   smooth part's curvature pairs, built on the *pseudo-gradient* (the
   minimum-norm subgradient), kept inside the orthant of the current point, and
   a backtracking search whose trial points are projected back onto that
   orthant. Entries that cross zero land exactly on zero, so ``coef_`` holds
   exact zeros. Chosen over proximal Newton (glmnet, glum) because it reuses the
   gradient sweep as is, for dense and sparse ``X`` and every loss option
   (focal included, which has no Hessian products), and over SAGA because it is
   full batch, deterministic and converges fast at tight ``tol``.
2. Its stopping test is the optimality condition: the pseudo-gradient is zero
   exactly at a minimiser (``0`` in the subdifferential), so it stops once its
   largest entry is below ``tol``: the test of :func:`minimize_lbfgs`, of
   which it is the generalisation.
"""

import warnings
from functools import partial

import numpy as np
from scipy.linalg.blas import daxpy as _axpy
from scipy.optimize import line_search, minimize
from sklearn.exceptions import ConvergenceWarning

from ._line_search import wolfe_search
from ._objective import SoftmaxObjective
from ._warnings import warn


def _overflow_error(dtype, n_iter):
    """The error for an accepted iterate whose objective or gradient overflowed."""
    dtype = np.dtype(dtype)
    return ValueError(
        f"The objective overflowed at iteration {n_iter}: the features are "
        f"too large for {dtype.name} arithmetic (or the penalty too strong for "
        "their scale). Scale the data (e.g. with StandardScaler)"
        + (" or fit in float64." if dtype == np.float32 else "."))


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
        # a trial point of a line search may overflow (the search then steps
        # back); an accepted one is checked by check_finite
        with np.errstate(over="ignore", invalid="ignore"):
            value, grad = self.objective.loss_gradient(coef, keep_proba=self.keep_proba)
        self.last = (value, grad)
        self.last_x = np.array(coef, copy=True)
        return value, grad

    def at(self, coef):
        """(value, gradient) at ``coef``, reusing the last evaluation if it was there."""
        if self.last_x is None or not np.array_equal(coef, self.last_x):
            self.fun(coef)
        return self.last

    def check_finite(self):
        """Raise a clear error if the last evaluation (an accepted iterate) overflowed."""
        value, grad = self.last
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            raise _overflow_error(self.objective.dtype, self.n_iter)

    def gradient_max(self):
        """Largest entry (in absolute value) of the last gradient (``inf``: none yet)."""
        grad = self.last[1]
        return np.inf if grad is None else float(np.max(np.abs(grad)))

    def callback(self, intermediate_result):
        # called after each iteration, when the last evaluation is the new
        # iterate's (L-BFGS-B's line search ends on the accepted point)
        self.n_iter += 1
        self.check_finite()
        if self.verbose:
            print(f"iter {self.n_iter:4d}  objective {self.last[0]:.10g}  "
                  f"|grad|_inf {self.gradient_max():.4g}")


# multiply-adds of one Hessian product above which newton-cg may run it in float32
_LOW_PRECISION_MIN_WORK = 1 << 22
# CG steps per Newton iteration: the quadratic-model rule normally stops far earlier
_MAX_CG_STEPS = 200
# Nash & Sofer's truncation constant (see _truncated_cg). Their 0.5 needed
# more Hessian products than 0.75 on MNIST and no fewer elsewhere (measured in
# docs/benchmarks.md); 1.0 stops after one CG step, i.e. gradient descent.
_CG_MODEL_RTOL = 0.75


_DEFAULT_ADVICE = ("Increase the number of iterations (max_iter) or scale the data "
                   "(e.g. with StandardScaler).")


def _warn_not_converged(solver, n_iter, message, advice=_DEFAULT_ADVICE):
    warn(f"{solver} failed to converge after {n_iter} iteration(s): {message}. {advice}",
         ConvergenceWarning)


# L-BFGS-B's settings as scikit-learn's LogisticRegression passes them: stored
# pairs (scipy's default), evaluations per line search, and the relative
# decrease of the objective below which it stops (``ftol``)
_LBFGS_MEMORY = 10
_LBFGS_MAX_EVALS = 50
_LBFGS_FTOL = 64 * np.finfo(float).eps
# L-BFGS-B's bound on a step along an unbounded direction
_LBFGS_MAX_STEP = 1e10


def minimize_lbfgs(objective, coef0, *, tol, max_iter, verbose=0):
    """L-BFGS-B with one kernel sweep per evaluation (value and gradient together).

    Stops when the largest gradient entry is below ``tol`` (scikit-learn's
    ``gtol`` convention) or after ``max_iter`` iterations. A sparse fit of
    text from ``W = 0`` runs the same iterations in the span of the rows of
    ``X`` (:func:`minimize_lbfgs_row_space`).
    """
    space = objective.row_space(coef0) if isinstance(objective, SoftmaxObjective) else None
    if space is not None:
        return minimize_lbfgs_row_space(space, tol=tol, max_iter=max_iter, verbose=verbose)
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
    tracker.at(res.x)   # L-BFGS-B may stop on its first point
    tracker.check_finite()
    n_iter = int(res.nit)
    if res.status == 1 or (res.status != 0 and n_iter >= max_iter):
        _warn_not_converged("lbfgs", n_iter, str(res.message))
    return res.x, n_iter


def minimize_lbfgs_row_space(space, *, tol, max_iter, verbose=0):
    """L-BFGS-B's iterations without bounds, on the vectors of a
    :class:`~skmax._objective.RowSpace` (``_objective.py``, note 9).

    The same rules as scipy's L-BFGS-B with the settings of
    :func:`minimize_lbfgs`: the two-loop direction with ``H0 = (s.y / y.y) I``,
    a first step of ``1 / |d|`` and then 1, the Moré-Thuente search
    (``_line_search.py``), a pair skipped when ``s.y <= eps (-g.s)``, the
    memory dropped when a search fails, and the same stopping tests. Returns
    ``(coef, n_iter)`` as :func:`minimize_lbfgs` does.
    """
    dtype, dot = space.objective.dtype, space.dot
    x, value, grad, largest = space.start()
    if not (np.isfinite(value) and np.isfinite(largest)):
        raise _overflow_error(dtype, 0)
    pairs, n_iter, stalled = [], 0, False
    while largest > tol and n_iter < max_iter and not stalled:
        direction = -_two_loop(grad, pairs, dot)
        slope0 = dot(grad, direction)
        step = 1.0 if n_iter else min(1.0 / np.sqrt(dot(direction, direction)), _LBFGS_MAX_STEP)
        with np.errstate(over="ignore", invalid="ignore"):
            found = wolfe_search(space.along(x, direction), value, slope0, step,
                                 step_max=_LBFGS_MAX_STEP, max_evals=_LBFGS_MAX_EVALS)
        if found is None:
            if not pairs:       # steepest descent found no step: rounding level
                break
            pairs.clear()       # L-BFGS-B restarts from steepest descent
            continue
        step, new_value, slope, _ = found
        new_x, new_grad, largest = space.moved(x, direction, step)
        n_iter += 1
        if not (np.isfinite(new_value) and np.isfinite(largest)):
            raise _overflow_error(dtype, n_iter)
        if verbose:
            print(f"iter {n_iter:4d}  objective {new_value:.10g}  |grad|_inf {largest:.4g}")
        stalled = value - new_value <= _LBFGS_FTOL * max(abs(value), abs(new_value), 1.0)
        sy = (slope - slope0) * step
        if sy > np.finfo(float).eps * (-slope0 * step):
            pairs.append((step * direction, new_grad - grad, 1.0 / sy))
            del pairs[:-_LBFGS_MEMORY]
        x, value, grad = new_x, new_value, new_grad
    if largest > tol and n_iter >= max_iter:
        _warn_not_converged("lbfgs", n_iter, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")
    return space.solution(x), n_iter


def _truncated_cg(hessp, grad, max_steps, rtol=_CG_MODEL_RTOL):
    """Newton direction: approximately solve ``H s = -grad`` by conjugate gradients.

    CG minimises the quadratic model ``q(s) = grad.s + s.H.s / 2``; it stops at
    step ``j`` once that step lowered ``q`` by at most ``rtol / j`` of the total
    decrease so far (Nash & Sofer's truncation rule). Unlike a residual test
    it stops early where further steps would only refine directions of tiny
    curvature, which the line search would cut short anyway. A direction of
    non-positive curvature ends CG (on the first step: the steepest descent
    direction ``-grad``). Returns the direction and the number of products.
    """
    step = np.zeros_like(grad)
    residual = -grad                      # -grad - H @ step
    direction = residual.copy()
    rr = residual @ residual
    model = 0.0
    for j in range(1, max_steps + 1):
        h_direction = hessp(direction)
        curvature = direction @ h_direction
        if not (np.isfinite(curvature) and curvature > 0):
            return (-grad if j == 1 else step), j
        alpha = rr / curvature
        step += alpha * direction
        residual -= alpha * h_direction
        # q(step) = grad.step + step.H.step / 2 with H.step = -grad - residual
        new_model = 0.5 * (grad @ step - residual @ step)
        rr, rr_old = residual @ residual, rr
        if j * (new_model - model) >= rtol * new_model or rr == 0.0:
            return step, j
        model = new_model
        direction = residual + (rr / rr_old) * direction
    return step, max_steps


def _backtrack(value, gradient, coef, direction, fval, grad, max_halvings=30):
    """Step length by halving from 1, for when the Wolfe search fails: near the
    optimum the objective's decrease falls to its rounding error, so a step
    whose objective is equal to rounding is accepted if it lowers the
    gradient's 1-norm (the rule of scikit-learn's Newton solvers). None when
    no step helps."""
    slope = grad @ direction
    if not slope < 0:
        return None
    rounding = 16 * np.finfo(float).eps * abs(fval)
    grad_norm = np.abs(grad).sum()
    alpha = 1.0
    for _ in range(max_halvings):
        trial = coef + alpha * direction
        new = value(trial)
        if new <= fval + 1e-4 * alpha * slope:
            return alpha
        if abs(new - fval) <= rounding and np.abs(gradient(trial)).sum() < grad_norm:
            return alpha
        alpha *= 0.5
    return None


def minimize_newton_cg(objective, coef0, *, tol, max_iter, verbose=0):
    """Line-search truncated Newton-CG with the kernels' Hessian-vector products.

    Each iteration: one gradient sweep, one sweep per CG step
    (:func:`_truncated_cg`), and scipy's Wolfe line search
    (``scipy.optimize.line_search``, usually accepting the full Newton step).
    It needs far fewer iterations than L-BFGS on badly scaled problems. Stops
    when the largest gradient entry is below ``tol``, the criterion of
    :func:`minimize_lbfgs`, or after ``max_iter`` iterations.

    Why not ``scipy.optimize.minimize(method='Newton-CG')``: its CG runs to a
    residual of ``min(0.5, sqrt(|g|_1))`` times the gradient's, which spends
    many products on directions the line search then cuts short (the model
    rule here needs far fewer products; see docs/benchmarks.md), and it drops
    directions of curvature below ``3 * eps`` in absolute terms, which stalls
    fits at tight ``tol``. Its trust-region variant ('trust-ncg') needed more
    products too.

    On large problems (``n_samples * n_params >= 2**22``) with dense float64
    ``X`` the Hessian products run in float32 (``SoftmaxObjective.hessp``),
    which makes the fits faster. CG solves for the direction only loosely,
    far above float32 rounding, and the gradient, the line search and the
    stopping test stay float64, so the solution meets the same tolerance.
    Small problems, where a product is cheap anyway, stay float64 and so are
    reproducible to rounding (e.g. weighted rows give the same fit as
    repeated rows), and so does an objective with ``low_memory`` (no float32
    copy of ``X``).
    """
    tracker = _Tracker(objective, verbose, keep_proba=True)
    large = (objective.n_samples * objective.n_params >= _LOW_PRECISION_MIN_WORK
             and not objective.low_memory)
    product_dtype = np.float32 if large else None
    max_steps = min(_MAX_CG_STEPS, objective.n_params)

    def value(coef):
        return tracker.at(coef)[0]

    def gradient(coef):
        return tracker.at(coef)[1]

    coef = np.array(coef0, dtype=np.float64)
    fval, grad = tracker.fun(coef)
    tracker.check_finite()
    message, advice = "gradient above tol", _DEFAULT_ADVICE
    while tracker.n_iter < max_iter and tracker.gradient_max() > tol:
        # an overflowing product ends CG (non-finite curvature, see _truncated_cg)
        with np.errstate(over="ignore", invalid="ignore"):
            direction, _ = _truncated_cg(
                partial(objective.hessp, coef, dtype=product_dtype), grad, max_steps)
        # trial points may overflow (inf objective: the search steps back)
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            # scipy's LineSearchWarning (not public): failure is handled below
            warnings.filterwarnings("ignore", "The line search", RuntimeWarning)
            alpha, *_ = line_search(value, gradient, coef, direction, grad, fval)
            if alpha is None:
                alpha = _backtrack(value, gradient, coef, direction, fval, grad)
        if alpha is None:
            message = "the line search found no decrease (gradient at rounding level)"
            break
        new_coef = coef + alpha * direction
        if _same_at_precision(new_coef, coef, objective.dtype):
            # the objective would see the same coefficients again: no later
            # step can do better, however many iterations remain
            message = (f"the step no longer changes the coefficients at the "
                       f"{objective.dtype.name} precision of X (largest gradient entry "
                       f"{np.max(np.abs(grad)):.3g}, tol={tol:.3g})")
            advice = f"Use a tol above {np.max(np.abs(grad)):.2g}" + (
                " or float64 X." if objective.dtype == np.float32 else ".")
            break
        coef = new_coef
        fval, grad = tracker.at(coef)
        tracker.callback(None)
    n_iter = tracker.n_iter
    if np.max(np.abs(grad)) > tol:   # the gradient at coef, not at a trial point
        _warn_not_converged("newton-cg", n_iter, message, advice)
    return coef, n_iter


def pseudo_gradient(coef, grad, l1):
    """Minimum-norm subgradient of ``f(coef) + sum_j l1_j |coef_j|`` given the
    smooth gradient ``grad``: zero exactly where the optimality conditions hold."""
    pg = grad + l1 * np.sign(coef)
    at_zero = coef == 0
    g, w = grad[at_zero], l1[at_zero]
    pg[at_zero] = np.where(g + w < 0, g + w, np.where(g - w > 0, g - w, 0.0))
    return pg


def _two_loop(vector, pairs, dot=np.dot):
    """L-BFGS inverse-Hessian approximation (two-loop recursion) times ``vector``;
    ``pairs`` holds ``(s, y, 1 / s.y)``, ``dot`` is the inner product."""
    q = np.array(vector, dtype=np.float64)
    alphas = []
    for s, y, rho in reversed(pairs):
        alpha = rho * dot(s, q)
        q = _axpy(y, q, a=-alpha)       # in place, no temporary (long vectors)
        alphas.append(alpha)
    if pairs:
        s, y, rho = pairs[-1]
        q *= 1.0 / (rho * dot(y, y))
    for (s, y, rho), alpha in zip(pairs, reversed(alphas), strict=True):
        q = _axpy(s, q, a=alpha - rho * dot(y, q))
    return q


# curvature pairs kept by OWL-QN (scipy's L-BFGS-B default)
_OWLQN_MEMORY = 10
# step halvings before OWL-QN's line search gives up
_OWLQN_MAX_HALVINGS = 40
# relative decrease of the objective below which OWL-QN stops (minimize_lbfgs's ftol)
_OWLQN_FTOL = 64 * np.finfo(float).eps


def minimize_owlqn(objective, coef0, *, tol, max_iter, verbose=0):
    """OWL-QN on the smooth objective plus ``objective.l1_weights() . |coef|``.

    Stops when the largest entry of the pseudo-gradient (:func:`pseudo_gradient`)
    is below ``tol`` (module note 2), when an iteration lowers the objective by
    less than its rounding error (as L-BFGS-B's ``ftol`` in
    :func:`minimize_lbfgs`), or after ``max_iter`` iterations.
    """
    l1 = objective.l1_weights()
    penalised = l1 > 0
    tracker = _Tracker(objective, verbose)
    coef = np.array(coef0, dtype=np.float64)
    fval, grad = tracker.fun(coef)
    total = fval + l1 @ np.abs(coef)
    pairs = []
    message = "pseudo-gradient above tol"
    while True:
        pg = pseudo_gradient(coef, grad, l1)
        tracker.last = (total, pg)    # progress lines and gradient_max: the full objective
        if tracker.gradient_max() <= tol or tracker.n_iter >= max_iter:
            break
        direction = -_two_loop(pg, pairs)
        # stay in the orthant the pseudo-gradient points to
        direction[penalised & (direction * pg >= 0)] = 0.0
        if not direction @ pg < 0:
            pairs.clear()
            direction = -pg
        orthant = np.where(coef != 0, np.sign(coef), -np.sign(pg))
        step = 1.0 if pairs else min(1.0, 1.0 / np.linalg.norm(pg))
        for _ in range(_OWLQN_MAX_HALVINGS):
            trial = coef + step * direction
            trial[penalised & (np.sign(trial) != orthant)] = 0.0
            new_f, new_grad = tracker.fun(trial)
            new_total = new_f + l1 @ np.abs(trial)
            if new_total <= total + 1e-4 * (pg @ (trial - coef)):
                break
            step *= 0.5
        else:
            message = "the line search found no decrease (pseudo-gradient at rounding level)"
            break
        # stalled at rounding level: the relative-decrease stop of L-BFGS-B (ftol)
        stalled = total - new_total <= _OWLQN_FTOL * max(abs(total), abs(new_total), 1.0)
        s, y = trial - coef, new_grad - grad
        if s @ y > 1e-12 * (y @ y):
            pairs.append((s, y, 1.0 / (s @ y)))
            del pairs[:-_OWLQN_MEMORY]
        coef, fval, grad, total = trial, new_f, new_grad, new_total
        tracker.last = (total, pseudo_gradient(coef, grad, l1))
        tracker.callback(None)
        if stalled:
            return coef, tracker.n_iter
    if tracker.gradient_max() > tol:
        _warn_not_converged("lbfgs (OWL-QN)", tracker.n_iter, message)
    return coef, tracker.n_iter


def _same_at_precision(a, b, dtype):
    """Whether ``a`` and ``b`` round to the same values in ``dtype``."""
    return np.array_equal(a.astype(dtype), b.astype(dtype))


FULL_BATCH_SOLVERS = {"lbfgs": minimize_lbfgs, "newton-cg": minimize_newton_cg}
