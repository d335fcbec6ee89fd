# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled kernels of temperature scaling: the NLL in ``beta = 1 / T`` with
its first two derivatives, and the per-row spread of the scores.

Design
------
1. With ``beta = 1 / T`` and raw scores ``a_i`` (one row of K logits), the
   negative log-likelihood of ``softmax(beta a_i)`` at label ``y`` is convex in
   beta, with::

       l_i(beta)   = logsumexp(beta a_i) - beta a_iy
       l_i'(beta)  = E_p[a] - a_y               (p = softmax(beta a_i))
       l_i''(beta) = Var_p[a] >= 0

   One kernel call gives the value and both derivatives, all a safeguarded
   Newton step in ``skmax/_calibration.py`` needs, in one pass over the rows.
2. Every quantity is computed from the shifted values ``d_k = beta (a_k - max)
   <= 0`` (the shift of ``_row_shift_exp`` in ``_row_kernels.pxd``, so extreme
   scores stay finite): ``l_i = log1p(s_rest) - d_y``, ``l_i' = (E_p[d] - d_y)
   / beta`` and ``l_i'' = Var_p[d] / beta^2``, the variance taken about the
   mean in a second pass over the (cached) row, so there is no cancellation
   even when p is nearly one-hot.
3. The spread ``max_k a_k - min_k a_k`` is the scale of a row's scores: the
   calibrator uses it to rescale scores that would overflow and to detect
   separable data. It is computed in double (may be +inf for float64 extremes),
   in the same pass as the separability test (is each row's label a row
   maximum?), which is otherwise a pass of its own.
4. Threads and scratch memory follow ``skmax/_kernels.pyx`` (notes 2 and 5).
   Measured speeds live in ``docs/benchmarks.md``.
"""

from cython.parallel cimport parallel, prange, threadid
from libc.math cimport log1p
from libc.stdlib cimport free

from ._row_kernels cimport (
    _cache_lines, _row_range, _row_shift_exp, _scratch, floating, skmax_has_avx2,
)

skmax_has_avx2()   # pick the exp copy once, at import, before any threaded call


cdef inline double _row_temperature_nll(
    const floating* a,  # IN: K raw scores
    double* d,          # scratch, K
    double* e,          # scratch, K
    int K,
    int y,
    double beta,        # inverse temperature, > 0
    double* grad,       # OUT: dl/dbeta of this row
    double* hess,       # OUT: d2l/dbeta2 of this row
) noexcept nogil:
    """Unweighted NLL of ``softmax(beta a)`` at label ``y`` and its beta-derivatives."""
    cdef int k
    cdef double s_rest, inv_s, mu = 0.0, var = 0.0, t, inv_beta = 1.0 / beta
    _row_shift_exp(a, d, e, K, beta, &s_rest)
    inv_s = 1.0 / (1.0 + s_rest)
    for k in range(K):
        mu = mu + e[k] * d[k]
    mu = mu * inv_s                     # E_p[d], in [min d, 0]
    for k in range(K):
        t = d[k] - mu
        var = var + e[k] * t * t
    grad[0] = (mu - d[y]) * inv_beta
    hess[0] = var * inv_s * inv_beta * inv_beta
    return log1p(s_rest) - d[y]


cdef inline unsigned char _row_label_is_max(
    const floating* a,  # IN: K raw scores
    int K,
    int y,
) noexcept nogil:
    """1 if ``a[y]`` is a largest entry of the row."""
    cdef int k
    for k in range(K):
        if a[k] > a[y]:
            return 0
    return 1


def temperature_nll(
    const floating[:, ::1] scores,   # IN: raw scores a, n x K
    const int[::1] y,                # IN: encoded labels 0..K-1
    const double[::1] sw,            # IN (may be None): sample weights
    double beta,                     # IN: inverse temperature 1 / T, > 0
    int n_threads=1,
):
    """Weighted NLL of ``softmax(beta * scores)`` and its first two beta-derivatives.

    Returns ``(sum_i sw_i l_i, sum_i sw_i l_i', sum_i sw_i l_i'')`` in one pass
    over the rows (unit weights when ``sw`` is None).
    """
    cdef Py_ssize_t i, n = scores.shape[0]
    cdef int K = <int> scores.shape[1]
    cdef bint has_sw = sw is not None
    cdef double f = 0.0, g = 0.0, h = 0.0, w, gi = 0.0, hi = 0.0, li
    cdef double* buf
    cdef char* scratch
    cdef size_t stride = _cache_lines(2 * K * sizeof(double))
    if y.shape[0] != n or (has_sw and sw.shape[0] != n):
        raise ValueError("y and sw must have one entry per row of scores")
    if not beta > 0.0:
        raise ValueError("beta must be positive")
    if n == 0 or K == 0:
        return 0.0, 0.0, 0.0
    scratch = _scratch(n_threads, stride)
    buf = NULL
    try:
        with nogil, parallel(num_threads=n_threads):
            buf = <double*> (scratch + stride * threadid())
            for i in prange(n, schedule="static"):
                w = sw[i] if has_sw else 1.0
                gi = 0.0                 # assigned in the loop: thread-private
                hi = 0.0
                if w != 0.0:
                    li = _row_temperature_nll(&scores[i, 0], buf, buf + K, K, y[i], beta, &gi, &hi)
                    f += w * li
                    g += w * gi
                    h += w * hi
    finally:
        free(scratch)
    return f, g, h


def row_spread(
    const floating[:, ::1] scores,   # IN: raw scores, n x K
    double[::1] out,                 # OUT: max_k - min_k of each row
    int n_threads=1,
    const int[::1] y=None,           # IN (optional): encoded labels 0..K-1
    unsigned char[::1] label_max=None,  # OUT (with y): 1 where a_iy is a row maximum
    unsigned char[::1] finite=None,  # OUT (optional): 1 where every entry of the row is finite
):
    """Per-row spread ``max_k a_ik - min_k a_ik`` (the scale of the scores)
    and, with ``y``, whether each row's label holds its largest score (the
    separability test), and with ``finite`` whether the row's entries are
    all finite (the fit's check of its input), in the same pass."""
    cdef Py_ssize_t i, n = scores.shape[0]
    cdef int K = <int> scores.shape[1]
    cdef int row_finite
    cdef bint with_labels = y is not None
    cdef bint with_finite = finite is not None
    if out.shape[0] != n:
        raise ValueError("out must have one entry per row of scores")
    if with_labels and (label_max is None or y.shape[0] != n or label_max.shape[0] != n):
        raise ValueError("y and label_max must have one entry per row of scores")
    if with_finite and finite.shape[0] != n:
        raise ValueError("finite must have one entry per row of scores")
    if K == 0:
        if with_finite:
            finite[:] = 1
        return
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            row_finite = 1
            out[i] = _row_range(&scores[i, 0], K, &row_finite)
            if with_finite:
                finite[i] = row_finite
            if with_labels:
                label_max[i] = _row_label_is_max(&scores[i, 0], K, y[i])
