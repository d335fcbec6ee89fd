# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled products of a sparse ``X`` with a dense block, for the objective's
sweep over CSR input (``skmax/_objective.py``, note 4).

Design
------
1. Three products, each one GIL-free call with an explicit ``n_threads``:
   ``csr_dense`` (logits ``X @ B + b``: OpenMP over rows, each row a sum of
   rows of ``B`` scaled by its nonzeros), and two forms of the gradient
   ``G.T @ X``: ``csc_dense`` over the columns of a transposed (CSC) copy of
   ``X`` (OpenMP over features, each output row its own sum: no atomics, no
   per-thread copies) and ``csr_t_dense`` over the rows of ``X`` into one
   accumulator per thread. The objective picks the second where
   ``n_features x K`` is large against the rows (text: a per-thread copy of the
   gradient would be many times the logits), the third where it is small (many
   classes, few features: each column of the CSC copy would walk all of ``G``).
2. The inner loop is an axpy over the ``K`` contiguous columns of ``B`` or
   ``G`` (one class per lane), which the compiler vectorises; scipy.sparse's
   products run the same loops on one thread, with no such inner loop.
3. Gradient sums are float64 whatever the storage dtype, as in the dense
   sweep: ``csc_dense`` accumulates in float64; ``csr_t_dense`` in the storage
   dtype over a chunk of rows (its callers add the chunks in float64, as the
   dense sweep adds its blocks), so float32 rows need no conversion.
4. Index arrays are ``intp`` (the caller converts scipy's ``int32`` indices
   once per fit and checks that they lie within the matrix).
5. ``csr_dense`` prefetches the row of ``B`` a few nonzeros ahead: with many
   features ``B`` outgrows the cache and each nonzero's row is a cache miss
   (``csc_dense`` reads rows of ``G``, which has as many rows as ``X``, far
   fewer than features where it is used). ``csc_dense`` sums a block of
   features before writing them, so its ``K x d`` output is written a row of
   classes at a time rather than a column.
6. Sparse ``X`` with few features and many nonzeros per row (ALOI: 128
   features, a quarter of them nonzero) runs its products as BLAS GEMMs on
   dense copies of row chunks (``csr_rows_to_dense``, the objective's note
   10): a GEMM's multiply-add costs a fraction of an axpy's here, more than
   the zeros it adds.
"""

from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from ._row_kernels cimport floating

import numpy as np


cdef extern from *:
    void __builtin_prefetch(const void* addr) noexcept nogil

cdef enum:
    PREFETCH = 8            # nonzeros ahead whose row of B is prefetched (note 5)
    FEATURE_BLOCK = 64      # features per block of csc_dense (note 1)


cdef inline void _axpy(floating* y, const floating* x, floating v, int K) noexcept nogil:
    """``y += v x`` over ``K`` entries."""
    cdef int k
    for k in range(K):
        y[k] = y[k] + v * x[k]


cdef inline void _axpy_acc(double* y, const floating* x, double v, int K) noexcept nogil:
    """``y += v x`` over ``K`` entries, accumulated in float64."""
    cdef int k
    for k in range(K):
        y[k] = y[k] + v * x[k]


def csr_dense(
    const Py_ssize_t[::1] indptr,      # IN: CSR row pointers of X (n + 1)
    const Py_ssize_t[::1] indices,     # IN: column of each nonzero
    const floating[::1] data,          # IN: value of each nonzero
    const floating[:, ::1] B,          # IN: d x K
    const floating[::1] b,             # IN: K offsets added to every row, or None
    floating[:, ::1] out,              # OUT: n x K, X @ B + b
    int n_threads=1,
):
    """``out = X @ B + b`` for CSR ``X`` (note 1)."""
    cdef Py_ssize_t i, p, n = out.shape[0]
    cdef int K = <int> out.shape[1], k
    cdef bint has_b = b is not None
    cdef floating* row
    if indptr.shape[0] != n + 1 or B.shape[1] != K or (has_b and b.shape[0] != K):
        raise ValueError("indptr, B, b and out must agree in shape")
    if n == 0 or K == 0:
        return
    if indptr[n] > indices.shape[0] or indptr[n] > data.shape[0]:
        raise ValueError("indices and data must hold indptr[-1] entries")
    with nogil:
        for i in prange(n, schedule="guided", num_threads=n_threads):
            row = &out[i, 0]
            if has_b:
                for k in range(K):
                    row[k] = b[k]
            else:
                memset(row, 0, K * sizeof(floating))
            for p in range(indptr[i], indptr[i + 1]):
                if p + PREFETCH < indptr[i + 1]:
                    __builtin_prefetch(&B[indices[p + PREFETCH], 0])
                _axpy(row, &B[indices[p], 0], data[p], K)


def csc_dense(
    const Py_ssize_t[::1] indptr,      # IN: CSC column pointers of X (d + 1)
    const Py_ssize_t[::1] indices,     # IN: row of each nonzero
    const floating[::1] data,          # IN: value of each nonzero
    const floating[:, ::1] G,          # IN: n x K
    double[:, ::1] out,                # OUT: K x d, G.T @ X (features_first: d x K, X.T @ G)
    int n_threads=1,
    bint features_first=False,
):
    """``out = G.T @ X`` from the CSC form of ``X``: OpenMP over blocks of
    features, each block summed in a thread's own buffer and written out a
    row of classes at a time (note 1); with ``features_first``, ``out = X.T @ G``,
    the block copied out whole."""
    cdef Py_ssize_t blk, j, j0, p, d = out.shape[0 if features_first else 1], n_blocks
    cdef int K = <int> out.shape[1 if features_first else 0], k, width
    cdef double* acc
    cdef int[::1] failed = np.zeros(1, dtype=np.intc)   # set by any thread that failed
    if indptr.shape[0] != d + 1 or G.shape[1] != K:
        raise ValueError("indptr, G and out must agree in shape")
    if d == 0 or K == 0:
        return
    if indptr[d] > indices.shape[0] or indptr[d] > data.shape[0]:
        raise ValueError("indices and data must hold indptr[-1] entries")
    n_blocks = (d + FEATURE_BLOCK - 1) // FEATURE_BLOCK
    acc = NULL      # Cython makes it firstprivate: give it a value to copy
    with nogil, parallel(num_threads=n_threads):
        acc = <double*> malloc(FEATURE_BLOCK * K * sizeof(double) + 64)
        if acc == NULL:
            failed[0] = 1
        else:
            # columns of text are Zipf-sized: hand the blocks out in guided pieces
            for blk in prange(n_blocks, schedule="guided"):
                j0 = blk * FEATURE_BLOCK
                width = <int> min(<Py_ssize_t> FEATURE_BLOCK, d - j0)
                memset(acc, 0, width * K * sizeof(double))
                for j in range(width):
                    for p in range(indptr[j0 + j], indptr[j0 + j + 1]):
                        _axpy_acc(acc + j * K, &G[indices[p], 0], data[p], K)
                if features_first:
                    memcpy(&out[j0, 0], acc, width * K * sizeof(double))
                else:
                    for k in range(K):
                        for j in range(width):
                            out[k, j0 + j] = acc[j * K + k]
        free(acc)
    if failed[0]:
        raise MemoryError("no memory for the product's buffers")


def csr_t_dense(
    const Py_ssize_t[::1] indptr,      # IN: CSR row pointers of X (n + 1)
    const Py_ssize_t[::1] indices,     # IN: column of each nonzero
    const floating[::1] data,          # IN: value of each nonzero
    const floating[:, ::1] G,          # IN: n x K
    floating[:, :, ::1] acc,           # IN/OUT: one d x K sum per thread, added to
    const Py_ssize_t[::1] bounds,      # IN: thread t takes rows [bounds[t], bounds[t + 1])
):
    """``acc[t] += X[rows of t].T @ G[rows of t]`` from the CSR form of ``X``, one
    accumulator per thread (note 1): ``X.T @ G`` is ``acc.sum(0)``. ``indptr``
    may be a slice of a larger matrix's (rows ``lo..hi`` of ``X`` against the
    ``hi - lo`` rows of ``G``)."""
    cdef Py_ssize_t i, p, n = G.shape[0], d = acc.shape[1]
    cdef int K = <int> acc.shape[2], t, n_parts = <int> acc.shape[0]
    if indptr.shape[0] != n + 1 or bounds.shape[0] != n_parts + 1 or (
            n_parts > 0 and (bounds[0] != 0 or bounds[n_parts] != n)):
        raise ValueError("indptr, G, acc and bounds must agree in shape")
    if n_parts == 0 or d == 0 or K == 0:
        return
    if indptr[n] > indices.shape[0] or indptr[n] > data.shape[0]:
        raise ValueError("indices and data must hold indptr[-1] entries")
    with nogil:
        for t in prange(n_parts, schedule="static", chunksize=1, num_threads=n_parts):
            for i in range(bounds[t], bounds[t + 1]):
                for p in range(indptr[i], indptr[i + 1]):
                    _axpy(&acc[t, indices[p], 0], &G[i, 0], data[p], K)


def csr_rows_to_dense(
    const Py_ssize_t[::1] indptr,      # IN: CSR row pointers of X (n + 1)
    const Py_ssize_t[::1] indices,     # IN: column of each nonzero
    const floating[::1] data,          # IN: value of each nonzero
    Py_ssize_t lo,                     # IN: first row
    floating[:, ::1] out,              # OUT: rows lo .. lo + out.shape[0] of X, dense
    int n_threads=1,
):
    """Rows of a CSR matrix written out dense, OpenMP over rows (note 6)."""
    cdef Py_ssize_t i, p, m = out.shape[0], d = out.shape[1]
    if lo < 0 or lo + m > indptr.shape[0] - 1:
        raise ValueError("the rows must lie within the matrix")
    if m == 0 or d == 0:
        return
    if indptr[lo + m] > indices.shape[0] or indptr[lo + m] > data.shape[0]:
        raise ValueError("indices and data must hold indptr[-1] entries")
    with nogil:
        for i in prange(m, schedule="static", num_threads=n_threads):
            memset(&out[i, 0], 0, d * sizeof(floating))
            for p in range(indptr[lo + i], indptr[lo + i + 1]):
                out[i, indices[p]] += data[p]     # duplicates add up, as in scipy
