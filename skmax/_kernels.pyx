# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled row kernels of skmax: the loss, its gradient, Hessian products,
softmax, and the dense sweep of one evaluation.

Siblings: ``_temperature_kernels.pyx`` (temperature scaling) and
``_minibatch_kernels.pyx`` (sampled softmax, block updates of the minibatch
solvers). The per-row functions they share are in ``_row_kernels.pxd``, the
fast ``exp`` in ``_fast_exp.h``. Python reaches the row kernels only through
``skmax._loss.SoftmaxLoss``. Measured speeds live in ``docs/benchmarks.md``.

Design
------
1. The kernels never multiply matrices by hand. Logits ``a = X @ W.T + b`` and
   the gradient ``G.T @ X`` are BLAS products, block of rows by block of rows
   (``dense_sweep``, note 7; numpy or scipy.sparse for the callers of the
   other kernels); a kernel only walks the ``n x K`` logit block once, row by
   row.
2. Each row's work is a small ``nogil`` inline function (``_row_*``) taking raw
   pointers; the array kernels are ``prange`` loops over rows with an explicit
   ``n_threads``. Arguments are marked ``# IN`` / ``# OUT`` / ``# IN/OUT``. The
   loss configuration travels as one ``LossParams`` struct (``inv_T, eps,
   gamma``), given by keyword from Python.
3. Inside a row all arithmetic is in double whatever the storage dtype
   (float32 or float64 through the fused type ``floating``): logits are shifted
   by the row maximum *before* the temperature scaling, so any finite logit
   (+-1e300 in float64, +-3e38 in float32) gives finite probabilities and
   log-probabilities; log-probabilities are clipped to the storage dtype's range.
4. ``log(sum(exp))`` is computed as ``log1p(sum over the non-maximal entries)``,
   so ``1 - p`` and ``log p`` of a dominant class keep full relative precision
   (the focal term needs both). ``exp`` of the shifted logits is the
   branch-free ``skmax_exp_nonpos`` of ``_fast_exp.h`` (its argument is <= 0,
   so it needs no range handling): libm's ``exp`` call was most of a row's
   cost. The row head (max, shift, exp, sum) has AVX2 and AVX-512 copies in
   intrinsics, picked at run time (``SKMAX_NO_AVX512=1`` / ``SKMAX_NO_AVX2=1``
   force the AVX2 / portable copies; the tests compare them).
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

   Soft targets (``targets``, rows ``t_i`` of class probabilities) replace
   ``onehot(y)`` in ``q``: ``q = (1 - eps) t + eps / K`` and the same formulas
   hold (the loss is linear in ``q``), one optional row pointer of
   ``_row_loss_grad``, NULL for hard labels.

   The Hessian-vector product is only needed for the convex case gamma = 0,
   where ``d2l/da2 = (diag(p) - p p^T) / T^2``.
7. ``dense_sweep`` is a whole evaluation (or Hessian product) over dense ``X``
   in one GIL-free call: OpenMP over row chunks (one float64 accumulator each),
   and per block of rows ``gemm`` (logits), the row function, ``gemm``
   (``G.T @ Xb`` while ``Xb`` is cached). It stays in this module, beside the
   row loops it drives, rather than in a sibling: it is the loss's loop over
   ``X`` and shares their row functions and checks. ``sgemm``/``dgemm`` come,
   through ``skmax/_blas.pyx``,
   from scipy's ``cython_blas`` capsules, read at import, so scipy is not
   needed to build. A Python loop over numpy calls lost a large share of each
   sweep to GIL hand-offs (measured once, in ``docs/benchmarks.md``, "The
   compiled sweep"); in C, blocks can be as short as the tall-skinny products
   run fastest on.
8. Prediction (``predict_dense``) is the same loop without a gradient: OpenMP
   over blocks of rows, ``gemm`` straight into the output's rows, the row
   function in place; ``predict`` keeps only each row's argmax, from one
   logit block per thread. So memory is the output plus a block per thread,
   for any K. Sparse ``X`` gets its products from scipy.sparse and its rows
   from ``predict_logits``. Each row reports whether its logits were finite:
   the caller recomputes an overflowed row exactly (``skmax/_prediction.py``).
   Dense ``X`` can be checked for infinite and NaN entries in the same call,
   each block's rows while they are in cache for the product: the estimator's
   input validation then skips its own pass over ``X`` (a single-threaded
   numpy sum, a large share of a prediction at few classes).
9. Float32 probabilities are computed in float (``skmax_softmax_f32`` of
   ``_fast_exp.h``: float ``exp``, twice the SIMD width of double, and an
   AVX-512 copy): at many classes the double row cost several times the
   float32 product. So is the float32 cross-entropy row of a fit (focal
   exponent 0, hard labels: ``skmax_xent_f32``), with its sums, ``log1p`` and
   the label's entry in double. Only finite rows whose shifts stay within
   float's range take them; the others take the double row function and its
   limits (note 3).
"""

from cython.parallel cimport parallel, prange, threadid
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from ._blas cimport gemm
from ._row_kernels cimport (
    LossParams, SKMAX_HAS_OPENMP, SKMAX_MAX_THREADS, _cache_lines, _row_finite, _row_hessp,
    _row_loss_grad, _row_softmax, _scratch, floating, skmax_has_avx2, skmax_has_avx512,
    skmax_row_argmax_f32, skmax_row_argmax_f64, skmax_softmax_f32,
)

import numpy as np


def openmp_max_threads():
    """Number of threads OpenMP would use by default (1 without OpenMP)."""
    return SKMAX_MAX_THREADS()


def built_with_openmp():
    """Whether the kernels were compiled with OpenMP."""
    return bool(SKMAX_HAS_OPENMP)


def exp_uses_avx2():
    """Whether the row kernels' ``exp`` loop runs its AVX2 + FMA copy (x86-64
    CPUs that have them, unless ``SKMAX_NO_AVX2`` is set at import)."""
    return bool(skmax_has_avx2())


def softmax_f32_uses_avx512():
    """Whether float32 prediction rows run their AVX-512 copy (x86-64 CPUs
    that have it, unless ``SKMAX_NO_AVX512`` or ``SKMAX_NO_AVX2`` is set at import)."""
    return bool(skmax_has_avx512())


# decide once, at import, before any kernel runs on threads
exp_uses_avx2()
softmax_f32_uses_avx512()


# ---------------------------------------------------------------------------
# Array kernels (prange over rows)
# ---------------------------------------------------------------------------

def loss_gradient(
    floating[:, ::1] raw,          # IN: raw logits a; OUT: sw_i * dl_i/da_i
    const int[::1] y,              # IN: encoded labels 0..K-1
    const double[::1] sw,          # IN: sample weights (already times class weights)
    floating[:, ::1] proba=None,   # OUT (optional): probabilities, for Hessian products
    const double[:, ::1] targets=None,  # IN (optional): target distributions (soft labels)
    *,
    double inv_T,
    double eps,
    double gamma,
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
    cdef LossParams lp = LossParams(inv_T=inv_T, eps=eps, gamma=gamma)
    if keep_proba and (proba.shape[0] != n or proba.shape[1] != K):
        raise ValueError("proba must have the shape of raw")
    cdef bint soft = targets is not None
    if y.shape[0] != n or sw.shape[0] != n:
        raise ValueError("y and sw must have one entry per row of raw")
    if soft and (targets.shape[0] != n or targets.shape[1] != K):
        raise ValueError("targets must have the shape of raw")
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
                    K, y[i], sw[i], lp, &targets[i, 0] if soft else NULL,
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

cdef inline void _gemm(
    char* transa, char* transb, int m, int n, int k,
    const floating* a, int lda, const floating* b, int ldb,
    floating beta, floating* c, int ldc,
) noexcept nogil:
    """Column-major ``c = op(a) @ op(b) + beta c`` (Fortran BLAS convention),
    through the one BLAS loader of ``skmax/_blas.pyx``."""
    cdef floating one = 1.0
    gemm(transa, transb, m, n, k, one, a, lda, b, ldb, beta, c, ldc)


cdef struct SweepConfig:
    int d               # columns of X
    int K               # classes
    int block_rows      # rows per BLAS block
    bint hessian        # False: loss and gradient; True: Hessian product
    LossParams loss
    unsigned char* x_bad    # OUT (or NULL): 1 where a row of X is not all finite


cdef double _sweep_chunk(
    const SweepConfig* cfg,
    const floating* X,      # IN: rows [lo, hi) of X (C order, d columns)
    Py_ssize_t lo,
    Py_ssize_t hi,
    const floating* W,      # IN: K x d (C order), or NULL for W = 0
    const floating* b,      # IN: K intercepts or NULL
    const int* y,           # IN: labels (loss only)
    const double* targets,  # IN: n x K target distributions, or NULL (labels y)
    const double* sw,       # IN: sample weights
    floating* proba,        # loss: OUT (may be NULL); Hessian: IN
    double* acc_W,          # OUT (accumulated): K x d, sum_i G_i x_i^T
    double* acc_b,          # OUT (accumulated): K or NULL, sum_i G_i
    floating* L,            # scratch: block_rows x K logits
    floating* T,            # scratch: K x d (float32; NULL for float64)
    double* buf,            # scratch: 2 K
) noexcept nogil:
    cdef Py_ssize_t start, i, j
    cdef int m, k, d = cfg.d, K = cfg.K, block_rows = cfg.block_rows
    cdef bint hessian = cfg.hessian
    cdef double value = 0.0, inv_T2 = cfg.loss.inv_T * cfg.loss.inv_T
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
                    K, y[start + i], sw[start + i], cfg.loss,
                    targets + (start + i) * K if targets != NULL else NULL,
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
        if cfg.x_bad != NULL and d > 0:
            # the fit's check of its input, while the block is in cache
            for i in range(m):
                cfg.x_bad[start + i] = not _row_finite(Xb + i * d, d)
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
    *,
    int block_rows,
    const double[:, ::1] targets=None,  # IN: n x K target distributions (loss only), or None
    bint hessian=False,
    double inv_T=1.0,
    double eps=0.0,
    double gamma=0.0,
    int n_threads=1,
    unsigned char[::1] x_bad=None,     # OUT (optional): 1 where a row of X is not all finite
):
    """One pass over dense ``X``, chunk by chunk, block by block.

    The chunks are handed to the ``n_threads`` threads as they come free
    (dynamic schedule): a thread sharing its core with another process takes
    fewer of them (see ``_objective.py``, note 1).

    Loss (``hessian=False``): returns ``sum_i sw_i l_i`` and fills ``acc_W[c] =
    G.T @ X`` (``G`` the weighted logit gradients of chunk ``c``) and ``acc_b[c] =
    G.sum(0)``; ``proba`` receives ``p``. Hessian (``hessian=True``): ``W, b`` is the
    direction ``(V, c)``, ``proba`` the probabilities at the current point, and
    ``G`` the weighted Hessian product over the logits; returns 0. With
    ``x_bad``, each row of ``X`` is checked for infinite and NaN entries while
    its block is in cache (a fit's first evaluation: ``_objective.py``, note 8).
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
    cdef SweepConfig cfg = SweepConfig(
        d=d, K=K, block_rows=block_rows, hessian=hessian,
        loss=LossParams(inv_T=inv_T, eps=eps, gamma=gamma), x_bad=NULL)
    if x_bad is not None:
        if x_bad.shape[0] != n:
            raise ValueError("x_bad must have one entry per row of X")
        if n > 0:
            cfg.x_bad = &x_bad[0]
    if acc_W.shape[0] != n_chunks or acc_W.shape[2] != d or (W is not None and (
            W.shape[0] != K or W.shape[1] != d)):
        raise ValueError("acc_W must be (n_chunks, K, d) and W (K, d)")
    if bounds[0] != 0 or bounds[n_chunks] != n or sw.shape[0] != n:
        raise ValueError("bounds must cover the rows of X and sw")
    if (hessian and not keep) or (keep and (proba.shape[0] != n or proba.shape[1] != K)):
        raise ValueError("proba must be (n, K) (required for the Hessian)")
    if not hessian and y.shape[0] != n:
        raise ValueError("y must have one label per row")
    cdef bint soft = targets is not None and not hessian
    if soft and (targets.shape[0] != n or targets.shape[1] != K):
        raise ValueError("targets must be (n, K)")
    if block_rows < 1:
        raise ValueError("block_rows must be at least 1")
    if has_b and b.shape[0] != K or acc_b is not None and acc_b.shape[0] != n_chunks:
        raise ValueError("b must have K entries and acc_b n_chunks rows")
    with nogil:
        for c in prange(n_chunks, schedule="dynamic", chunksize=1, num_threads=n_threads):
            L = <floating*> malloc(block_rows * K * sizeof(floating))
            # float32 only: the block's G.T @ Xb before its float64 sum
            T = <floating*> malloc(K * d * sizeof(floating) + 64) if floating is float else NULL
            buf = <double*> malloc(2 * K * sizeof(double))
            if L != NULL and (T != NULL or floating is double) and buf != NULL:
                ok[c] = 1
                values[c] = _sweep_chunk(
                    &cfg, &X[0, 0] if n > 0 and d > 0 else NULL, bounds[c], bounds[c + 1],
                    Wp, &b[0] if has_b else NULL,
                    &y[0] if not hessian else NULL,
                    &targets[0, 0] if soft and n > 0 else NULL, &sw[0] if n > 0 else NULL,
                    &proba[0, 0] if keep and n > 0 else NULL, &acc_W[c, 0, 0],
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
# Prediction: logits, probabilities or labels of a linear model (note 8)
# ---------------------------------------------------------------------------

# what a prediction kernel writes for each row (skmax._prediction names them)
cdef enum:
    PREDICT_DECISION = 0    # the logits times 1 / T
    PREDICT_PROBA = 1       # softmax(logits / T)
    PREDICT_LOG_PROBA = 2   # its log
    PREDICT_LABEL = 3       # index of the largest logit


cdef inline int _row_argmax(const floating* a, int K) noexcept nogil:
    """Index of the first maximal entry of a row, or -1 when the row holds a
    value that is not finite (dispatched SIMD, ``_fast_exp.h``)."""
    if floating is float:
        return skmax_row_argmax_f32(a, K)
    else:
        return skmax_row_argmax_f64(a, K)


cdef inline void _predict_rows(
    floating* L,            # IN: m x K logits; OUT for the first three kinds
    const floating* b,      # IN: K intercepts added to every row first, or NULL
    int m,
    int K,
    int kind,
    double inv_T,
    Py_ssize_t* labels,     # OUT (PREDICT_LABEL only): m indices
    unsigned char* bad,     # OUT: 1 where a row's logits are not all finite
    double* buf,            # scratch: 2 K
) noexcept nogil:
    cdef int i, k, top
    cdef floating* row
    cdef bint take_log = kind == PREDICT_LOG_PROBA
    for i in range(m):
        row = L + <Py_ssize_t> i * K
        if b != NULL:
            for k in range(K):
                row[k] = row[k] + b[k]
        # float32 probabilities of finite rows: the float path (note 9)
        if floating is float and (kind == PREDICT_PROBA or take_log) and skmax_softmax_f32(
                row, K, inv_T, take_log):
            bad[i] = 0
            continue
        top = _row_argmax(row, K)
        bad[i] = top < 0
        if kind == PREDICT_LABEL:
            labels[i] = top
        elif kind == PREDICT_DECISION:
            if inv_T != 1.0:
                for k in range(K):
                    row[k] = <floating> (row[k] * inv_T)
        else:
            _row_softmax(row, buf, buf + K, K, inv_T, take_log)


def predict_logits(
    floating[:, ::1] logits,           # IN: logits X @ W.T without intercept (kind 3: OUT, scratch)
    const floating[::1] b,             # IN: K intercepts
    floating[:, ::1] out,              # OUT (kinds 0-2): n x K rows, may be ``logits`` itself
    Py_ssize_t[::1] labels,            # OUT (kind 3): n indices
    unsigned char[::1] bad,            # OUT: 1 where a row's logits are not all finite
    *,
    int kind,
    double inv_T=1.0,
):
    """The rows of a prediction from precomputed logits (the sparse path: the
    product comes from scipy.sparse); one thread, no GIL."""
    cdef Py_ssize_t i, n = logits.shape[0]
    cdef int K = <int> logits.shape[1], k
    cdef bint label = kind == PREDICT_LABEL
    cdef floating* dst
    cdef double* buf
    if b.shape[0] != K or bad.shape[0] != n or (label and labels.shape[0] != n) or (
            not label and (out.shape[0] != n or out.shape[1] != K)):
        raise ValueError("b, out, labels and bad must match the logits")
    if n == 0:
        return
    dst = &logits[0, 0] if label else &out[0, 0]
    buf = <double*> malloc(2 * K * sizeof(double) + 64)
    if buf == NULL:
        raise MemoryError("no memory for the prediction's row buffer")
    with nogil:
        for i in range(n):
            for k in range(K):
                dst[i * K + k] = logits[i, k] + b[k]
        _predict_rows(dst, NULL, <int> n, K, kind, inv_T, &labels[0] if label else NULL,
                      &bad[0], buf)
    free(buf)


def predict_dense(
    const floating[:, ::1] X,          # IN: n x d
    const floating[:, ::1] W,          # IN: K x d
    const floating[::1] b,             # IN: K intercepts
    floating[:, ::1] out,              # OUT (kinds 0-2): n x K, or None
    Py_ssize_t[::1] labels,            # OUT (kind 3): n indices, or None
    unsigned char[::1] bad,            # OUT: 1 where a row's logits are not all finite,
                                       #      2 where the row of X is not (check_x)
    *,
    int kind,
    double inv_T=1.0,
    int block_rows,
    int n_threads=1,
    bint check_x=False,
):
    """A whole prediction over dense ``X`` in one GIL-free call: OpenMP over
    blocks of rows; per block, ``gemm`` writes the logits straight into the
    block's rows of ``out`` (labels: into the thread's own block) and the row
    function finishes them in place. With ``check_x``, each row of ``X`` is
    also checked for infinite and NaN entries while the block is in cache
    (note 8)."""
    cdef Py_ssize_t n = X.shape[0], n_blocks, blk, start, i
    cdef int d = <int> X.shape[1], K = <int> W.shape[0], m
    cdef bint label = kind == PREDICT_LABEL
    cdef floating* L
    cdef floating* block
    cdef double* buf
    cdef int[::1] failed = np.zeros(1, dtype=np.intc)   # set by any thread that failed
    if W.shape[1] != d or b.shape[0] != K or bad.shape[0] != n or (
            label and (labels is None or labels.shape[0] != n)) or (
            not label and (out is None or out.shape[0] != n or out.shape[1] != K)):
        raise ValueError("W, b, out, labels and bad must match X")
    if block_rows < 1:
        raise ValueError("block_rows must be at least 1")
    if n == 0 or K == 0:
        return
    n_blocks = (n + block_rows - 1) // block_rows
    buf, block = NULL, NULL     # Cython makes them firstprivate: give them a value to copy
    with nogil, parallel(num_threads=n_threads):
        buf = <double*> malloc(2 * K * sizeof(double) + 64)
        block = <floating*> malloc(block_rows * K * sizeof(floating)) if label else NULL
        if buf == NULL or (label and block == NULL):
            failed[0] = 1
        else:
            for blk in prange(n_blocks, schedule="static"):
                start = blk * block_rows
                m = <int> min(<Py_ssize_t> block_rows, n - start)
                L = block if label else &out[start, 0]
                # L = Xb @ W.T: column-major L.T (K x m) = W (K x d) @ Xb.T; the
                # row function adds b (one pass less over L than a preloaded b)
                if d > 0:
                    _gemm("T", "N", K, m, d, &W[0, 0], d, &X[start, 0], d, 0.0, L, K)
                else:
                    memset(L, 0, m * K * sizeof(floating))
                _predict_rows(L, &b[0], m, K, kind, inv_T, &labels[start] if label else NULL,
                              &bad[start], buf)
                if check_x and d > 0:
                    for i in range(start, start + m):
                        if not _row_finite(&X[i, 0], d):
                            bad[i] = 2
        free(buf)
        free(block)
    if failed[0]:
        raise MemoryError("no memory for the prediction's block buffers")
