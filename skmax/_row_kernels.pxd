# cython: language_level=3
"""Per-row ``nogil`` functions shared by the compiled kernel modules.

Every kernel module (``_kernels``, ``_temperature_kernels``,
``_minibatch_kernels``) cimports these inline functions, so a row formula is
written once; the array loops that call them live in the modules. See the
design note of ``skmax/_kernels.pyx`` for the formulas and the reasons.
"""

from libc.float cimport DBL_MAX, FLT_MAX
from libc.math cimport NAN, log1p, pow
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
    int skmax_shift_exp_f64(const double* a, double* d, double* e, int K, double inv_T,
                            double* s_rest) noexcept nogil
    int skmax_shift_exp_f32(const float* a, double* d, double* e, int K, double inv_T,
                            double* s_rest) noexcept nogil
    int skmax_hessp_f64(double* v, const double* p, int K, double scale) noexcept nogil
    int skmax_hessp_f32(float* v, const float* p, int K, double scale) noexcept nogil
    int skmax_scale_store_f64(const double* e, double* out, int K, double mul, double off,
                              double scale) noexcept nogil
    int skmax_scale_store_f32(const double* e, float* out, int K, double mul, double off,
                              double scale) noexcept nogil
    int skmax_softmax_f32(float* a, int K, double inv_T, int take_log) noexcept nogil
    int skmax_xent_f32(float* a, float* out_p, int K, int y, double inv_T, double eps,
                       double scale, double* loss) noexcept nogil
    double skmax_xent_label_grad(double rest, double inv_s, double dy, double e_y,
                                 double eps, double off) noexcept nogil
    double skmax_xent_loss(double log_s, double dy, double dsum, double eps,
                           double off) noexcept nogil
    int skmax_row_argmax_f64(const double* a, int K) noexcept nogil
    int skmax_row_finite_f64(const double* a, int K) noexcept nogil
    double skmax_row_range_f64(const double* a, int K, int* finite) noexcept nogil
    double skmax_row_range_f32(const float* a, int K, int* finite) noexcept nogil
    int skmax_row_finite_f32(const float* a, int K) noexcept nogil
    int skmax_row_argmax_f32(const float* a, int K) noexcept nogil
    int skmax_has_avx512() noexcept nogil


cdef struct LossParams:
    # the loss configuration every row function reads (SoftmaxLoss.kernel_params)
    double inv_T    # 1 / temperature
    double eps      # label smoothing
    double gamma    # focal exponent


cdef inline void _row_shift_special(
    const floating* a,  # IN: K raw logits, some NaN, or an infinite max
    double* d,          # OUT: 0 at the maxima, -DBL_MAX elsewhere; or all NaN
    double* e,          # OUT: exp(d_k)
    int K,
    double* s_rest,     # OUT: sum of e_k over all entries but the first maximal one
) noexcept nogil:
    """The limit of a row whose max is infinite; a row holding a NaN is NaN."""
    cdef int k, kmax = 0
    for k in range(K):
        if a[k] != a[k]:
            for k in range(K):
                d[k] = NAN
                e[k] = NAN
            s_rest[0] = NAN
            return
        if a[k] > a[kmax]:
            kmax = k
    for k in range(K):
        d[k] = 0.0 if a[k] == a[kmax] else -DBL_MAX
    skmax_exp_array(d, e, K)
    s_rest[0] = skmax_sum_rest(e, K, kmax)


cdef inline void _row_shift_exp(
    const floating* a,  # IN: K raw logits
    double* d,          # OUT: (a_k - max) / T, clipped to >= -DBL_MAX (NaN rows: NaN)
    double* e,          # OUT: exp(d_k) (NaN rows: NaN)
    int K,
    double inv_T,
    double* s_rest,     # OUT: sum of e_k over all entries but one maximal one
) noexcept nogil:
    """Shift by the row max, scale by 1/T and exponentiate (one dispatched
    SIMD pass each, ``_fast_exp.h``).

    Non-finite logits take their limits: with ``+inf`` entries the row shares
    its mass among them, a row of ``-inf`` is uniform, and a NaN anywhere makes
    the whole row NaN (never a row of zeros)."""
    cdef int kmax
    if floating is float:
        kmax = skmax_shift_exp_f32(a, d, e, K, inv_T, s_rest)
    else:
        kmax = skmax_shift_exp_f64(a, d, e, K, inv_T, s_rest)
    if kmax < 0:
        _row_shift_special(a, d, e, K, s_rest)


cdef inline void _row_scale_store(
    const double* e,    # IN: K values
    floating* out,      # OUT: scale * (e_k * mul - off), in the row's dtype
    int K,
    double mul,
    double off,
    double scale,
) noexcept nogil:
    if floating is float:
        skmax_scale_store_f32(e, out, K, mul, off, scale)
    else:
        skmax_scale_store_f64(e, out, K, mul, off, scale)


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
    if floating is float:
        # float32 rows of the plain cross-entropy in float arithmetic (note 9)
        if gamma == 0.0 and t == NULL and skmax_xent_f32(a, p, K, y, inv_T, eps, scale, &loss):
            return loss
    _row_shift_exp(a, d, e, K, inv_T, &s_rest)
    log_s = log1p(s_rest)
    inv_s = 1.0 / (1.0 + s_rest)
    if gamma == 0.0:
        # l = log_s - sum_k q_k d_k;  dl/da = (p - q) / T
        if eps != 0.0:
            for k in range(K):
                dsum = dsum + d[k]
        if p != NULL:
            _row_scale_store(e, p, K, inv_s, 0.0, 1.0)
        if t != NULL:
            for k in range(K):
                tsum = tsum + t[k] * d[k]
                a[k] = <floating> (scale * (e[k] * inv_s - off - (1.0 - eps) * t[k]))
            return log_s - (1.0 - eps) * tsum - off * dsum
        _row_scale_store(e, a, K, inv_s, off, scale)
        a[y] = <floating> (scale * skmax_xent_label_grad(s_rest, inv_s, d[y], e[y], eps, off))
        return skmax_xent_loss(log_s, d[y], dsum, eps, off)
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
            a[k] = <floating> (lo if v < lo else v)    # NaN stays NaN
    else:
        _row_scale_store(e, a, K, 1.0 / (1.0 + s_rest), 0.0, 1.0)


cdef inline void _row_hessp(
    floating* v,        # IN: direction in logit space; OUT: sw * H v
    const floating* p,  # IN: probabilities
    int K,
    double scale,       # sw / T^2
) noexcept nogil:
    """``v = scale * p * (v - <p, v>)`` (dispatched SIMD, ``_fast_exp.h``)."""
    if floating is float:
        skmax_hessp_f32(v, p, K, scale)
    else:
        skmax_hessp_f64(v, p, K, scale)


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


cdef inline double _row_range(
    const floating* a,  # IN: K raw scores
    int K,
    int* finite,        # OUT: 1 if every entry is finite, else 0
) noexcept nogil:
    """``max_k a_k - min_k a_k`` in double (may be +inf for float64 extremes)
    and the row's finiteness, one vectorised pass (``_fast_exp.h``)."""
    if floating is float:
        return skmax_row_range_f32(a, K, finite)
    else:
        return skmax_row_range_f64(a, K, finite)


cdef inline bint _row_finite(const floating* a, int d) noexcept nogil:
    """Whether every entry of a row is finite (dispatched SIMD, ``_fast_exp.h``)."""
    if floating is float:
        return skmax_row_finite_f32(a, d)
    else:
        return skmax_row_finite_f64(a, d)
