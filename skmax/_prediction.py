"""Logits of a linear model over row chunks, shared by prediction and the
minibatch solver's early-stopping score.

1. Rows are processed in chunks so that at most about ``_PREDICT_CHUNK_BYTES``
   of logits exist at once, for any number of classes.
2. One function serves the estimator (``coef_``, binary single row) and the
   solver (``alpha * V`` with one row per class), so the chunking lives once.
"""

import numpy as np
import scipy.sparse as sp

_PREDICT_CHUNK_BYTES = 1 << 24


def rows_per_class(coef, intercept):
    """``(W, b)`` in float64 with one row per class from a fitted ``coef_`` and
    ``intercept_``: the inverse of the binary convention (a single row
    ``coef_ = w_1 - w_0`` with ``w_0 = -w_1``)."""
    W = np.asarray(coef, dtype=np.float64)
    b = np.asarray(intercept, dtype=np.float64)
    if W.shape[0] == 1:
        W, b = np.vstack([-W / 2, W / 2]), np.array([-b[0] / 2, b[0] / 2])
    return W, b


def logit_chunks(X, coef, intercept, *, scale=1.0, binary_rows=False):
    """Yield ``(start, stop, a)`` with raw logits ``a = scale * X @ coef.T + intercept``
    over row chunks (C-contiguous, fresh arrays). With ``binary_rows`` and a
    single-row ``coef`` the logits are the two rows ``[0, a]``."""
    n = X.shape[0]
    dtype = np.result_type(X.dtype, coef.dtype)
    coef = coef.astype(dtype, copy=False)
    intercept = intercept.astype(dtype, copy=False)
    binary = binary_rows and coef.shape[0] == 1
    width = coef.shape[0] + int(binary)
    step = max(1, _PREDICT_CHUNK_BYTES // (np.dtype(dtype).itemsize * width))
    if sp.issparse(X):
        X = X.tocsr()
        coef = np.ascontiguousarray(coef.T).T   # scipy wants C-ordered coef.T: copy once
    for start in range(0, max(n, 1), step):
        stop = min(start + step, n)
        a = np.asarray(X[start:stop] @ coef.T, dtype=dtype)
        if scale != 1.0:
            a *= dtype.type(scale)
        a += intercept
        if binary:
            a = np.hstack([np.zeros_like(a), a])
        yield start, stop, np.ascontiguousarray(a)


def predict_index(X, coef, intercept, *, scale=1.0):
    """Index of the largest logit of each row (a single-row ``coef``: ``a > 0``)."""
    idx = np.empty(X.shape[0], dtype=np.intp)
    for start, stop, a in logit_chunks(X, coef, intercept, scale=scale):
        idx[start:stop] = (a[:, 0] > 0) if a.shape[1] == 1 else a.argmax(axis=1)
    return idx
