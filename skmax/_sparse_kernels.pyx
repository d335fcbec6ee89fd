# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The sparse sweep: one evaluation (or Hessian product) of the objective over
CSR ``X`` in one GIL-free call, the sparse sibling of ``_kernels.dense_sweep``.

Design
------
1. OpenMP over row chunks, one float64 accumulator ``acc_WT`` (``d x K``,
   transposed) per chunk, summed by the caller: no locks, deterministic for a
   fixed thread count, as the dense sweep.
2. Row by row: the logits ``a_i = b + sum_j x_ij W[:, j]`` are BLAS ``daxpy``
   calls over the rows of ``WT = W.T`` (one per nonzero, ``K`` contiguous
   doubles each), then the shared row function of ``_row_kernels.pxd`` in
   place, then ``acc_WT[j] += x_ij G_i`` (``daxpy`` per nonzero) while the
   row's nonzeros are cached: ``X`` is read once per evaluation and never
   densified, and ``G.T @ X`` needs no transposed copy of ``X``.
3. Products run in double whatever the storage dtype (``WT`` and the
   accumulators are float64, a float32 ``x_ij`` is widened once); the logit
   row is stored in the data's dtype for the row function, as in the dense
   sweep, so both sweeps give the same rows.
4. Measured speeds live in ``docs/benchmarks.md``.
"""

from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from ._blas cimport daxpy
from ._row_kernels cimport LossParams, _row_hessp, _row_loss_grad, floating

import numpy as np


cdef double _sparse_chunk(
    const floating* data, const int* indices, const Py_ssize_t* indptr, Py_ssize_t lo,
    Py_ssize_t hi, int K, const double* WT, const double* b, const int* y, const double* sw,
    floating* proba, double* acc_WT, double* acc_b, bint hessian, LossParams lp,
    double* logits, floating* row, double* buf,
) noexcept nogil:
    cdef Py_ssize_t i, p
    cdef int k
    cdef double value = 0.0, inv_T2 = lp.inv_T * lp.inv_T
    for i in range(lo, hi):
        if b != NULL:
            memcpy(logits, b, K * sizeof(double))
        else:
            memset(logits, 0, K * sizeof(double))
        if WT != NULL:
            for p in range(indptr[i], indptr[i + 1]):
                daxpy(K, <double> data[p], WT + <Py_ssize_t> indices[p] * K, logits)
        for k in range(K):
            row[k] = <floating> logits[k]
        if hessian:
            _row_hessp(row, proba + i * K, K, sw[i] * inv_T2)
        else:
            value += sw[i] * _row_loss_grad(
                row, proba + i * K if proba != NULL else NULL, buf, buf + K, K, y[i], sw[i], lp)
        for k in range(K):
            logits[k] = row[k]
        if acc_b != NULL:
            daxpy(K, 1.0, logits, acc_b)
        for p in range(indptr[i], indptr[i + 1]):
            daxpy(K, <double> data[p], logits, acc_WT + <Py_ssize_t> indices[p] * K)
    return value


def sparse_sweep(
    const floating[::1] data,          # IN: CSR values
    const int[::1] indices,            # IN: CSR column indices
    const Py_ssize_t[::1] indptr,      # IN: CSR row pointers (n + 1)
    const double[:, ::1] WT,           # IN: W.T (d x K), or None for W = 0
    const double[::1] b,               # IN: K intercepts, or None
    const int[::1] y,                  # IN: labels (loss only)
    const double[::1] sw,              # IN: sample weights
    floating[:, ::1] proba,            # loss: OUT (or None); Hessian: IN
    double[:, :, ::1] acc_WT,          # OUT: one d x K sum per chunk (zeroed by the caller)
    double[:, ::1] acc_b,              # OUT: one K sum per chunk, or None
    const Py_ssize_t[::1] bounds,      # IN: chunk c is rows [bounds[c], bounds[c + 1])
    *,
    bint hessian=False,
    double inv_T=1.0,
    double eps=0.0,
    double gamma=0.0,
    int n_threads=1,
):
    """One pass over CSR ``X``: as ``_kernels.dense_sweep`` (same arguments and
    results), with the gradient accumulated transposed, ``acc_WT[c] = X.T @ G``."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, n_chunks = bounds.shape[0] - 1, c
    cdef int d = <int> acc_WT.shape[1], K = <int> acc_WT.shape[2]
    cdef double total = 0.0
    cdef double[::1] values = np.zeros(max(n_chunks, 1))
    cdef int[::1] ok = np.zeros(max(n_chunks, 1), dtype=np.intc)
    cdef bint has_b = b is not None, keep = proba is not None
    cdef LossParams lp = LossParams(inv_T=inv_T, eps=eps, gamma=gamma)
    cdef double* logits
    cdef double* buf
    cdef floating* row
    if acc_WT.shape[0] != n_chunks or (WT is not None and (WT.shape[0] != d
                                                           or WT.shape[1] != K)):
        raise ValueError("acc_WT must be (n_chunks, d, K) and WT (d, K)")
    if bounds[0] != 0 or bounds[n_chunks] != n or sw.shape[0] != n:
        raise ValueError("bounds must cover the rows of X and sw")
    if indptr[n] > data.shape[0] or indptr[n] > indices.shape[0]:
        raise ValueError("indptr points past data / indices")
    for c in range(indptr[n]):
        if indices[c] < 0 or indices[c] >= d:
            raise ValueError("column index out of range")
    if (hessian and not keep) or (keep and (proba.shape[0] != n or proba.shape[1] != K)):
        raise ValueError("proba must be (n, K) (required for the Hessian)")
    if not hessian and y.shape[0] != n:
        raise ValueError("y must have one label per row")
    if has_b and b.shape[0] != K or acc_b is not None and acc_b.shape[0] != n_chunks:
        raise ValueError("b must have K entries and acc_b n_chunks rows")
    if n == 0 or K == 0:
        return 0.0
    with nogil:
        for c in prange(n_chunks, schedule="static", chunksize=1, num_threads=n_threads):
            logits = <double*> malloc(3 * K * sizeof(double))
            row = <floating*> malloc(K * sizeof(floating))
            if logits != NULL and row != NULL:
                ok[c] = 1
                buf = logits + K
                values[c] = _sparse_chunk(
                    &data[0] if data.shape[0] > 0 else NULL,
                    &indices[0] if indices.shape[0] > 0 else NULL, &indptr[0],
                    bounds[c], bounds[c + 1], K, &WT[0, 0] if WT is not None else NULL,
                    &b[0] if has_b else NULL, &y[0] if not hessian else NULL, &sw[0],
                    &proba[0, 0] if keep else NULL, &acc_WT[c, 0, 0],
                    &acc_b[c, 0] if acc_b is not None else NULL, hessian, lp, logits, row, buf)
            free(logits)
            free(row)
    if n_chunks > 0 and min(ok) == 0:
        raise MemoryError("no memory for the sparse sweep's row buffers")
    for c in range(n_chunks):
        total += values[c]
    return total
