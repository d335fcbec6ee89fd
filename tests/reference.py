"""Plain-numpy reference of the skmax objective: the test oracle for the kernels.

Written independently of the kernels: the gradient goes through the explicit
softmax Jacobian rather than the closed forms used in ``_kernels.pyx``.
"""

import numpy as np


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def smoothed_targets(y, n_classes, eps):
    q = np.full((len(y), n_classes), eps / n_classes)
    q[np.arange(len(y)), y] += 1.0 - eps
    return q


def row_losses(a, y, temperature=1.0, eps=0.0, gamma=0.0):
    """Per-sample ``l_i = - sum_k (1 - p_ik)^gamma q_ik log p_ik`` of raw logits ``a``."""
    a = np.asarray(a, dtype=np.float64)
    logp = log_softmax(a / temperature)
    p = np.exp(logp)
    q = smoothed_targets(y, a.shape[1], eps)
    return -((1.0 - p) ** gamma * q * logp).sum(axis=1)


def row_gradients(a, y, temperature=1.0, eps=0.0, gamma=0.0):
    """d l_i / d a_i through the softmax Jacobian ``J_kj = p_k (delta_kj - p_j)``."""
    a = np.asarray(a, dtype=np.float64)
    n, K = a.shape
    logp = log_softmax(a / temperature)
    p = np.exp(logp)
    q = smoothed_targets(y, K, eps)
    grads = np.empty_like(a)
    eye = np.eye(K)
    for i in range(n):
        J = p[i][:, None] * (eye - p[i][None, :])          # dp_k / dz_j
        dlogp = eye - p[i][None, :]                          # dlog p_k / dz_j
        m = 1.0 - p[i]
        # d/dz_j of (1 - p_k)^gamma = -gamma (1 - p_k)^(gamma - 1) J_kj
        with np.errstate(divide="ignore", invalid="ignore"):
            dpow = np.where(m[:, None] > 0, -gamma * m[:, None] ** (gamma - 1) * J, 0.0)
        if gamma == 0:
            dpow = np.zeros_like(J)
        dl = -(q[i][:, None] * (dpow * logp[i][:, None] + m[:, None] ** gamma * dlogp)).sum(0)
        grads[i] = dl / temperature
    return grads


def row_hessp(a, v, temperature=1.0):
    """Hessian over the logits of the (smoothed) cross-entropy times ``v``."""
    p = np.exp(log_softmax(np.asarray(a, dtype=np.float64) / temperature))
    return (p * v - p * (p * v).sum(axis=1, keepdims=True)) / temperature**2


def objective(W, b, X, y, sw, C=1.0, temperature=1.0, eps=0.0, gamma=0.0):
    """``(sum_i s_i l_i + ||W||^2 / (2C)) / sum_i s_i`` for dense ``X``."""
    a = X @ W.T + (0.0 if b is None else b)
    value = sw @ row_losses(a, y, temperature, eps, gamma)
    if np.isfinite(C):
        value += 0.5 / C * np.sum(W * W)
    return value / sw.sum()


def sampled_row_losses_gradients(a, true_col, cand_col, log_q, temperature=1.0, eps=0.0,
                                 gamma=0.0, remove_accidental_hits=True):
    """Sampled softmax over the reduced columns of ``a``: row ``i`` is the full
    loss (``row_losses``) of the compact row ``[a_i,true, a_i,cand_j - T log_q_j]``
    with the true class first (candidates equal to the true column dropped when
    ``remove_accidental_hits``); gradients are added back onto the columns."""
    a = np.asarray(a, dtype=np.float64)
    losses = np.empty(a.shape[0])
    grads = np.zeros_like(a)
    for i, t in enumerate(true_col):
        keep = [j for j, c in enumerate(cand_col) if not (remove_accidental_hits and c == t)]
        cols = np.array([t] + [cand_col[j] for j in keep], dtype=np.intp)
        row = a[i, cols] - temperature * np.concatenate([[0.0], np.asarray(log_q)[keep]])
        losses[i] = row_losses(row[None], [0], temperature, eps, gamma)[0]
        np.add.at(grads[i], cols, row_gradients(row[None], [0], temperature, eps, gamma)[0])
    return losses, grads


def temperature_nll(scores, y, sw, beta):
    """``(F, F', F'')`` of ``F(beta) = sum_i sw_i (-log softmax(beta a_i)_y)``:
    ``F' = sum sw (E_p[a] - a_y)`` and ``F'' = sum sw Var_p[a]``."""
    a = np.asarray(scores, dtype=np.float64)
    sw = np.ones(len(a)) if sw is None else np.asarray(sw)
    idx = np.arange(len(a))
    logp = log_softmax(beta * a)
    p = np.exp(logp)
    mean = (p * a).sum(axis=1)
    var = (p * (a - mean[:, None]) ** 2).sum(axis=1)
    return sw @ -logp[idx, y], sw @ (mean - a[idx, y]), sw @ var


def sgd_block_update(W, rows, cols, gT, scale):
    """``W[rows[r], cols[c]] += scale * gT[c, r]`` on a float64 copy."""
    W = np.array(W, dtype=np.float64)
    W[np.ix_(rows, cols)] += scale * np.asarray(gT, dtype=np.float64).T
    return W


def adam_block_update(W, m, v, last, rows, cols, gT, lam, lr, t, beta1, beta2, eps):
    """Adam step ``t`` on the block ``W[rows][:, cols]`` with gradient
    ``gT.T + lam W``, each entry first making, one by one, the steps
    ``last + 1 .. t - 1`` it skipped, with a zero gradient (the kernel's
    closed form of them takes ``eps`` once: equal for ``eps = 0``); returns
    float64 copies of ``(W, m, v)`` and the updated ``last``."""
    W, m, v = (np.array(A, dtype=np.float64) for A in (W, m, v))
    last = np.array(last)

    def bias_corrected(step):
        return lr * np.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)

    for i in rows:
        for j in cols:
            for step in range(last[i, j] + 1, t if v[i, j] > 0 else 0):   # v = 0: never updated
                m[i, j] *= beta1
                v[i, j] *= beta2
                W[i, j] -= bias_corrected(step) * m[i, j] / (np.sqrt(v[i, j]) + eps)
            last[i, j] = t
    block = np.ix_(rows, cols)
    g = np.asarray(gT, dtype=np.float64).T + lam * W[block]
    m[block] = beta1 * m[block] + (1 - beta1) * g
    v[block] = beta2 * v[block] + (1 - beta2) * g * g
    W[block] -= bias_corrected(t) * m[block] / (np.sqrt(v[block]) + eps)
    return W, m, v, last


def softmax(z):
    """Row-wise softmax of ``z``."""
    return np.exp(log_softmax(np.asarray(z, dtype=np.float64)))


def temperature_mean_nll(L, y, beta, sw=None):
    """Weighted mean NLL of the labels ``y`` under ``softmax(beta * L)``: the
    temperature scaling objective (``beta = 1 / T``) as the calibrator reports it."""
    total = temperature_nll(L, y, sw, beta)[0]
    return float(total / (len(y) if sw is None else np.sum(sw)))


def scaling_objective(coef, Z, y, sw, structure, weights, centre):
    """Penalised NLL of ``softmax(Z W^T + b)`` (``W`` diagonal for 'vector') and
    its gradient over ``coef = [scales (K or K*K), b]``, from :func:`objective`
    and :func:`row_gradients`."""
    n, K = Z.shape
    if structure == "vector":
        W = np.diag(coef[:K])
    else:
        W = coef[: K * K].reshape(K, K)
    b = coef[-K:]
    d = coef - centre
    value = objective(W, b, Z, y, sw, C=np.inf) + np.sum(weights * d * d)
    G = row_gradients(Z @ W.T + b, y) * (sw / sw.sum())[:, None]
    grad_W = G.T @ Z
    grad_scales = np.diag(grad_W) if structure == "vector" else grad_W.ravel()
    grad = np.concatenate([grad_scales, G.sum(axis=0)]) + 2.0 * weights * d
    return value, grad
