"""Full-batch solvers driven by :class:`SoftmaxObjective`: scipy's L-BFGS-B and a
truncated Newton-CG (scipy's Wolfe line search)."""

import warnings

import numpy as np
from scipy.optimize import line_search, minimize
from sklearn.exceptions import ConvergenceWarning


class _Tracker:
    """Wraps ``objective.loss_gradient``; remembers the last value and gradient
    and prints one progress line per iteration when ``verbose``."""

    def __init__(self, objective, verbose):
        self.objective = objective
        self.verbose = verbose
        self.n_iter = 0
        self.last = (np.nan, None)

    def fun(self, coef):
        self.last = self.objective.loss_gradient(coef)
        return self.last

    def gradient_max(self):
        """Largest entry (in absolute value) of the last gradient (``inf``: none yet)."""
        grad = self.last[1]
        return np.inf if grad is None else float(np.max(np.abs(grad)))

    def callback(self, intermediate_result):
        # called after each iteration, when the last evaluation is the new
        # iterate's (L-BFGS-B's line search ends on the accepted point)
        self.n_iter += 1
        if self.verbose:
            print(f"iter {self.n_iter:4d}  objective {self.last[0]:.10g}  "
                  f"|grad|_inf {self.gradient_max():.4g}")


# multiply-adds of one Hessian product above which newton-cg may run it in float32
_LOW_PRECISION_MIN_WORK = 1 << 22
# CG steps per Newton iteration: the quadratic-model rule normally stops far earlier
_MAX_CG_STEPS = 200
# Nash & Sofer's truncation constant (see _truncated_cg). Their 0.5 needed
# 1.1x-2.7x the products of 0.75 on MNIST at C = 0.3-10 (and about the same
# elsewhere); 1.0 stops after one CG step, i.e. gradient descent.
_CG_MODEL_RTOL = 0.75


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


def _truncated_cg(hessp, grad, max_steps, rtol=_CG_MODEL_RTOL, on_step=None):
    """Newton direction: approximately solve ``H s = -grad`` by conjugate gradients.

    CG minimises the quadratic model ``q(s) = grad.s + s.H.s / 2``; it stops at
    step ``j`` once that step lowered ``q`` by at most ``rtol / j`` of the total
    decrease so far (Nash & Sofer's truncation rule). Unlike a residual test
    it stops early where further steps would only refine directions of tiny
    curvature, which the line search would cut short anyway. A direction of
    non-positive curvature ends CG (on the first step: the steepest descent
    direction ``-grad``). ``on_step(alpha)`` is called after each update
    ``step += alpha * direction`` of the last product's direction. Returns the
    direction and the number of products.
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
            if j == 1:
                step = direction          # -grad
                if on_step is not None:
                    on_step(1.0)
            return step, j
        alpha = rr / curvature
        step += alpha * direction
        if on_step is not None:
            on_step(alpha)
        residual -= alpha * h_direction
        # q(step) = grad.step + step.H.step / 2 with H.step = -grad - residual
        new_model = 0.5 * (grad @ step - residual @ step)
        rr, rr_old = residual @ residual, rr
        if j * (new_model - model) >= rtol * new_model or rr == 0.0:
            return step, j
        model = new_model
        direction = residual + (rr / rr_old) * direction
    return step, max_steps


class _LineEvaluations:
    """Objective and gradient at ``coef + alpha * direction``, once per ``alpha``.

    With ``along = (logits, step_logits)`` (the stored logits at ``coef`` and
    those of ``direction``) the logits of a trial point are combined from them
    instead of computed from ``X``.
    """

    def __init__(self, objective, coef, direction, along=None):
        self.objective, self.coef, self.direction, self.along = objective, coef, direction, along
        self.values = {}
        self.last = None

    def __call__(self, alpha):
        if alpha not in self.values:
            along = None if self.along is None else (*self.along, alpha)
            self.values[alpha] = self.objective.loss_gradient(
                self.coef + alpha * self.direction, keep_proba=True, along=along)
            self.last = alpha
        return self.values[alpha]

    def accept(self, alpha):
        """The accepted step's value and gradient; evaluated again if another
        step came after it, as the stored probabilities must be its own."""
        if alpha != self.last:
            del self.values[alpha]
        return self(alpha)


def _backtrack(value_gradient, direction, fval, grad, max_halvings=30):
    """Step length by halving from 1, for when the Wolfe search fails: near the
    optimum the objective's decrease falls to its rounding error, so a step
    whose objective is equal to rounding is accepted if it lowers the
    gradient's 1-norm (the rule of scikit-learn's Newton solvers).
    ``value_gradient(alpha)`` is the objective and gradient at that step.
    None when no step helps."""
    slope = grad @ direction
    if not slope < 0:
        return None
    rounding = 16 * np.finfo(float).eps * abs(fval)
    grad_norm = np.abs(grad).sum()
    alpha = 1.0
    for _ in range(max_halvings):
        new, new_grad = value_gradient(alpha)
        if new <= fval + 1e-4 * alpha * slope:
            return alpha
        if abs(new - fval) <= rounding and np.abs(new_grad).sum() < grad_norm:
            return alpha
        alpha *= 0.5
    return None


def _wolfe_step(value_gradient, direction, fval, grad):
    """scipy's Wolfe line search (MINPACK's, then its own) on the 1-D function
    ``alpha -> objective(coef + alpha * direction)``: posed in one dimension so
    that each trial point is known by its ``alpha`` (its logits are then the
    stored ones plus ``alpha`` times the step's). None when it fails."""
    with warnings.catch_warnings():
        # scipy's LineSearchWarning (not public): failure is handled by the caller
        warnings.filterwarnings("ignore", "The line search", RuntimeWarning)
        alpha, *_ = line_search(
            lambda a: value_gradient(a[0])[0],
            lambda a: np.array([value_gradient(a[0])[1] @ direction]),
            np.zeros(1), np.ones(1), np.array([grad @ direction]), fval)
    return alpha


def minimize_newton_cg(objective, coef0, *, tol, max_iter, verbose=0):
    """Line-search truncated Newton-CG with the kernels' Hessian-vector products.

    Each iteration: one gradient sweep, one sweep per CG step
    (:func:`_truncated_cg`), and scipy's Wolfe line search
    (``scipy.optimize.line_search``, usually accepting the full Newton step).
    It needs far fewer iterations than L-BFGS on badly scaled problems. Stops
    when the largest gradient entry is below ``tol``, the criterion of
    :func:`minimize_lbfgs`, or after ``max_iter`` iterations.

    Why not ``scipy.optimize.minimize(method='Newton-CG')``: its CG runs to a
    residual of ``min(0.5, sqrt(|g|_1))`` times the gradient's, which on
    standardised MNIST spent about 30 products per iteration on directions
    the line search then cut to 1-30% (594 products in all; the model rule
    here: 244), and it drops directions of curvature below ``3 * eps`` in
    absolute terms, which stalls fits at tight ``tol``. Its trust-region
    variant ('trust-ncg') needed 1.1x-2x more products.

    On large problems (``n_samples * n_params >= 2**22``) with dense float64
    ``X`` the Hessian products run in float32 (``SoftmaxObjective.hessp``):
    1.2x-1.5x faster fits. CG solves for the direction only loosely, far
    above float32 rounding, and the gradient, the line search and the
    stopping test stay float64, so the solution meets the same tolerance.
    Small problems, where a product costs about a millisecond, stay float64
    and so are reproducible to rounding (e.g. weighted rows give the same
    fit as repeated rows).
    """
    tracker = _Tracker(objective, verbose)
    large = objective.n_samples * objective.n_params >= _LOW_PRECISION_MIN_WORK
    product_dtype = np.float32 if large else None
    max_steps = min(_MAX_CG_STEPS, objective.n_params)
    # stored logits (see SoftmaxObjective.tracks_logits): the current point's,
    # the step's (accumulated over CG) and the last product direction's
    track = objective.tracks_logits
    # products less precise than X: the stored logits drift by their rounding
    confirm = objective.product_dtype(product_dtype) != objective.dtype
    if track:
        shape = (objective.n_samples, objective.n_classes)
        logits, step_logits, direction_logits = np.empty((3, *shape))

        def on_step(alpha):
            np.add(step_logits, alpha * direction_logits, out=step_logits)
    else:
        logits = direction_logits = on_step = None

    def exact(coef):
        """Evaluation with the logit product (refreshes the stored logits)."""
        value, grad = objective.loss_gradient(coef, keep_proba=True, logits_out=logits)
        tracker.last = (value, grad)
        return value, grad

    coef = np.array(coef0, dtype=np.float64)
    fval, grad = exact(coef)
    message = "gradient above tol"
    while tracker.n_iter < max_iter and tracker.gradient_max() > tol:
        if track:
            step_logits[...] = 0.0
        direction, _ = _truncated_cg(
            lambda v: objective.hessp(coef, v, product_dtype, logits_out=direction_logits),
            grad, max_steps, on_step=on_step)
        along = (logits, step_logits) if track else None
        line = _LineEvaluations(objective, coef, direction, along)
        alpha = _wolfe_step(line, direction, fval, grad)
        if alpha is None:
            alpha = _backtrack(line, direction, fval, grad)
        if alpha is None:
            message = "the line search found no decrease (gradient at rounding level)"
            break
        fval, grad = tracker.last = line.accept(alpha)
        coef = coef + alpha * direction
        if track:
            logits += alpha * step_logits
            if confirm and tracker.gradient_max() <= tol:
                # the stored logits carry the float32 products' rounding
                # (float64 X): the stopping test uses exact ones
                fval, grad = exact(coef)
        tracker.callback(None)
    n_iter = tracker.n_iter
    if tracker.gradient_max() > tol:
        _warn_not_converged("newton-cg", n_iter, message)
    return coef, n_iter


FULL_BATCH_SOLVERS = {"lbfgs": minimize_lbfgs, "newton-cg": minimize_newton_cg}
