"""Moré-Thuente line search: a step satisfying the strong Wolfe conditions.

The search of L-BFGS-B (MINPACK-2's ``dcsrch`` and ``dcstep``; Moré & Thuente,
"Line search algorithms with guaranteed sufficient decrease", ACM TOMS 20,
1994), written here for the solvers that run their own L-BFGS iterations
(``_solvers.minimize_lbfgs_row_space``). With the same constants it takes the
steps scipy's L-BFGS-B takes, so those solvers follow its iterates.

1. Each trial step is chosen from a safeguarded cubic or quadratic fit to the
   values and slopes at the two ends of the interval of uncertainty
   (:func:`_step`); until a minimiser is bracketed the step grows by 1.1x to
   4x per trial.
2. In its first stage the search works on ``psi(a) = phi(a) - phi(0) - ftol a
   phi'(0)``, which keeps the steps in the sufficient-decrease region.
3. It ends on a step with ``phi(a) <= phi(0) + ftol a phi'(0)`` and
   ``|phi'(a)| <= gtol |phi'(0)|``, or with a warning (interval too narrow,
   rounding errors, step at its bound) on the last step tried, which the
   caller accepts as L-BFGS-B does. It fails only after ``max_evals``
   evaluations or on a non-descent direction.
"""

import numpy as np

# growth of the step before a minimiser is bracketed (note 1)
_GROW_MIN, _GROW_MAX = 1.1, 4.0


def _cubic_min(a, fa, da, b, fb, db):
    """``(theta, gamma)`` of the cubic through ``(a, fa, da)`` and ``(b, fb, db)``."""
    theta = 3.0 * (fa - fb) / (b - a) + da + db
    s = max(abs(theta), abs(da), abs(db))
    gamma = s * np.sqrt(max(0.0, (theta / s) ** 2 - (da / s) * (db / s)))
    return theta, gamma


def _cubic_step(stp, fp, dp, other, f_other, d_other):
    """Minimiser of the cubic through ``(stp, fp, dp)`` and ``(other, f_other,
    d_other)``, on the side that the slope at ``stp`` points to."""
    theta, gamma = _cubic_min(other, f_other, d_other, stp, fp, dp)
    if stp > other:
        gamma = -gamma
    p = (gamma - dp) + theta
    q = ((gamma - dp) + gamma) + d_other
    return stp + (p / q) * (other - stp)


def _step(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """One safeguarded step of the search (``dcstep``): the new trial step and
    the updated interval ``(stx, fx, dx, sty, fy, dy, stp, brackt)``; ``stx``
    is the best step so far, ``sty`` the other end of the interval."""
    sgnd = dp * np.sign(dx)
    if fp > fx:
        # higher value: the minimiser is bracketed; the cubic step, or halfway
        # to the quadratic one when that is closer to stx
        theta, gamma = _cubic_min(stx, fx, dx, stp, fp, dp)
        if stp < stx:
            gamma = -gamma
        p = (gamma - dx) + theta
        q = ((gamma - dx) + gamma) + dp
        stpc = stx + (p / q) * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        stpf = stpc if abs(stpc - stx) < abs(stpq - stx) else stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0:
        # lower value, slopes of opposite signs: bracketed; the step farther
        # from stp of the cubic and the secant
        stpc = _cubic_step(stp, fp, dp, stx, fx, dx)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        brackt = True
    elif abs(dp) < abs(dx):
        # lower value, same sign, slope shrinking: the cubic step if it points
        # the right way, else the bound; kept inside a bracket
        theta, gamma = _cubic_min(stx, fx, dx, stp, fp, dp)
        if stp > stx:
            gamma = -gamma
        p = (gamma - dp) + theta
        q = (gamma + (dx - dp)) + gamma
        r = p / q
        if r < 0 and gamma != 0:
            stpc = stp + r * (stx - stp)
        elif stp > stx:
            stpc = stpmax
        else:
            stpc = stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if brackt:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            if stp > stx:
                stpf = min(stp + 0.66 * (sty - stp), stpf)
            else:
                stpf = max(stp + 0.66 * (sty - stp), stpf)
        else:
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            stpf = max(stpmin, min(stpmax, stpf))
    else:
        # lower value, same sign, slope not shrinking: the cubic through stp
        # and sty inside a bracket, else the bound
        if brackt:
            stpf = _cubic_step(stp, fp, dp, sty, fy, dy)
        elif stp > stx:
            stpf = stpmax
        else:
            stpf = stpmin
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if sgnd < 0:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


def wolfe_search(phi, f0, g0, step, *, ftol=1e-3, gtol=0.9, xtol=0.1, step_max=1e10,
                 max_evals=50):
    """Search along a direction of descent for a step meeting the strong Wolfe
    conditions (module notes 1-3).

    Parameters
    ----------
    phi : callable, ``phi(a) -> (value, slope)`` at step ``a`` (slope: the
        directional derivative); the last call is at the returned step
    f0, g0 : float, value and slope at step 0 (``g0 < 0``)
    step : float, first trial step

    Returns
    -------
    ``(step, value, slope, n_evals)``, or None when the search failed
    (``max_evals`` evaluations, or ``g0 >= 0``).
    """
    if not g0 < 0:
        return None
    step_min = 0.0
    gtest = ftol * g0
    width, width1 = step_max - step_min, 2.0 * (step_max - step_min)
    stx, fx, gx = 0.0, f0, g0
    sty, fy, gy = 0.0, f0, g0
    stmin, stmax = 0.0, step + _GROW_MAX * step
    brackt, stage = False, 1
    stp = step
    for n_evals in range(1, max_evals + 1):
        f, g = phi(stp)
        if not (np.isfinite(f) and np.isfinite(g)):
            # an overflowing trial: treat it as a higher value with a rising
            # slope, which brackets the minimiser below it
            f, g = np.inf, np.inf
        ftest = f0 + stp * gtest
        if stage == 1 and f <= ftest and g >= 0:
            stage = 2
        done = (f <= ftest and abs(g) <= gtol * -g0                            # converged
                or brackt and (stp <= stmin or stp >= stmax)                   # rounding
                or brackt and stmax - stmin <= xtol * stmax                    # xtol
                or stp == step_max and f <= ftest and g <= gtest
                or stp == step_min and (f > ftest or g >= gtest))
        if done:
            return stp, f, g, n_evals
        if np.isinf(f):
            sty, fy, gy, brackt = stp, f, g, True
            stp = stx + 0.5 * (stp - stx)
        else:
            if stage == 1 and f <= fx and f > ftest:
                # the modified function psi of note 2
                stx, fxm, gxm, sty, fym, gym, stp, brackt = _step(
                    stx, fx - stx * gtest, gx - gtest, sty, fy - sty * gtest, gy - gtest,
                    stp, f - stp * gtest, g - gtest, brackt, stmin, stmax)
                fx, fy = fxm + stx * gtest, fym + sty * gtest
                gx, gy = gxm + gtest, gym + gtest
            else:
                stx, fx, gx, sty, fy, gy, stp, brackt = _step(
                    stx, fx, gx, sty, fy, gy, stp, f, g, brackt, stmin, stmax)
            if brackt:
                # bisect when the interval did not shrink enough
                if abs(sty - stx) >= 0.66 * width1:
                    stp = stx + 0.5 * (sty - stx)
                width1, width = width, abs(sty - stx)
        if brackt:
            stmin, stmax = min(stx, sty), max(stx, sty)
        else:
            stmin = stp + _GROW_MIN * (stp - stx)
            stmax = stp + _GROW_MAX * (stp - stx)
        stp = min(max(stp, step_min), step_max)
        if brackt and (stp <= stmin or stp >= stmax or stmax - stmin <= xtol * stmax):
            stp = stx
    return None
