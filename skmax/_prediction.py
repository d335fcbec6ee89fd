"""Prediction of a linear softmax model: logits, probabilities or labels,
shared by the estimator and the minibatch solver's early-stopping score.

1. One compiled call per prediction over dense ``X`` (``_kernels.predict_dense``:
   OpenMP over row blocks, BLAS into the output, the row function in place);
   sparse ``X`` gets its products from scipy.sparse on worker threads, one CSR
   row chunk each, and its rows from ``_kernels.predict_logits``. Memory is the
   output plus one block (at most ``_PREDICT_CHUNK_BYTES``) per thread; dense
   ``X`` in another dtype or memory order than the product's is converted a
   few blocks at a time, never whole.
2. Binary models (a single row ``coef_ = w_1 - w_0``) predict from the two
   rows ``[0, w]``, so every kind but the 1-D decision function takes the
   K-class path.
3. A row whose logits overflow (finite ``X`` and ``coef_``, infinite or NaN
   ``X @ coef_.T``, e.g. float32 ``X`` near 3e38) is recomputed exactly in
   float64 from ``X`` scaled by its largest entry, so its probabilities are
   the true limit, never zeros. Logits that are NaN because ``coef_`` is
   give NaN rows and a ``RuntimeWarning``.
4. ``check_finite``: dense ``X`` is checked for infinite and NaN entries by
   the compiled call itself, a block of rows at a time while it is in cache
   for the product (in parallel, no extra pass over ``X``); an offending row
   raises scikit-learn's own error. The estimators validate ``X`` without
   their finiteness pass and ask for this one instead.
"""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _assert_all_finite

from . import _kernels
from ._objective import _block_rows
from ._threads import limit_blas_threads, threads_for

#: Most bytes of logits one thread holds at once (note 1).
_PREDICT_CHUNK_BYTES = 1 << 24

#: What a prediction returns; the codes of the compiled kernels.
KINDS = {"decision": 0, "proba": 1, "log_proba": 2, "label": 3}


def rows_per_class(coef, intercept):
    """``(W, b)`` in float64 with one row per class from a fitted ``coef_`` and
    ``intercept_``: the inverse of the binary convention (a single row
    ``coef_ = w_1 - w_0`` with ``w_0 = -w_1``)."""
    W = np.asarray(coef, dtype=np.float64)
    b = np.asarray(intercept, dtype=np.float64)
    if W.shape[0] == 1:
        W, b = np.vstack([-W / 2, W / 2]), np.array([-b[0] / 2, b[0] / 2])
    return W, b


def _model_rows(coef, intercept, dtype, kind, scale):
    """``(W, b)`` in ``dtype``, C-ordered; binary models as ``[0, w]`` (note 2)
    unless the 1-D decision function is asked for."""
    W = np.asarray(coef, dtype=dtype)
    if scale != 1.0:
        W = W * dtype.type(scale)
    b = np.asarray(intercept, dtype=dtype)
    if W.shape[0] == 1 and kind != "decision":
        W, b = np.vstack([np.zeros_like(W), W]), np.concatenate([np.zeros_like(b), b])
    return np.ascontiguousarray(W), np.ascontiguousarray(b)


def predict_linear(X, coef, intercept, kind, *, inv_T=1.0, scale=1.0, n_threads=1,
                   check_finite=False):
    """``kind`` of ``scale * X @ coef.T + intercept`` (note 1): its ``'decision'``
    (the logits times ``inv_T``), ``'proba'`` or ``'log_proba'`` (of the logits
    times ``inv_T``), or ``'label'`` (index of the largest logit).

    ``X`` is dense or sparse, float32 or float64 (the result's dtype, with
    ``coef``'s). Returns ``(n, K)`` rows, or ``n`` indices for ``'label'``.
    ``check_finite``: raise scikit-learn's ValueError if ``X`` holds an
    infinite or NaN entry (note 4).
    """
    code = KINDS[kind]
    n = X.shape[0]
    dtype = np.result_type(X.dtype, coef.dtype)
    W, b = _model_rows(coef, intercept, dtype, kind, scale)
    K = W.shape[0]
    label = kind == "label"
    out = None if label else np.empty((n, K), dtype=dtype)
    labels = np.empty(n, dtype=np.intp) if label else None
    bad = np.zeros(n, dtype=np.uint8)
    threads = threads_for(n_threads, n * K)
    rows = max(1, min(_PREDICT_CHUNK_BYTES // (dtype.itemsize * max(K, 1)), -(-n // threads)))
    if sp.issparse(X):
        if check_finite:
            _assert_all_finite(X.data, input_name="X")
        _predict_sparse(X.tocsr().astype(dtype, copy=False), W, b, out, labels, bad,
                        code, inv_T, rows, threads)
    else:
        block = max(1, min(rows, _block_rows(n, X.shape[1], K, dtype.itemsize)))
        # X in another dtype or order is converted a slice of rows at a time
        step = n if X.dtype == dtype and X.flags.c_contiguous else rows * threads
        with limit_blas_threads():
            for start in range(0, n, max(step, 1)):
                stop = min(start + step, n)
                _kernels.predict_dense(
                    np.ascontiguousarray(X[start:stop], dtype=dtype), W, b,
                    None if label else out[start:stop], labels[start:stop] if label else None,
                    bad[start:stop], kind=code, inv_T=inv_T, block_rows=block,
                    n_threads=threads, check_x=check_finite)
    if check_finite:
        nonfinite = np.flatnonzero(bad == 2)
        if nonfinite.size:
            _assert_all_finite(X[nonfinite], input_name="X")
    overflowed = np.flatnonzero(bad)
    if overflowed.size:
        _recompute_rows(X, overflowed, W, b, kind, inv_T, labels if label else out)
    return labels if label else out


def _predict_sparse(X, W, b, out, labels, bad, code, inv_T, rows, threads):
    """CSR row chunks on ``threads`` workers: scipy.sparse's product (which
    releases the GIL), then the compiled rows."""
    Wt = np.ascontiguousarray(W.T)      # scipy multiplies fastest by a C-ordered W.T

    def chunk(start):
        stop = min(start + rows, X.shape[0])
        logits = np.ascontiguousarray(X[start:stop] @ Wt, dtype=W.dtype)
        _kernels.predict_logits(
            logits, b, None if out is None else out[start:stop],
            None if labels is None else labels[start:stop], bad[start:stop],
            kind=code, inv_T=inv_T)

    starts = range(0, X.shape[0], rows)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(chunk, starts))
    else:
        for start in starts:
            chunk(start)


def _recompute_rows(X, rows, W, b, kind, inv_T, out):
    """Rows whose logits overflowed, recomputed in float64 from ``X`` scaled
    by each row's largest entry (note 3); written into ``out``."""
    Xr = X[rows]
    Xr = np.asarray(Xr.toarray() if sp.issparse(Xr) else Xr, dtype=np.float64)
    W64, b64 = W.astype(np.float64), b.astype(np.float64)
    scale = np.abs(Xr).max(axis=1, initial=0.0)
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    u = (Xr / scale[:, None]) @ W64.T           # finite for finite X and W
    with np.errstate(over="ignore", invalid="ignore"):
        logits = scale[:, None] * u + b64
        if kind == "decision":
            out[rows] = logits * inv_T
            nan = np.isnan(logits).any(axis=1)
        else:
            # a - max(a) without forming a: s (u - u_m) + (b - b_m), m = argmax u
            top = np.argmax(u, axis=1)
            r = np.arange(len(rows))
            shifted = scale[:, None] * (u - u[r, top][:, None]) + (b64 - b64[top][:, None])
            # inf weights: the shift is NaN where the logits themselves are not
            redo = np.isnan(shifted).any(axis=1) & ~np.isnan(logits).any(axis=1)
            shifted[redo] = logits[redo]
            nan = np.isnan(shifted).any(axis=1)
            if kind == "label":
                out[rows] = np.argmax(shifted, axis=1)
            else:
                _kernels.softmax(shifted, inv_T, kind == "log_proba", 1)
                # log-probabilities stay within the output dtype, as in the kernels
                out[rows] = np.maximum(shifted, -np.finfo(out.dtype).max)
    if nan.any():
        warnings.warn(
            f"The logits of {int(nan.sum())} row(s) are NaN (are coef_ and intercept_ "
            "finite?); their predictions are NaN.", RuntimeWarning, stacklevel=3)


def predict_index(X, coef, intercept, *, scale=1.0, n_threads=1):
    """Index of the largest logit of each row (a single-row ``coef``: ``a > 0``)."""
    return predict_linear(X, coef, intercept, "label", scale=scale, n_threads=n_threads)
