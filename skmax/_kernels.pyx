# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled row kernels of skmax.

Design
------
1. The kernels never multiply matrices by hand. Logits ``a = X @ W.T + b`` and
   the gradient ``G.T @ X`` are BLAS products, block of rows by block of rows
   (``dense_sweep``, note 7; numpy or scipy.sparse for the callers of the
   other kernels); a kernel only walks the ``n x K`` logit block once, row by
   row.
2. Each row's work is a small ``nogil`` inline function (``_row_*``) taking raw
   pointers; the array kernels are ``prange`` loops over rows with an explicit
   ``n_threads``. Arguments are marked ``# IN`` / ``# OUT`` / ``# IN/OUT``.
3. Inside a row all arithmetic is in double whatever the storage dtype
   (float32 or float64 through the fused type ``floating``): logits are shifted
   by the row maximum *before* the temperature scaling, so any finite logit
   (+-1e300 in float64, +-3e38 in float32) gives finite probabilities and
   log-probabilities; log-probabilities are clipped to the storage dtype's range.
4. ``log(sum(exp))`` is computed as ``log1p(sum over the non-maximal entries)``,
   so ``1 - p`` and ``log p`` of a dominant class keep full relative precision
   (the focal term needs both). ``exp`` of the shifted logits is a small
   branch-free C function (``skmax_exp_nonpos``, about 1 ulp, no errno or
   range handling since its argument is <= 0): about 4x faster than libm's
   ``exp`` call, which was most of a row's cost. Its loop over a row is also
   compiled for AVX2 + FMA and that copy is picked at run time on x86-64 CPUs
   that have them (another 2.5-3x on the whole kernel at K >= 100; the
   portable build stays SSE2; ``SKMAX_NO_AVX2=1`` forces the portable copy).
5. Scalar reductions (the loss) are accumulated in double with OpenMP
   reductions; every thread owns a slice of one scratch buffer allocated per
   call before the parallel block (a failed allocation is a MemoryError).
6. The objective, with ``z = a / T``, ``p = softmax(z)``, smoothed target
   ``q = (1 - eps) onehot(y) + eps / K`` and focal exponent ``gamma``::

       l = - sum_k (1 - p_k)^gamma q_k log p_k

   and its gradient with respect to the *raw* logits ``a`` (chain rule through
   ``z = a / T``)::

       u_k   = q_k (1 - p_k)^gamma (1 - gamma p_k log(p_k) / (1 - p_k))
       dl/da = (p * sum_k u_k - u) / T          (gamma = 0: (p - q) / T)

   The Hessian-vector product is only needed for the convex case gamma = 0,
   where ``d2l/da2 = (diag(p) - p p^T) / T^2``.
7. ``dense_sweep`` is a whole evaluation (or Hessian product) over dense ``X``
   in one GIL-free call: OpenMP over row chunks (one float64 accumulator each),
   and per block of rows ``gemm`` (logits), the row function, ``gemm``
   (``G.T @ Xb`` while ``Xb`` is cached). ``sgemm``/``dgemm`` come from scipy's
   ``cython_blas`` capsules, read at import, so scipy is not needed to build.
   Driving the same loop from Python threads cost 25-45% of a sweep in GIL
   hand-offs between its many short numpy calls (two cores); with the loop in
   C, blocks can be as short as 64 rows, where OpenBLAS's tall-skinny
   products run 1.5-1.9x faster than on 128 or more.
"""

from cython.parallel cimport parallel, prange, threadid
from libc.math cimport exp, log, log1p, pow
from libc.float cimport DBL_MAX, FLT_MAX
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer

import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define SKMAX_MAX_THREADS() omp_get_max_threads()
    #define SKMAX_HAS_OPENMP 1
    #else
    #define SKMAX_MAX_THREADS() 1
    #define SKMAX_HAS_OPENMP 0
    #endif
    """
    int SKMAX_MAX_THREADS() nogil
    int SKMAX_HAS_OPENMP

ctypedef fused floating:
    float
    double


def openmp_max_threads():
    """Number of threads OpenMP would use by default (1 without OpenMP)."""
    return SKMAX_MAX_THREADS()


def built_with_openmp():
    """Whether the kernels were compiled with OpenMP."""
    return bool(SKMAX_HAS_OPENMP)


# ---------------------------------------------------------------------------
# Per-row functions
# ---------------------------------------------------------------------------

cdef extern from *:
    """
    #include <stdint.h>
    #include <stdlib.h>
    #include <string.h>

    /* exp(x) for x <= 0, branch-free so that it pipelines well (and can be
       vectorised where the target has fast 64-bit integer vector operations):
       Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a degree-12 Taylor
       polynomial (truncation error < 2e-16 relative), and 2^n assembled from
       bits in two halves so results underflow gracefully down to 0. */
    static inline double skmax_exp_nonpos(double x) {
        const double shifter = 6755399441055744.0;   /* 1.5 * 2^52 */
        double t, r, p, s1, s2;
        int64_t n, h;
        uint64_t bits;
        x = x > -1100.0 ? x : -1100.0;
        x = x < 0.0 ? x : 0.0;
        t = x * 1.4426950408889634 + shifter;
        memcpy(&bits, &t, 8);
        n = (int64_t) bits - (int64_t) 0x4338000000000000LL;   /* round(x / ln2) <= 0 */
        t -= shifter;
        r = (x - t * 6.93147180369123816490e-01) - t * 1.90821492927058770002e-10;
        p = 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        h = -((-n) >> 1);
        bits = (uint64_t) (h + 1023) << 52;
        memcpy(&s1, &bits, 8);
        bits = (uint64_t) (n - h + 1023) << 52;
        memcpy(&s2, &bits, 8);
        return p * s1 * s2;
    }

    /* e[k] = exp(d[k]) for d <= 0: the row's hot loop. On x86-64 a second
       copy is compiled for AVX2 + FMA and picked at run time when the CPU has
       them (the portable build targets SSE2 only); gcc vectorises the loop,
       4 doubles at a time, about 4x faster than the SSE2 copy. */
    #define SKMAX_EXP_ARRAY(NAME) \
        static void NAME(const double* d, double* e, int K) { \
            int k; \
            for (k = 0; k < K; k++) e[k] = skmax_exp_nonpos(d[k]); \
        }

    SKMAX_EXP_ARRAY(skmax_exp_array_generic)

    #if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #define SKMAX_X86_DISPATCH 1
    __attribute__((target("avx2,fma"))) SKMAX_EXP_ARRAY(skmax_exp_array_avx2)

    /* -1: not checked yet; the module checks once at import, before any
       kernel runs on several threads */
    static int skmax_cpu_avx2 = -1;

    static int skmax_has_avx2(void) {
        if (skmax_cpu_avx2 < 0) {
            __builtin_cpu_init();
            skmax_cpu_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                             && getenv("SKMAX_NO_AVX2") == NULL;
        }
        return skmax_cpu_avx2;
    }
    #else
    static int skmax_has_avx2(void) { return 0; }
    #endif

    static void skmax_exp_array(const double* d, double* e, int K) {
    #ifdef SKMAX_X86_DISPATCH
        if (skmax_has_avx2()) {
            skmax_exp_array_avx2(d, e, K);
            return;
        }
    #endif
        skmax_exp_array_generic(d, e, K);
    }

    /* Sum of e[k] over every entry but e[skip] (a maximal one, equal to 1):
       the "rest" of the row's sum without the cancellation of sum - 1.
       Four accumulators break the dependency chain of the additions. */
    static double skmax_sum_rest(double* e, int K, int skip) {
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, kept = e[skip];
        int k;
        e[skip] = 0.0;
        for (k = 0; k + 3 < K; k += 4) {
            a0 += e[k];
            a1 += e[k + 1];
            a2 += e[k + 2];
            a3 += e[k + 3];
        }
        for (; k < K; k++) a0 += e[k];
        e[skip] = kept;
        return (a0 + a1) + (a2 + a3);
    }
    """
    double skmax_exp_nonpos(double x) noexcept nogil
    void skmax_exp_array(const double* d, double* e, int K) noexcept nogil
    double skmax_sum_rest(double* e, int K, int skip) noexcept nogil
    int skmax_has_avx2() noexcept nogil


def exp_uses_avx2():
    """Whether the row kernels' ``exp`` loop runs its AVX2 + FMA copy (x86-64
    CPUs that have them, unless ``SKMAX_NO_AVX2`` is set at import)."""
    return bool(skmax_has_avx2())


exp_uses_avx2()   # decide once, at import


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
    double inv_T,
    double eps,
    double gamma,
) noexcept nogil:
    """Loss of one row (unweighted); writes the weighted gradient over ``a``."""
    cdef int k
    cdef double s_rest, log_s, inv_s, off = eps / K, q, logp, pk, mk, w, r, u
    cdef double loss, usum = 0.0, scale = sw * inv_T, dsum = 0.0
    _row_shift_exp(a, d, e, K, inv_T, &s_rest)
    log_s = log1p(s_rest)
    inv_s = 1.0 / (1.0 + s_rest)
    if gamma == 0.0:
        # l = log_s - sum_k q_k d_k;  dl/da = (p - q) / T
        if eps != 0.0:
            for k in range(K):
                dsum = dsum + d[k]
        loss = log_s - (1.0 - eps) * d[y] - off * dsum
        if p != NULL:
            for k in range(K):
                p[k] = <floating> (e[k] * inv_s)
        for k in range(K):
            a[k] = <floating> (scale * (e[k] * inv_s - off))
        a[y] = <floating> (scale * (e[y] * inv_s - off - (1.0 - eps)))
        return loss
    # focal term: u_k = q_k (1 - p_k)^gamma (1 - gamma p_k log(p_k) / (1 - p_k))
    loss = 0.0
    for k in range(K):
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


# ---------------------------------------------------------------------------
# Array kernels (prange over rows)
# ---------------------------------------------------------------------------

cdef inline size_t _cache_lines(size_t nbytes) nogil:
    """``nbytes`` rounded up to whole 64-byte cache lines, so that the threads'
    scratch slices never share a line."""
    return (nbytes + 63) & ~(<size_t> 63)


cdef char* _scratch(int n_threads, size_t stride) except NULL:
    """Scratch memory for each thread of a ``parallel`` block: thread ``t`` uses
    the ``stride`` bytes at ``t * stride``. The caller free()s it."""
    # a parallel block with num_threads=0 runs OpenMP's default team
    cdef size_t team = n_threads if n_threads > 0 else max(SKMAX_MAX_THREADS(), 1)
    cdef char* mem = <char*> malloc(team * stride if stride > 0 else 64)
    if mem == NULL:
        raise MemoryError("no memory for the kernel's scratch buffers")
    return mem


def loss_gradient(
    floating[:, ::1] raw,          # IN: raw logits a; OUT: sw_i * dl_i/da_i
    const int[::1] y,              # IN: encoded labels 0..K-1
    const double[::1] sw,          # IN: sample weights (already times class weights)
    double inv_T,
    double eps,
    double gamma,
    floating[:, ::1] proba=None,   # OUT (optional): probabilities, for Hessian products
    int n_threads=1,
):
    """Weighted loss ``sum_i sw_i l_i`` of a block; gradient written into ``raw``."""
    cdef Py_ssize_t i, n = raw.shape[0]
    cdef int K = <int> raw.shape[1]
    cdef bint keep_proba = proba is not None
    cdef double total = 0.0
    cdef double* buf
    cdef char* scratch
    cdef size_t stride = _cache_lines(2 * K * sizeof(double))
    if keep_proba and (proba.shape[0] != n or proba.shape[1] != K):
        raise ValueError("proba must have the shape of raw")
    if y.shape[0] != n or sw.shape[0] != n:
        raise ValueError("y and sw must have one entry per row of raw")
    if n == 0:
        return 0.0
    scratch = _scratch(n_threads, stride)
    buf = NULL          # Cython makes it firstprivate: give it a value to copy
    try:
        with nogil, parallel(num_threads=n_threads):
            buf = <double*> (scratch + stride * threadid())
            for i in prange(n, schedule="static"):
                total += sw[i] * _row_loss_grad(
                    &raw[i, 0], &proba[i, 0] if keep_proba else NULL, buf, buf + K,
                    K, y[i], sw[i], inv_T, eps, gamma,
                )
    finally:
        free(scratch)
    return total


def softmax(
    floating[:, ::1] raw,   # IN: raw logits; OUT: softmax(raw / T) or its log
    double inv_T=1.0,
    bint take_log=False,
    int n_threads=1,
):
    """Row-wise (log-)softmax of ``raw / T``, in place."""
    cdef Py_ssize_t i, n = raw.shape[0]
    cdef int K = <int> raw.shape[1]
    cdef double* buf
    cdef char* scratch
    cdef size_t stride = _cache_lines(2 * K * sizeof(double))
    if n == 0:
        return
    scratch = _scratch(n_threads, stride)
    buf = NULL
    try:
        with nogil, parallel(num_threads=n_threads):
            buf = <double*> (scratch + stride * threadid())
            for i in prange(n, schedule="static"):
                _row_softmax(&raw[i, 0], buf, buf + K, K, inv_T, take_log)
    finally:
        free(scratch)


def hessp(
    floating[:, ::1] direction,     # IN: X @ V.T + c for a direction (V, c); OUT: sw_i H_i direction_i
    const floating[:, ::1] proba,   # IN: probabilities at the current point
    const double[::1] sw,           # IN: sample weights
    double inv_T,
    int n_threads=1,
):
    """Hessian-vector product over the logits of the cross-entropy (gamma = 0)."""
    cdef Py_ssize_t i, n = direction.shape[0]
    cdef int K = <int> direction.shape[1]
    cdef double inv_T2 = inv_T * inv_T
    if proba.shape[0] != n or proba.shape[1] != K or sw.shape[0] != n:
        raise ValueError("direction, proba and sw must agree in shape")
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            _row_hessp(&direction[i, 0], &proba[i, 0], K, sw[i] * inv_T2)


# ---------------------------------------------------------------------------
# Dense sweeps: the whole blocked loop of one evaluation in C (note 7)
# ---------------------------------------------------------------------------

ctypedef void (*_sgemm_t)(char*, char*, int*, int*, int*, float*, const float*, int*,
                          const float*, int*, float*, float*, int*) noexcept nogil
ctypedef void (*_dgemm_t)(char*, char*, int*, int*, int*, double*, const double*, int*,
                          const double*, int*, double*, double*, int*) noexcept nogil

cdef _sgemm_t _sgemm = NULL
cdef _dgemm_t _dgemm = NULL


def _load_blas():
    """Take sgemm/dgemm from scipy's BLAS at import, as ``cimport
    scipy.linalg.cython_blas`` would, but without needing scipy to build."""
    global _sgemm, _dgemm
    from scipy.linalg import cython_blas

    capi = cython_blas.__pyx_capi__
    _sgemm = <_sgemm_t> PyCapsule_GetPointer(capi["sgemm"], PyCapsule_GetName(capi["sgemm"]))
    _dgemm = <_dgemm_t> PyCapsule_GetPointer(capi["dgemm"], PyCapsule_GetName(capi["dgemm"]))


_load_blas()


cdef inline void _gemm(
    char* transa, char* transb, int m, int n, int k,
    const floating* a, int lda, const floating* b, int ldb,
    floating beta, floating* c, int ldc,
) noexcept nogil:
    """Column-major ``c = op(a) @ op(b) + beta c`` (Fortran BLAS convention)."""
    cdef floating one = 1.0
    if floating is float:
        _sgemm(transa, transb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc)
    else:
        _dgemm(transa, transb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc)


cdef double _sweep_chunk(
    bint hessian,           # False: loss and gradient; True: Hessian product
    const floating* X,      # IN: rows [lo, hi) of X (C order, d columns)
    Py_ssize_t lo,
    Py_ssize_t hi,
    int d,
    int K,
    const floating* W,      # IN: K x d (C order), or NULL for W = 0
    const floating* b,      # IN: K intercepts or NULL
    const int* y,           # IN: labels (loss only)
    const double* sw,       # IN: sample weights
    floating* proba,        # loss: OUT (may be NULL); Hessian: IN
    double inv_T,
    double eps,
    double gamma,
    int block_rows,
    double* acc_W,          # OUT (accumulated): K x d, sum_i G_i x_i^T
    double* acc_b,          # OUT (accumulated): K or NULL, sum_i G_i
    floating* L,            # scratch: block_rows x K logits
    floating* T,            # scratch: K x d (float32; NULL for float64)
    double* buf,            # scratch: 2 K
) noexcept nogil:
    cdef Py_ssize_t start, i, j
    cdef int m, k
    cdef double value = 0.0, inv_T2 = inv_T * inv_T
    cdef floating zero = 0.0
    cdef const floating* Xb
    cdef floating* row
    start = lo
    while start < hi:
        m = <int> min(<Py_ssize_t> block_rows, hi - start)
        Xb = X + start * d
        # logits L = Xb @ W.T + b: column-major L.T (K x m) = W (K x d) @ Xb.T
        if b != NULL:
            for i in range(m):
                for k in range(K):
                    L[i * K + k] = b[k]
        if W != NULL:
            _gemm("T", "N", K, m, d, W, d, Xb, d, <floating> (b != NULL), L, K)
        elif b == NULL:
            memset(L, 0, m * K * sizeof(floating))
        for i in range(m):
            row = L + i * K
            if hessian:
                _row_hessp(row, proba + (start + i) * K, K, sw[start + i] * inv_T2)
            else:
                value += sw[start + i] * _row_loss_grad(
                    row, proba + (start + i) * K if proba != NULL else NULL, buf, buf + K,
                    K, y[start + i], sw[start + i], inv_T, eps, gamma,
                )
        # acc_W += G.T @ Xb: column-major acc_W.T (d x K) += Xb.T (d x m) @ G (m x K)
        if d == 0:
            pass
        elif floating is double:
            _gemm("N", "T", d, K, m, Xb, d, L, K, 1.0, acc_W, d)
        else:
            _gemm("N", "T", d, K, m, Xb, d, L, K, zero, T, d)
            for j in range(K * d):
                acc_W[j] += T[j]
        if acc_b != NULL:
            for i in range(m):
                for k in range(K):
                    acc_b[k] += L[i * K + k]
        start += m
    return value


def dense_sweep(
    const floating[:, ::1] X,          # IN: n x d
    const floating[:, ::1] W,          # IN: K x d, or None for W = 0
    const floating[::1] b,             # IN: K intercepts, or None
    const int[::1] y,                  # IN: labels (loss only; may be any length for Hessian)
    const double[::1] sw,              # IN: sample weights
    floating[:, ::1] proba,            # loss: OUT (or None); Hessian: IN
    double[:, :, ::1] acc_W,           # OUT: one K x d sum per chunk
    double[:, ::1] acc_b,              # OUT: one K sum per chunk, or None
    const Py_ssize_t[::1] bounds,      # IN: chunk c is rows [bounds[c], bounds[c + 1])
    int block_rows,
    bint hessian=False,
    double inv_T=1.0,
    double eps=0.0,
    double gamma=0.0,
    int n_threads=1,
):
    """One pass over dense ``X``, chunk by chunk (one thread each), block by block.

    Loss (``hessian=False``): returns ``sum_i sw_i l_i`` and fills ``acc_W[c] =
    G.T @ X`` (``G`` the weighted logit gradients of chunk ``c``) and ``acc_b[c] =
    G.sum(0)``; ``proba`` receives ``p``. Hessian (``hessian=True``): ``W, b`` is the
    direction ``(V, c)``, ``proba`` the probabilities at the current point, and
    ``G`` the weighted Hessian product over the logits; returns 0.
    """
    cdef Py_ssize_t n = X.shape[0], n_chunks = bounds.shape[0] - 1
    cdef int d = <int> X.shape[1], K = <int> acc_W.shape[1], c
    cdef double total = 0.0
    cdef double[::1] values = np.zeros(max(n_chunks, 1))
    cdef bint has_b = b is not None, keep = proba is not None
    cdef const floating* Wp = &W[0, 0] if W is not None and W.shape[1] > 0 else NULL
    cdef floating* L
    cdef floating* T
    cdef double* buf
    cdef int[::1] ok = np.zeros(max(n_chunks, 1), dtype=np.intc)
    if acc_W.shape[0] != n_chunks or acc_W.shape[2] != d or (W is not None and (
            W.shape[0] != K or W.shape[1] != d)):
        raise ValueError("acc_W must be (n_chunks, K, d) and W (K, d)")
    if bounds[0] != 0 or bounds[n_chunks] != n or sw.shape[0] != n:
        raise ValueError("bounds must cover the rows of X and sw")
    if (hessian and not keep) or (keep and (proba.shape[0] != n or proba.shape[1] != K)):
        raise ValueError("proba must be (n, K) (required for the Hessian)")
    if not hessian and y.shape[0] != n:
        raise ValueError("y must have one label per row")
    if block_rows < 1:
        raise ValueError("block_rows must be at least 1")
    if has_b and b.shape[0] != K or acc_b is not None and acc_b.shape[0] != n_chunks:
        raise ValueError("b must have K entries and acc_b n_chunks rows")
    with nogil:
        for c in prange(n_chunks, schedule="static", chunksize=1, num_threads=n_threads):
            L = <floating*> malloc(block_rows * K * sizeof(floating))
            # float32 only: the block's G.T @ Xb before its float64 sum
            T = <floating*> malloc(K * d * sizeof(floating) + 64) if floating is float else NULL
            buf = <double*> malloc(2 * K * sizeof(double))
            if L != NULL and (T != NULL or floating is double) and buf != NULL:
                ok[c] = 1
                values[c] = _sweep_chunk(
                    hessian, &X[0, 0] if n > 0 and d > 0 else NULL, bounds[c], bounds[c + 1],
                    d, K, Wp, &b[0] if has_b else NULL,
                    &y[0] if not hessian else NULL, &sw[0] if n > 0 else NULL,
                    &proba[0, 0] if keep and n > 0 else NULL,
                    inv_T, eps, gamma, block_rows, &acc_W[c, 0, 0],
                    &acc_b[c, 0] if acc_b is not None else NULL, L, T, buf,
                )
            free(L)
            free(T)
            free(buf)
    if n_chunks > 0 and min(ok) == 0:
        raise MemoryError("no memory for the sweep's block buffers")
    for c in range(n_chunks):
        total += values[c]
    return total


# ---------------------------------------------------------------------------
# Temperature scaling
# ---------------------------------------------------------------------------
#
# With ``beta = 1 / T`` and raw scores ``a_i`` (one row of K logits), the
# negative log-likelihood of ``softmax(beta a_i)`` at label ``y`` is convex in
# beta, with
#
#     l_i(beta)   = logsumexp(beta a_i) - beta a_iy
#     l_i'(beta)  = E_p[a] - a_y               (p = softmax(beta a_i))
#     l_i''(beta) = Var_p[a] >= 0
#
# Every quantity is computed from the shifted values d_k = beta (a_k - max) <= 0
# (the same shift as ``_row_shift_exp``): ``l_i = log1p(s_rest) - d_y``,
# ``l_i' = (E_p[d] - d_y) / beta`` and ``l_i'' = Var_p[d] / beta^2``, the
# variance being taken about the mean in a second pass over the (cached) row,
# so there is no cancellation even when p is nearly one-hot. One kernel call
# gives the value and both derivatives for the safeguarded Newton iteration in
# ``skmax/_calibration.py``.
#

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


cdef inline double _row_spread(
    const floating* a,  # IN: K raw scores
    int K,
) noexcept nogil:
    """max_k a_k - min_k a_k, in double (may be +inf for float64 extremes)."""
    cdef int k
    cdef double lo = a[0], hi = a[0], v
    for k in range(1, K):
        v = a[k]
        if v < lo:
            lo = v
        elif v > hi:
            hi = v
    return hi - lo


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
):
    """Per-row spread ``max_k a_ik - min_k a_ik`` (the scale of the scores)."""
    cdef Py_ssize_t i, n = scores.shape[0]
    cdef int K = <int> scores.shape[1]
    if out.shape[0] != n:
        raise ValueError("out must have one entry per row of scores")
    if K == 0:
        return
    with nogil:
        for i in prange(n, schedule="static", num_threads=n_threads):
            out[i] = _row_spread(&scores[i, 0], K)


# ---------------------------------------------------------------------------
# Sampled softmax
# ---------------------------------------------------------------------------
#
# A minibatch's logits are computed (by BLAS, in the caller) only over its
# reduced column set: the union of the batch's true classes and the distinct
# sampled candidates. Row i of the batch uses only
#
#     R_i = {true_col[i]} U {cand_col[j] : not (remove_hits and cand_col[j] == true_col[i])}
#
# (the true columns of the other rows are not part of R_i), with the candidate
# logits corrected by ``log_q[j]`` (the log of the candidate's expected count
# over its observed count) in the temperature-scaled space:
#
#     z_i0 = a_i,true / T,     z_ij = a_i,cand_j / T - log_q[j].
#
# The row loss and its gradient are those of ``_row_loss_grad`` on the compact
# row ``z_i`` with the true class at position 0, so label smoothing and the
# focal term are defined on the sampled-softmax probabilities over R_i
# (smoothing mass spread uniformly over the |R_i| entries). Gradients are
# scattered back to the columns (added when a column occurs twice in R_i,
# which happens only when accidental hits are kept); unused columns get 0.

def sampled_loss_gradient(
    floating[:, ::1] logits,    # IN: raw logits over the reduced columns; OUT: sw_i * dl_i/da_i (0 on unused columns)
    const int[::1] true_col,    # IN: column of each row's true class
    const int[::1] cand_col,    # IN: column of each distinct sampled candidate
    const double[::1] log_q,    # IN: logQ correction of each candidate
    const double[::1] sw,       # IN: sample weights
    double inv_T,
    double eps,
    double gamma,
    bint remove_accidental_hits=True,
    int n_threads=1,
):
    """Weighted sampled-softmax loss ``sum_i sw_i l_i`` of a block; gradient
    with respect to the raw logits written into ``logits``."""
    cdef Py_ssize_t i, n = logits.shape[0]
    cdef int C = <int> logits.shape[1]
    cdef int S = <int> cand_col.shape[0]
    cdef int j, m, t, c
    cdef double T = 1.0 / inv_T, total = 0.0
    cdef double* buf
    cdef floating* row
    cdef char* scratch
    # per thread: the row kernel's 2 (S + 1) doubles, then the compact row
    cdef size_t stride = _cache_lines(2 * (S + 1) * sizeof(double) + (S + 1) * sizeof(floating))
    if true_col.shape[0] != n or sw.shape[0] != n:
        raise ValueError("true_col and sw must have one entry per row of logits")
    if log_q.shape[0] != S:
        raise ValueError("log_q must have one entry per candidate")
    for i in range(n):
        if true_col[i] < 0 or true_col[i] >= C:
            raise ValueError("true_col out of range")
    for j in range(S):
        if cand_col[j] < 0 or cand_col[j] >= C:
            raise ValueError("cand_col out of range")
    if n == 0:
        return 0.0
    scratch = _scratch(n_threads, stride)
    buf, row = NULL, NULL      # firstprivate in the parallel block
    try:
        with nogil, parallel(num_threads=n_threads):
            buf = <double*> (scratch + stride * threadid())
            row = <floating*> (buf + 2 * (S + 1))
            for i in prange(n, schedule="static"):
                t = true_col[i]
                row[0] = logits[i, t]
                m = 1
                for j in range(S):
                    c = cand_col[j]
                    if remove_accidental_hits and c == t:
                        continue
                    row[m] = <floating> (logits[i, c] - T * log_q[j])
                    m = m + 1
                total += sw[i] * _row_loss_grad(
                    row, NULL, buf, buf + S + 1, m, 0, sw[i], inv_T, eps, gamma,
                )
                for j in range(C):
                    logits[i, j] = 0
                logits[i, t] = row[0]
                m = 1
                for j in range(S):
                    c = cand_col[j]
                    if remove_accidental_hits and c == t:
                        continue
                    logits[i, c] = logits[i, c] + row[m]
                    m = m + 1
    finally:
        free(scratch)
    return total


# Block updates of the parameters touched by a sparse batch: rows ``rows`` of
# ``W`` (classes) and columns ``cols`` (features). Block values are passed
# transposed, ``(len(cols), len(rows))``, the layout of ``X_batch.T @ G``.
# Indices within ``rows`` and within ``cols`` must be distinct.

def gather_block_t(
    const floating[:, ::1] A,       # IN: (K, d)
    const Py_ssize_t[::1] rows,     # IN: row indices
    const Py_ssize_t[::1] cols,     # IN: column indices
    floating[:, ::1] out,           # OUT: (len(cols), len(rows)), out[c, r] = A[rows[r], cols[c]]
    int n_threads=1,
):
    cdef Py_ssize_t r, c, i, R = rows.shape[0], F = cols.shape[0]
    if out.shape[0] != F or out.shape[1] != R:
        raise ValueError("out must have shape (len(cols), len(rows))")
    with nogil:
        for r in prange(R, schedule="static", num_threads=n_threads):
            i = rows[r]
            for c in range(F):
                out[c, r] = A[i, cols[c]]


def adam_block_t(
    floating[:, ::1] W,             # IN/OUT: parameters (K, d)
    floating[:, ::1] m,             # IN/OUT: first moments (K, d)
    floating[:, ::1] v,             # IN/OUT: second moments (K, d)
    const Py_ssize_t[::1] rows,     # IN: distinct row indices
    const Py_ssize_t[::1] cols,     # IN: distinct column indices
    const floating[:, ::1] gt,      # IN: loss gradient of the block, transposed (len(cols), len(rows))
    double lam,                     # L2 penalty: the gradient gets + lam * W
    double lr,                      # step size (bias corrections included)
    double beta1,
    double beta2,
    double eps,
    int n_threads=1,
):
    """Lazy Adam step on the block ``W[rows][:, cols]``, in place."""
    cdef Py_ssize_t r, c, i, j, R = rows.shape[0], F = cols.shape[0]
    cdef double g, w, mm, vv
    if gt.shape[0] != F or gt.shape[1] != R:
        raise ValueError("gt must have shape (len(cols), len(rows))")
    with nogil:
        for r in prange(R, schedule="static", num_threads=n_threads):
            i = rows[r]
            for c in range(F):
                j = cols[c]
                w = W[i, j]
                g = gt[c, r] + lam * w
                mm = beta1 * m[i, j] + (1.0 - beta1) * g
                vv = beta2 * v[i, j] + (1.0 - beta2) * g * g
                m[i, j] = <floating> mm
                v[i, j] = <floating> vv
                W[i, j] = <floating> (w - lr * mm / (vv ** 0.5 + eps))


def axpy_block_t(
    floating[:, ::1] W,             # IN/OUT: (K, d)
    const Py_ssize_t[::1] rows,     # IN: distinct row indices
    const Py_ssize_t[::1] cols,     # IN: distinct column indices
    const floating[:, ::1] gt,      # IN: block values, transposed (len(cols), len(rows))
    double scale,
    int n_threads=1,
):
    """``W[rows[r], cols[c]] += scale * gt[c, r]`` in place."""
    cdef Py_ssize_t r, c, i, R = rows.shape[0], F = cols.shape[0]
    if gt.shape[0] != F or gt.shape[1] != R:
        raise ValueError("gt must have shape (len(cols), len(rows))")
    with nogil:
        for r in prange(R, schedule="static", num_threads=n_threads):
            i = rows[r]
            for c in range(F):
                W[i, cols[c]] = <floating> (W[i, cols[c]] + scale * gt[c, r])
