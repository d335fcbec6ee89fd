# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled kernels of the minibatch solvers: the sampled softmax and the block
updates of the parameters (gather, SGD step, Adam step).

Design
------
1. Sampled softmax. A minibatch's logits are computed (by BLAS)
   only over its reduced column set: the union of the batch's true classes and
   the distinct sampled candidates. Row i of the batch uses only::

       R_i = {true_col[i]} U {cand_col[j] : not (remove_hits and cand_col[j] == true_col[i])}

   (the true columns of the other rows are not part of R_i), with the
   candidate logits corrected by ``log_q[j]`` (the log of the candidate's
   expected count over its observed count) in the temperature-scaled space::

       z_i0 = a_i,true / T,     z_ij = a_i,cand_j / T - log_q[j].

2. The row loss and its gradient are those of ``_row_loss_grad`` (the shared
   row function of ``_row_kernels.pxd``) on the compact row ``z_i`` with the
   true class at position 0, so temperature, label smoothing and the focal
   term mean the same as in the full softmax, over R_i (smoothing mass spread
   uniformly over the |R_i| entries). Gradients are scattered back to the
   columns (added when a column occurs twice in R_i, which happens only when
   accidental hits are kept); unused columns get 0.
3. Block updates touch rows ``rows`` of ``W`` (classes) and columns ``cols``
   (features) only, so a sparse batch's step costs its block, never ``K x d``.
   Block values are passed transposed, ``(len(cols), len(rows))``, the layout
   of ``X_batch.T @ G``. Indices within ``rows`` and within ``cols`` must be
   distinct. The dense case (all rows, all columns) and the intercept (one
   column) go through the same kernels, so each update is written once.
4. Updates compute in double and store in the parameters' dtype, like the row
   kernels. Measured speeds live in ``docs/benchmarks.md``.
5. Adam is lazy but not slowed by it: an entry skipped since its last update
   ``s`` first catches up the steps ``s+1 .. t-1`` that dense Adam would have
   made with a zero loss gradient -- moments decayed by ``beta^gap``, and
   ``W`` moved by ``sum_tau lr_tau (m / sqrt v) r^(tau - s)``,
   ``r = beta1 / sqrt(beta2)``, ``lr_tau`` with step tau's bias correction
   (``eps`` taken once, at the catch-up; the penalty applies at touches only).
   That sum is ``lr (h[s] - r^gap h[t-1])`` from one table ``h`` of the betas
   (``adam_catch_up_table``), O(1) per entry. Without it a rarely touched row
   (a sampled class) moves about ``lr`` per touch where dense Adam moves it
   about ``lr / sqrt(touch rate)``, and sampled fits trail the full softmax at
   the default learning rate.
6. ``sampled_step`` is a whole sampled step on dense ``X`` in one GIL-free
   call: the union of the batch's classes and the candidates (a class ->
   column map, no sort), the gather of their rows of ``W`` and of the batch's
   rows of ``X``, the logits by BLAS ``gemm``, the rows of note 2, the
   gradient block ``Xb.T @ G`` by ``gemm``, and the update of note 3/5. The
   per-batch numpy calls it replaces (union, searchsorted, fancy indexing)
   had become a large share of a sampled epoch.
"""

from cython.parallel cimport parallel, prange, threadid
from libc.math cimport pow, sqrt
from libc.stdlib cimport free

from ._blas cimport gemm
from ._row_kernels cimport (
    LossParams, _cache_lines, _row_loss_grad, _scratch, floating, skmax_has_avx2,
)

import numpy as np

ADAM_TABLE_LENGTH = 1 << 15   # steps after which the bias correction is 1 to rounding

skmax_has_avx2()   # pick the exp copy once, at import, before any threaded call


def sampled_loss_gradient(
    floating[:, ::1] logits,    # IN: raw logits over the reduced columns; OUT: sw_i * dl_i/da_i (0 on unused columns)
    const int[::1] true_col,    # IN: column of each row's true class
    const int[::1] cand_col,    # IN: column of each distinct sampled candidate
    const double[::1] log_q,    # IN: logQ correction of each candidate
    const double[::1] sw,       # IN: sample weights
    *,
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
    cdef int j
    cdef double total
    cdef LossParams lp = LossParams(inv_T=inv_T, eps=eps, gamma=gamma)
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
    try:
        with nogil:
            total = _sampled_rows(logits, true_col, cand_col, log_q, sw, 1.0, lp,
                                  remove_accidental_hits, n_threads, scratch, stride)
    finally:
        free(scratch)
    return total


cdef double _sampled_rows(
    floating[:, ::1] logits, const int[::1] true_col, const int[::1] cand_col,
    const double[::1] log_q, const double[::1] sw, double sw_scale, LossParams lp,
    bint remove_accidental_hits, int n_threads, char* scratch, size_t stride,
) noexcept nogil:
    """The rows of ``sampled_loss_gradient`` (weights ``sw * sw_scale``);
    ``scratch``: ``stride`` bytes per thread."""
    cdef Py_ssize_t i, n = logits.shape[0]
    cdef int C = <int> logits.shape[1]
    cdef int S = <int> cand_col.shape[0]
    cdef int j, m, t, c
    cdef double T = 1.0 / lp.inv_T, total = 0.0, w
    cdef double* buf = NULL      # firstprivate in the parallel block
    cdef floating* row = NULL
    with parallel(num_threads=n_threads):
        buf = <double*> (scratch + stride * threadid())
        row = <floating*> (buf + 2 * (S + 1))
        for i in prange(n, schedule="static"):
            t = true_col[i]
            w = sw[i] * sw_scale
            row[0] = logits[i, t]
            m = 1
            for j in range(S):
                c = cand_col[j]
                if remove_accidental_hits and c == t:
                    continue
                row[m] = <floating> (logits[i, c] - T * log_q[j])
                m = m + 1
            total += w * _row_loss_grad(row, NULL, buf, buf + S + 1, m, 0, w, lp)
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
    return total


# Block updates (note 3): block values transposed, distinct indices.


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


def adam_catch_up_table(double beta1, double beta2, Py_ssize_t length=ADAM_TABLE_LENGTH):
    """``h[s] = sum_{j >= 1} c_{s+j} r^j`` (note 5) for ``s < length``, with
    ``r = beta1 / sqrt(beta2)`` and ``c_t = sqrt(1 - beta2^t) / (1 - beta1^t)``
    the bias correction of step ``t``; beyond ``length`` ``c_t`` is 1 to
    rounding, so ``h[length - 1]`` stands for every later ``s``."""
    import numpy as np

    cdef double r = beta1 / sqrt(beta2)
    cdef Py_ssize_t s
    h = np.empty(length, dtype=np.float64)
    cdef double[::1] hv = h
    hv[length - 1] = r / (1.0 - r)
    for s in range(length - 2, -1, -1):
        hv[s] = r * (sqrt(1.0 - pow(beta2, s + 1)) / (1.0 - pow(beta1, s + 1)) + hv[s + 1])
    return h


def adam_block_t(
    floating[:, ::1] W,             # IN/OUT: parameters (K, d)
    floating[:, ::1] m,             # IN/OUT: first moments (K, d)
    floating[:, ::1] v,             # IN/OUT: second moments (K, d)
    int[:, ::1] last,               # IN/OUT: step of each entry's last update (0: never)
    const Py_ssize_t[::1] rows,     # IN: distinct row indices
    const Py_ssize_t[::1] cols,     # IN: distinct column indices
    const floating[:, ::1] gt,      # IN: loss gradient of the block, transposed (len(cols), len(rows))
    const double[::1] catch_up,     # IN: adam_catch_up_table(beta1, beta2)
    double lam,                     # L2 penalty: the gradient gets + lam * W
    double lr,                      # learning rate (without bias correction)
    int t,                          # this step (1, 2, ...); entries last updated before t - 1 catch up
    double beta1,
    double beta2,
    double eps,
    int n_threads=1,
):
    """Adam step ``t`` on the block ``W[rows][:, cols]``, in place, after the
    catch-up of the steps the block skipped (note 5)."""
    if gt.shape[0] != cols.shape[0] or gt.shape[1] != rows.shape[0]:
        raise ValueError("gt must have shape (len(cols), len(rows))")
    if t < 1:
        raise ValueError("t must be at least 1")
    with nogil:
        _adam_block(W, m, v, last, rows, cols, gt, catch_up, lam, lr, t, beta1, beta2, eps,
                    n_threads)


cdef void _adam_block(
    floating[:, ::1] W, floating[:, ::1] m, floating[:, ::1] v, int[:, ::1] last,
    const Py_ssize_t[::1] rows, const Py_ssize_t[::1] cols, const floating[:, ::1] gt,
    const double[::1] catch_up, double lam, double lr, int t, double beta1, double beta2,
    double eps, int n_threads,
) noexcept nogil:
    """The body of ``adam_block_t`` (arguments checked by the callers)."""
    cdef Py_ssize_t r, c, i, j, R = rows.shape[0], F = cols.shape[0]
    cdef Py_ssize_t L = catch_up.shape[0]
    cdef double g, w, mm, vv
    cdef double ratio = beta1 / sqrt(beta2)
    cdef double lr_t = lr * sqrt(1.0 - pow(beta2, t)) / (1.0 - pow(beta1, t))
    cdef double h_now = catch_up[min(<Py_ssize_t> t - 1, L - 1)]
    # factors of the last skipped gap seen by this thread (a row's entries
    # usually share it: all of them with dense X)
    cdef int s, gap, seen
    cdef double decay1 = 1.0, decay2 = 1.0, travel = 0.0
    for r in prange(R, schedule="static", num_threads=n_threads):
        i = rows[r]
        seen = -1
        for c in range(F):
            j = cols[c]
            w = W[i, j]
            mm = m[i, j]
            vv = v[i, j]
            s = last[i, j]
            if s < t - 1 and vv > 0:
                if s != seen:
                    seen = s
                    gap = t - 1 - s
                    decay1 = pow(beta1, gap)
                    decay2 = pow(beta2, gap)
                    travel = lr * (catch_up[min(<Py_ssize_t> s, L - 1)]
                                   - pow(ratio, gap) * h_now)
                w = w - travel * mm / (sqrt(vv) + eps)
                mm = decay1 * mm
                vv = decay2 * vv
            last[i, j] = t
            g = gt[c, r] + lam * w
            mm = beta1 * mm + (1.0 - beta1) * g
            vv = beta2 * vv + (1.0 - beta2) * g * g
            m[i, j] = <floating> mm
            v[i, j] = <floating> vv
            W[i, j] = <floating> (w - lr_t * mm / (sqrt(vv) + eps))


def axpy_block_t(
    floating[:, ::1] W,             # IN/OUT: (K, d)
    const Py_ssize_t[::1] rows,     # IN: distinct row indices
    const Py_ssize_t[::1] cols,     # IN: distinct column indices
    const floating[:, ::1] gt,      # IN: block values, transposed (len(cols), len(rows))
    double scale,
    int n_threads=1,
):
    """``W[rows[r], cols[c]] += scale * gt[c, r]`` in place."""
    if gt.shape[0] != cols.shape[0] or gt.shape[1] != rows.shape[0]:
        raise ValueError("gt must have shape (len(cols), len(rows))")
    with nogil:
        _axpy_block(W, rows, cols, gt, scale, n_threads)


cdef void _axpy_block(
    floating[:, ::1] W, const Py_ssize_t[::1] rows, const Py_ssize_t[::1] cols,
    const floating[:, ::1] gt, double scale, int n_threads,
) noexcept nogil:
    cdef Py_ssize_t r, c, i, R = rows.shape[0], F = cols.shape[0]
    for r in prange(R, schedule="static", num_threads=n_threads):
        i = rows[r]
        for c in range(F):
            W[i, cols[c]] = <floating> (W[i, cols[c]] + scale * gt[c, r])


# One sampled minibatch step over dense X in one call (note 6).


cdef inline int _column(Py_ssize_t k, int[::1] column_of, Py_ssize_t[::1] rows,
                        Py_ssize_t* R) noexcept nogil:
    """Column of class ``k`` in the reduced set, appending it when new."""
    if column_of[k] < 0:
        column_of[k] = <int> R[0]
        rows[R[0]] = k
        R[0] += 1
    return column_of[k]


def sampled_step(
    const floating[:, ::1] X,       # IN: all rows (n, d)
    const Py_ssize_t[::1] batch,    # IN: rows of X in the batch
    const int[::1] y,               # IN: labels of all rows
    const double[::1] sw,           # IN: sample weights of all rows
    const Py_ssize_t[::1] cand,     # IN: distinct sampled candidates
    const double[::1] log_q,        # IN: their logQ corrections
    floating[:, ::1] W,             # IN/OUT: (K, d), the weights are alpha * W
    floating[:, ::1] b,             # IN/OUT: (K, 1) intercepts, or None
    object adam,                    # None ('sgd') or (m_W, v_W, last_W, m_b, v_b, last_b)
    const double[::1] catch_up,     # IN: adam_catch_up_table(beta1, beta2) (Adam only)
    int[::1] column_of,             # scratch: K entries, all -1 (left so)
    *,
    double alpha,                   # the logits' scale
    double sgd_step,                # 'sgd': W += sgd_step * gradient
    double lam,
    double lr,
    int t,
    double beta1=0.9,
    double beta2=0.999,
    double adam_eps=1e-8,
    double inv_T=1.0,
    double eps=0.0,
    double gamma=0.0,
    bint remove_accidental_hits=True,
    int n_threads=1,
):
    """Sampled-softmax step ``t`` on the batch: returns ``sum_B sw_i l_i``.

    The loss is the weighted mean over the batch (``sw_i / S_B``) plus
    ``lam ||W||^2 / 2`` (Adam; under 'sgd', ``adam`` None, the caller applies
    the penalty as a scale, as in ``skmax._sgd``); Adam as ``adam_block_t``,
    intercepts unpenalised."""
    cdef Py_ssize_t B = batch.shape[0], S = cand.shape[0], K = W.shape[0]
    cdef int d = <int> W.shape[1]
    cdef Py_ssize_t i, j, R = 0
    cdef double S_B = 0.0, total
    cdef LossParams lp = LossParams(inv_T=inv_T, eps=eps, gamma=gamma)
    cdef floating zero = 0.0
    cdef bint has_b = b is not None, is_adam = adam is not None
    cdef Py_ssize_t[::1] rows = np.empty(B + S, dtype=np.intp)
    cdef int[::1] true_col = np.empty(B, dtype=np.intc)
    cdef int[::1] cand_col = np.empty(S, dtype=np.intc)
    cdef double[::1] sw_batch = np.empty(B)
    cdef Py_ssize_t[::1] all_cols = np.arange(d, dtype=np.intp)
    cdef Py_ssize_t[::1] col0 = np.zeros(1, dtype=np.intp)
    cdef floating[:, ::1] Xb, WR, G, gt
    cdef floating[:, ::1] mW, vW, mb, vb
    cdef int[:, ::1] lW, lb
    cdef char* scratch
    cdef size_t stride = _cache_lines(2 * (S + 1) * sizeof(double) + (S + 1) * sizeof(floating))
    if (X.shape[1] != d or y.shape[0] != X.shape[0] or sw.shape[0] != X.shape[0]
            or log_q.shape[0] != S or column_of.shape[0] != K
            or (has_b and (b.shape[0] != K or b.shape[1] != 1))):
        raise ValueError("sampled_step: inconsistent shapes")
    if is_adam:
        mW, vW, lW, mb, vb, lb = adam
    for i in range(B):
        if batch[i] < 0 or batch[i] >= X.shape[0] or y[batch[i]] < 0 or y[batch[i]] >= K:
            raise ValueError("batch rows or labels out of range")
        sw_batch[i] = sw[batch[i]]
        S_B += sw_batch[i]
    for j in range(S):
        if cand[j] < 0 or cand[j] >= K:
            raise ValueError("candidates out of range")
    if not S_B > 0:
        return 0.0
    # the reduced columns: the batch's classes, then the new candidates
    for i in range(B):
        true_col[i] = _column(y[batch[i]], column_of, rows, &R)
    for j in range(S):
        cand_col[j] = _column(cand[j], column_of, rows, &R)
    for j in range(R):
        column_of[rows[j]] = -1
    dtype = np.float32 if floating is float else np.float64
    Xb, WR = np.empty((B, d), dtype=dtype), np.empty((R, d), dtype=dtype)
    G, gt = np.empty((B, R), dtype=dtype), np.empty((d, R), dtype=dtype)
    scratch = _scratch(n_threads, stride)
    try:
        with nogil:
            for j in range(R):
                WR[j, :] = W[rows[j], :]
            for i in range(B):
                Xb[i, :] = X[batch[i], :]
                for j in range(R):
                    G[i, j] = b[rows[j], 0] if has_b else zero
            # G = alpha Xb @ WR.T + b: column-major G.T (R x B) = WR (R x d) @ Xb.T
            if d > 0:
                gemm("T", "N", <int> R, <int> B, d, <floating> alpha, &WR[0, 0], d,
                     &Xb[0, 0], d, <floating> (1.0 if has_b else 0.0), &G[0, 0], <int> R)
            total = _sampled_rows(G, true_col, cand_col, log_q, sw_batch, 1.0 / S_B, lp,
                                  remove_accidental_hits, n_threads, scratch, stride)
            # gt = Xb.T @ G: column-major (R x d) = G.T (R x B) @ Xb (B x d)
            if d > 0:
                gemm("N", "T", <int> R, d, <int> B, <floating> 1.0, &G[0, 0], <int> R,
                     &Xb[0, 0], d, zero, &gt[0, 0], <int> R)
            if is_adam:
                _adam_block(W, mW, vW, lW, rows[:R], all_cols, gt, catch_up, lam, lr,
                            t, beta1, beta2, adam_eps, n_threads)
            else:
                _axpy_block(W, rows[:R], all_cols, gt, sgd_step, n_threads)
            if has_b:
                # the intercepts' gradient, one column: the sums of G's columns
                for j in range(R):
                    gt[0, j] = G[0, j]
                for i in range(1, B):
                    for j in range(R):
                        gt[0, j] = gt[0, j] + G[i, j]
                if is_adam:
                    _adam_block(b, mb, vb, lb, rows[:R], col0, gt[:1, :], catch_up, 0.0, lr,
                                t, beta1, beta2, adam_eps, 1)
                else:
                    _axpy_block(b, rows[:R], col0, gt[:1, :], -lr, 1)
    finally:
        free(scratch)
    return total * S_B
