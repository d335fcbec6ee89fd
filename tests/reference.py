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


def softmax(z):
    """Row-wise softmax of ``z``."""
    return np.exp(log_softmax(np.asarray(z, dtype=np.float64)))


def temperature_nll(L, y, beta, sw=None):
    """Weighted mean NLL of the labels ``y`` under ``softmax(beta * L)``: the
    temperature scaling objective (``beta = 1 / T``)."""
    z = beta * np.asarray(L, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.average(lse - z[np.arange(len(y)), y], weights=sw))
