# cython: language_level=3
"""Per-row ``nogil`` functions shared by the compiled kernel modules.

Every kernel module (``_kernels``, ``_temperature_kernels``,
``_minibatch_kernels``) cimports these inline functions, so a row formula is
written once; the array loops that call them live in the modules. See the
design note of ``skmax/_kernels.pyx`` for the formulas and the reasons.
"""

from libc.float cimport DBL_MAX, FLT_MAX
from libc.math cimport log1p, pow
from libc.stdlib cimport malloc
from libc.string cimport memset

ctypedef fused floating:
    float
    double


cdef extern from "_fast_exp.h":
    int SKMAX_MAX_THREADS() nogil
    int SKMAX_HAS_OPENMP
    double skmax_exp_nonpos(double x) noexcept nogil
    void skmax_exp_array(const double* d, double* e, int K) noexcept nogil
    double skmax_sum_rest(double* e, int K, int skip) noexcept nogil
    int skmax_has_avx2() noexcept nogil


cdef struct LossParams:
    # the loss configuration every row function reads (SoftmaxLoss.kernel_params)
    double inv_T    # 1 / temperature
    double eps      # label smoothing
    double gamma    # focal exponent


cdef inline void _row_shift_exp(
    const floating* a,  # IN: K raw logits
    double* d,          # OUT: (a_k - max) / T, clipped to >= -DBL_MAX
    double* e,          # OUT: exp(d_k)
    int K,
    double inv_T,
    double* s_rest,     # OUT: sum of e_k over all entries but one maximal one
) noexcept nogil:
    """Shift by the row max, scale by 1/T and exponentiate."""
    cdef int k, kmax = 0
    cdef double amax = a[0], dk
    for k in range(1, K):
        if a[k] > amax:
            amax = a[k]
            kmax = k
    for k in range(K):
        dk = (<double> a[k] - amax) * inv_T
        d[k] = dk if dk > -DBL_MAX else -DBL_MAX    # a_k - max may overflow to -inf
    skmax_exp_array(d, e, K)
    s_rest[0] = skmax_sum_rest(e, K, kmax)


cdef inline double _row_loss_grad(
    floating* a,    # IN: K raw logits; OUT: sw * dl/da
    floating* p,    # OUT (may be NULL): probabilities
    double* d,      # scratch, K
    double* e,      # scratch, K
    int K,
    int y,
    double sw,
    LossParams lp,
    const double* t=NULL,   # IN (may be NULL): K target probabilities replacing onehot(y)
) noexcept nogil:
    """Loss of one row (unweighted); writes the weighted gradient over ``a``.
    The target is ``(1 - eps) t + eps / K``, ``t = onehot(y)`` unless given."""
    cdef int k
    cdef double inv_T = lp.inv_T, eps = lp.eps, gamma = lp.gamma
    cdef double s_rest, log_s, inv_s, off = eps / K, q, logp, pk, mk, w, r, u
    cdef double loss, usum = 0.0, scale = sw * inv_T, dsum = 0.0, tsum = 0.0
    _row_shift_exp(a, d, e, K, inv_T, &s_rest)
    log_s = log1p(s_rest)
    inv_s = 1.0 / (1.0 + s_rest)
    if gamma == 0.0:
        # l = log_s - sum_k q_k d_k;  dl/da = (p - q) / T
        if eps != 0.0:
            for k in range(K):
                dsum = dsum + d[k]
        if p != NULL:
            for k in range(K):
                p[k] = <floating> (e[k] * inv_s)
        if t != NULL:
            for k in range(K):
                tsum = tsum + t[k] * d[k]
                a[k] = <floating> (scale * (e[k] * inv_s - off - (1.0 - eps) * t[k]))
            return log_s - (1.0 - eps) * tsum - off * dsum
        loss = log_s - (1.0 - eps) * d[y] - off * dsum
        for k in range(K):
            a[k] = <floating> (scale * (e[k] * inv_s - off))
        a[y] = <floating> (scale * (e[y] * inv_s - off - (1.0 - eps)))
        return loss
    # focal term: u_k = q_k (1 - p_k)^gamma (1 - gamma p_k log(p_k) / (1 - p_k))
    loss = 0.0
    for k in range(K):
        if t != NULL:
            q = off + (1.0 - eps) * t[k]
        else:
            q = off + (1.0 - eps if k == y else 0.0)
        pk = e[k] * inv_s
        e[k] = pk
        if p != NULL:
            p[k] = <floating> pk
        if q == 0.0:
            d[k] = 0.0
            continue
        # 1 - p of a maximal entry (d = 0) is s_rest / s, without cancellation
        mk = s_rest * inv_s if d[k] == 0.0 else 1.0 - pk
        logp = d[k] - log_s
        w = pow(mk, gamma)
        loss = loss - q * w * logp
        r = logp / mk if mk > 0.0 else -1.0     # log(p) / (1 - p) -> -1 as p -> 1
        u = q * w * (1.0 - gamma * pk * r)
        d[k] = u
        usum = usum + u
    for k in range(K):
        a[k] = <floating> (scale * (e[k] * usum - d[k]))
    return loss


cdef inline void _row_softmax(
    floating* a,    # IN: K raw logits; OUT: probabilities or log-probabilities
    double* d,      # scratch, K
    double* e,      # scratch, K
    int K,
    double inv_T,
    bint take_log,
) noexcept nogil:
    cdef int k
    cdef double s_rest, log_s, inv_s, lo, v
    _row_shift_exp(a, d, e, K, inv_T, &s_rest)
    if take_log:
        lo = -FLT_MAX if floating is float else -DBL_MAX
        log_s = log1p(s_rest)
        for k in range(K):
            v = d[k] - log_s
            a[k] = <floating> (v if v > lo else lo)
    else:
        inv_s = 1.0 / (1.0 + s_rest)
        for k in range(K):
            a[k] = <floating> (e[k] * inv_s)


cdef inline void _row_hessp(
    floating* v,        # IN: direction in logit space; OUT: sw * H v
    const floating* p,  # IN: probabilities
    int K,
    double scale,       # sw / T^2
) noexcept nogil:
    cdef int k
    cdef double pv = 0.0
    for k in range(K):
        pv = pv + <double> p[k] * v[k]
    for k in range(K):
        v[k] = <floating> (scale * p[k] * (v[k] - pv))


cdef inline size_t _cache_lines(size_t nbytes) nogil:
    """``nbytes`` rounded up to whole 64-byte cache lines, so that the threads'
    scratch slices never share a line."""
    return (nbytes + 63) & ~(<size_t> 63)


cdef inline char* _scratch(int n_threads, size_t stride) except NULL:
    """Scratch memory for each thread of a ``parallel`` block: thread ``t`` uses
    the ``stride`` bytes at ``t * stride``. The caller free()s it."""
    # a parallel block with num_threads=0 runs OpenMP's default team
    cdef size_t team = n_threads if n_threads > 0 else max(SKMAX_MAX_THREADS(), 1)
    cdef char* mem = <char*> malloc(team * stride if stride > 0 else 64)
    if mem == NULL:
        raise MemoryError("no memory for the kernel's scratch buffers")
    return mem
