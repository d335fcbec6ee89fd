# cython: language_level=3
"""BLAS for the kernel modules: ``gemm`` of scipy's BLAS, fused over float32 /
float64 (``_blas.pyx`` loads the pointers from scipy's ``cython_blas``
capsules at import, so scipy is not needed to build)."""

from ._row_kernels cimport floating

ctypedef void (*sgemm_t)(char*, char*, int*, int*, int*, float*, const float*, int*,
                         const float*, int*, float*, float*, int*) noexcept nogil
ctypedef void (*dgemm_t)(char*, char*, int*, int*, int*, double*, const double*, int*,
                         const double*, int*, double*, double*, int*) noexcept nogil

cdef sgemm_t sgemm_ptr
cdef dgemm_t dgemm_ptr


cdef inline void gemm(
    char* transa, char* transb, int m, int n, int k, floating alpha,
    const floating* a, int lda, const floating* b, int ldb,
    floating beta, floating* c, int ldc,
) noexcept nogil:
    """Column-major ``c = alpha op(a) @ op(b) + beta c`` (Fortran BLAS convention)."""
    if floating is float:
        sgemm_ptr(transa, transb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc)
    else:
        dgemm_ptr(transa, transb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc)
