# cython: language_level=3
"""Loads the BLAS pointers declared in ``_blas.pxd`` (see there)."""

from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer


def _load():
    global sgemm_ptr, dgemm_ptr
    from scipy.linalg import cython_blas

    capi = cython_blas.__pyx_capi__
    sgemm_ptr = <sgemm_t> PyCapsule_GetPointer(capi["sgemm"], PyCapsule_GetName(capi["sgemm"]))
    dgemm_ptr = <dgemm_t> PyCapsule_GetPointer(capi["dgemm"], PyCapsule_GetName(capi["dgemm"]))


_load()
