"""The penalised objective: loss + L2 penalty, gradient and Hessian products.

``L(W, b) = (sum_i s_i l_i + (1 - r) ||W||_F^2 / (2 C) + r ||W||_1 / C) / sum_i s_i``

(``r = l1_ratio``, scikit-learn's elastic-net scaling). This class evaluates the
smooth part, everything but the L1 term; the L1 solver
(``_solvers.minimize_owlqn``) adds the L1 term from :meth:`SoftmaxObjective.l1_weights`.

The division by ``sum_i s_i`` does not move the minimiser; it makes the
stopping tolerance independent of the number of samples (the convention of
scikit-learn's ``LogisticRegression``, so ``tol`` means the same for both).

How an evaluation runs:

1. The rows are split into contiguous chunks; each chunk has its own float64
   gradient accumulators, which are summed at the end in chunk order (no
   locks, deterministic for a fixed thread count). The thread count follows
   the small-block rule of ``skmax/_threads.py``. With several threads there
   are ``_CHUNKS_PER_THREAD`` chunks per thread, handed out as threads come
   free: a thread whose core is shared with another process then takes fewer
   chunks, where one chunk per thread made every evaluation wait for the
   slowest core (twice as slow with one core busy; ``bench_contention.py``).
2. Dense ``X``: one compiled call (``_kernels.dense_sweep``, OpenMP over the
   chunks, no GIL; the loss supplies its parameters through
   ``SoftmaxLoss.kernel_params``) walks each chunk in blocks of rows: logits
   ``Xb @ W.T + b`` (BLAS ``gemm``), the row kernel in place, then
   ``Gb.T @ Xb`` (BLAS) while ``Xb`` is still cached; so one evaluation reads
   ``X`` from memory about once. Blocks are short (``_SMALL_BLOCK_ROWS``) where
   ``X`` carries the products (``d >= K``): OpenBLAS runs these tall-skinny
   products faster on short blocks. The loop is compiled rather than Python
   over numpy calls on worker threads because of the GIL hand-offs between its
   many short calls (measured in ``docs/benchmarks.md``, "The compiled sweep").
3. BLAS is limited to one thread while the objective is open (``with``
   block; ``skmax/_threads.py``). The limiter and the worker pool are dropped
   when the objective is pickled, so it can be sent to another process (it
   runs serially there until reopened).
4. Sparse ``X`` (CSR, never densified as a whole; see note 10 for dense row
   chunks) runs its products in compiled GIL-free calls
   (``_sparse_kernels``): the logits over rows, the row kernel
   in place, and ``G.T @ X`` over the features of a CSC copy of ``X`` made
   once (where ``n_features`` exceeds the rows per thread: text) or into one
   accumulator per thread over row chunks of at most ``_SPARSE_CHUNK_BYTES``
   of logits (few features, many classes). scipy.sparse's products run on
   one thread, and chunk-wise ``d x K`` partial gradients cost more than the
   products on text.
5. Hessian products can run in float32 on dense float64 ``X``
   (``hessp(..., dtype=np.float32)``: a float32 copy of ``X`` made by the
   workers on the first such product), for Newton-CG, which solves for its
   directions far more loosely than float32 rounding.
6. Dense ``X`` whose columns are all zero in at least a tenth of the columns
   (constant pixels of images, constant features after ``StandardScaler``) is
   compacted to its other columns once, and every product runs on the compact
   copy: a zero column adds nothing to the logits, and its gradient and
   Hessian are the penalty's alone, which :meth:`SoftmaxObjective._penalised`
   adds for all of ``W``.
7. ``low_memory=True`` makes none of the copies of notes 4-6 (the CSC copy,
   the compacted ``X`` and the float32 ``X``), for fits near the memory limit:
   slower evaluations, no working copy of ``X``.
8. ``check_x``: the estimator's input validation left the finiteness of
   dense ``X`` to the objective (a single-threaded numpy pass over all of
   ``X``, a tenth of a short fit on wide data). The first dense sweep checks
   each row while its block is in cache, on every thread, and raises
   scikit-learn's own error; :meth:`SoftmaxObjective.check_x` does it for a
   fit that made no evaluation.
9. Sparse ``X`` with at least twice as many features as rows (text), fitted
   from ``W = 0`` with an L2 penalty only: every gradient ``X.T @ G + l2 W``
   then lies in the span of the rows of ``X``, and so does every L-BFGS
   iterate, ``W = A.T @ X`` with ``A`` of shape (n_samples, K).
   :class:`RowSpace` carries L-BFGS on ``(A, X @ X.T @ A, b)``: its vectors
   have ``2 n K`` entries instead of ``d K`` (scipy's L-BFGS-B update on the
   ``d K`` parameters of text took most of the fit, the products a small
   part), the logits are linear in the step, so the line search's trials
   need no products at all, and an iteration makes one product each way
   (the new gradient's ``W`` and its logits). In exact arithmetic the
   iterates are L-BFGS-B's (``_solvers.minimize_lbfgs``).
10. Sparse ``X`` with few features, many of them nonzero in each row (ALOI:
    128 features, 31 nonzeros per row, 1,000 classes), runs the dense sweep
    of note 2 on dense copies of chunks of rows (``_DENSE_CHUNK_BYTES``, one
    buffer reused): BLAS's multiply-adds cost a fraction of the sparse
    products' per-nonzero axpy, more than the zeros they add. ``X`` itself is
    never densified.

Measured speeds live in ``docs/benchmarks.md``.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _assert_all_finite

from . import _kernels, _sparse_kernels
from ._loss import labels_and_targets
from ._threads import limit_blas_threads, threads_for

# Target bytes of one block of X rows (plus its logits): about half of a
# per-core L2 cache, so the second GEMM finds the block still cached.
_BLOCK_BYTES = 1 << 19

# Fixed cost of one row of the row kernels, in logit entries: with few
# classes a row's exp loop is too short to fill the vector pipeline, so
# such a row costs several times its logits' share (docs/benchmarks.md).
_ROW_OVERHEAD = 16

# Chunks per thread when several threads share the rows (note 1).
_CHUNKS_PER_THREAD = 4

# Rows per block where d >= K (note 2): OpenBLAS's sgemm and dgemm run these
# tall-skinny blocks fastest at a few dozen rows.
_SMALL_BLOCK_ROWS = 64

# Most bytes of logits per row chunk of sparse X (note 4).
_SPARSE_CHUNK_BYTES = 1 << 25

# Sparse X runs by dense row chunks (note 10) up to this many features and
# from this share of nonzero entries, in chunks of this many bytes.
_DENSE_CHUNK_MAX_FEATURES = 2048
_DENSE_CHUNK_MIN_DENSITY = 0.2
_DENSE_CHUNK_BYTES = 1 << 23

# Share of all-zero columns from which dense X is compacted (note 6): below it
# the copy would cost more than the products it saves.
_MIN_ZERO_COLUMNS = 0.1


def _block_rows(n_samples, n_features, n_classes, itemsize, block_bytes=_BLOCK_BYTES):
    """Rows per block of dense ``X`` (note 2): 64 where ``X`` carries the
    products, else sized to the cache (many classes: the logit block dominates)."""
    if n_features >= n_classes:
        rows = _SMALL_BLOCK_ROWS
    else:
        rows = max(256, block_bytes // (itemsize * (n_features + 2 * n_classes)))
    return int(max(1, min(n_samples, rows)))


def _nonzero_columns(X, min_zero=_MIN_ZERO_COLUMNS):
    """Indices of the columns of dense ``X`` with a nonzero entry, or None when
    fewer than ``min_zero`` of all columns are zero. The first rows decide
    whether the full scan is worth making."""
    n, d = X.shape
    if d == 0 or d - np.count_nonzero(X[:1024].any(axis=0)) < min_zero * d:
        return None
    used = np.flatnonzero(X.any(axis=0))
    return used if d - used.size >= min_zero * d else None


def _index_arrays(X):
    """``(indptr, indices, data)`` of a CSR or CSC matrix, indices as ``intp``
    (the sparse kernels' type), checked to lie within the matrix."""
    minor = X.shape[1] if X.format == "csr" else X.shape[0]
    if X.indices.size and (X.indices.min() < 0 or X.indices.max() >= minor):
        raise ValueError("the sparse matrix has indices outside its shape")
    return (np.asarray(X.indptr, dtype=np.intp), np.asarray(X.indices, dtype=np.intp),
            np.ascontiguousarray(X.data))


class SoftmaxObjective:
    """Penalised softmax objective over flat parameters ``[W.ravel(), b]``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features), float32/64
    y : ndarray of int32, encoded labels in ``[0, n_classes)``, or of shape
        (n_samples, n_classes): target distributions (soft targets)
    sample_weight : ndarray of float64, ``s_i`` (sample times class weights)
    n_classes : int
    loss : SoftmaxLoss
    C : float, inverse penalty strength (``np.inf``: no penalty)
    l1_ratio : float in [0, 1], share of the penalty that is L1 (evaluated by
        the caller, see :meth:`l1_weights`); the rest is L2
    fit_intercept : bool
    block_rows : int or None, rows per dense block (None: see ``_block_rows``)
    n_threads : int, worker threads over row chunks
    low_memory : bool, no working copy of ``X`` (note 7)
    check_x : str or None, the name of the estimator whose validation left
        the finiteness of dense ``X`` to this objective (note 8)

    Use it as a context manager: ``with SoftmaxObjective(...) as obj: ...``
    (outside a ``with`` block it runs serially with the caller's BLAS threads).
    """

    def __init__(self, X, y, sample_weight, n_classes, loss, C=1.0, fit_intercept=True,
                 block_rows=None, n_threads=1, low_memory=False, l1_ratio=0.0,
                 check_x=None):
        self.X = X
        # soft targets: y is (n, K) target distributions, self.y unused zeros
        self.y, self.targets = labels_and_targets(y)
        self.sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
        self.n_classes = int(n_classes)
        self.loss = loss
        self.set_penalty(C, l1_ratio)
        self.fit_intercept = fit_intercept
        self.dtype = X.dtype
        self.sparse = sp.issparse(X)
        n, d = X.shape
        self.n_samples, self.n_features = n, d
        self.scale = 1.0 / self.sample_weight.sum()
        # a row costs about (d + 8 K) / 16 logit entries' worth of kernel work,
        # plus a fixed part (max, log, stores) that dominates at few classes
        self.n_threads = threads_for(n_threads, n * ((d + 8 * n_classes) // 16 + _ROW_OVERHEAD))
        self.low_memory = bool(low_memory)
        # chunk c is rows [bounds[c], bounds[c + 1]) (intp: the compiled sweep's type)
        n_chunks = self.n_threads * _CHUNKS_PER_THREAD if self.n_threads > 1 else 1
        self._bounds = bounds = np.linspace(0, n, n_chunks + 1).astype(np.intp)
        self._chunks = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._dense_chunk_rows = 0  # sparse X by dense row chunks of this many rows (note 10)
        self._dense_chunk = None    # their buffer, made on first use
        if self.sparse:
            self.X = X = X.tocsr()
            self._csr = _index_arrays(X)
            self._columns = None
            if d <= _DENSE_CHUNK_MAX_FEATURES and X.nnz >= _DENSE_CHUNK_MIN_DENSITY * n * d:
                self._dense_chunk_rows = max(1, min(n, _DENSE_CHUNK_BYTES
                                                    // (X.dtype.itemsize * max(d, 1))))
                self._csc = None
                self.block_rows = block_rows or _block_rows(n, d, n_classes, X.dtype.itemsize)
            else:
                # X.T @ G over the features of a CSC copy, or per thread (note 4)
                by_features = d * self.n_threads > n and not self.low_memory
                self._csc = _index_arrays(X.tocsc()) if by_features else None
                self.block_rows = max(1, _SPARSE_CHUNK_BYTES // (X.dtype.itemsize
                                                                 * max(n_classes, 1)))
        else:
            # indices of the columns the products use (note 6); None: all
            self._columns = None if self.low_memory else _nonzero_columns(X)
            if self._columns is not None:
                self.X = X = X.take(self._columns, axis=1)
            self.X = X = np.ascontiguousarray(X)    # the compiled sweep reads rows
            self.block_rows = block_rows or _block_rows(n, X.shape[1], n_classes,
                                                        X.dtype.itemsize)
        self._proba = None        # probabilities at _proba_at, for hessp
        self._proba_at = None
        self._X32 = None          # float32 copy of dense float64 X, for hessp
        self._proba32 = None      # _proba in float32
        self._executor = None
        self._limits = None
        self._unchecked_x = check_x     # estimator name until X is checked (note 8)
        self._row_space_end = None      # (coef, RowSpace point) of the last row-space fit
        if check_x is not None and self.sparse:
            self.check_x()

    def check_x(self):
        """Raise scikit-learn's error if ``X`` holds an infinite or NaN entry
        (note 8), unless an evaluation already checked it."""
        if self._unchecked_x is not None:
            values = self.X.data if self.sparse else self.X
            _assert_all_finite(values, input_name="X", estimator_name=self._unchecked_x)
            self._unchecked_x = None

    def __enter__(self):
        # BLAS on one thread even with a single worker (note 3)
        self._limits = limit_blas_threads()
        if self.n_threads > 1:
            self._executor = ThreadPoolExecutor(self.n_threads)
        return self

    def __exit__(self, *exc):
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None

    def __getstate__(self):
        # a live BLAS limiter and a thread pool cannot be pickled (note 3)
        state = self.__dict__.copy()
        state["_executor"] = None
        state["_limits"] = None
        state["_dense_chunk"] = None    # a scratch buffer (note 10)
        return state

    # -- parameters -------------------------------------------------------
    @property
    def n_params(self):
        return self.n_classes * (self.n_features + int(self.fit_intercept))

    def unpack(self, coef):
        """Views ``W`` (K, d) and ``b`` (K,) (``b`` is None without intercept)."""
        K, d = self.n_classes, self.n_features
        W = coef[: K * d].reshape(K, d)
        b = coef[K * d:] if self.fit_intercept else None
        return W, b

    def set_penalty(self, C, l1_ratio=0.0):
        """Set ``C`` and ``l1_ratio`` (a regularisation path reuses the objective)."""
        strength = 0.0 if np.isinf(C) else 1.0 / C
        self.l2 = (1.0 - l1_ratio) * strength
        self.l1 = l1_ratio * strength

    def row_space(self, coef0):
        """A :class:`RowSpace` for an L-BFGS fit from ``coef0``, or None where
        note 9 does not apply (dense ``X``, fewer than twice as many features as
        rows, an L1 part, or a start with ``W != 0``)."""
        if not self.sparse or self.l1 > 0 or 2 * self.n_samples > self.n_features:
            return None
        coef0 = np.asarray(coef0, dtype=np.float64)
        W0, b0 = self.unpack(coef0)
        if not W0.any():
            return RowSpace(self, RowSpace.zero_W(self, b0))
        # a regularisation path starts each fit from the last one's solution
        last = self._row_space_end
        if last is not None and np.array_equal(coef0, last[0]):
            return RowSpace(self, last[1])
        return None

    def l1_weights(self):
        """Weight of ``|coef_j|`` in the scaled objective for every parameter:
        ``l1 / sum_i s_i`` on ``W``, 0 on the intercepts (never penalised)."""
        weights = np.zeros(self.n_params)
        weights[: self.n_classes * self.n_features] = self.scale * self.l1
        return weights

    def _cast(self, coef, dtype=None):
        dtype = self.dtype if dtype is None else dtype
        W, b = self.unpack(coef)
        if self._columns is not None:
            W = W[:, self._columns]
        W = np.ascontiguousarray(W, dtype=dtype)
        b = None if b is None else np.asarray(b, dtype=dtype)
        return W, b

    def _map_chunks(self, func):
        """Run ``func(chunk)`` for every row chunk, on the workers when open."""
        chunks = range(len(self._chunks))
        if self._executor is None:
            return [func(c) for c in chunks]
        return list(self._executor.map(func, chunks))

    def _penalised(self, W64, grad_W, grad_b):
        """Scaled gradient (or Hessian product) from the sweep's ``grad_W`` (over
        the columns of ``self.X``) plus the penalty's part (over all of ``W``)."""
        grad = np.empty(self.n_params, dtype=np.float64)
        gW, gb = self.unpack(grad)
        total_W = self.l2 * W64
        if self._columns is None:
            total_W += grad_W
        else:
            total_W[:, self._columns] += grad_W
        np.multiply(total_W, self.scale, out=gW)
        if gb is not None:
            np.multiply(grad_b, self.scale, out=gb)
        return grad

    def _penalised_value(self, total, W64):
        """Scaled objective from the sum of the rows' values ``total``."""
        return self.scale * (total + 0.5 * self.l2 * float(np.dot(W64.ravel(), W64.ravel())))

    # -- evaluations ------------------------------------------------------
    def _sweep(self, W, b, X, proba, hessian, sparse_row_op):
        """``(sum of row values, G.T @ X, G.sum(0))`` over all rows, ``G`` the
        row kernel's output over the logits ``X @ W.T + b``: the loss gradient,
        or with ``hessian`` the Hessian product for the direction ``(W, b)``.

        ``X`` is ``self.X`` or its float32 copy, ``proba`` the probabilities
        (loss: OUT or None; Hessian: IN). Dense ``X`` runs in one compiled call
        (sparse ``X`` by dense row chunks, note 10: one per chunk); other
        sparse ``X`` calls ``sparse_row_op(logits, start, stop)`` per chunk,
        which works in place and returns the chunk's value.
        """
        K, d = self.n_classes, X.shape[1]
        zero_W = not W.any()    # W = 0 (the usual start): logits are the intercepts
        if self.sparse and not self._dense_chunk_rows:
            return self._sparse_sweep(W, b, zero_W, sparse_row_op)
        n_chunks = len(self._chunks)
        threads = self._sparse_threads()
        check = self._unchecked_x is not None and X is self.X and not self.sparse
        x_bad = np.zeros(self.n_samples, dtype=np.uint8) if check else None
        value, grad_W, grad_b = 0.0, np.zeros((K, d)), np.zeros(K)
        for lo, hi, Xd, bounds in self._dense_blocks(X, threads):
            rows = slice(lo, hi)
            # fresh accumulators for each piece: the sweep adds to them
            acc_W = np.zeros((n_chunks, K, d), dtype=np.float64)
            acc_b = np.zeros((n_chunks, K), dtype=np.float64) if self.fit_intercept else None
            value += _kernels.dense_sweep(
                Xd, None if zero_W else W, b, self.y[rows], self.sample_weight[rows],
                None if proba is None else proba[rows], acc_W, acc_b, bounds,
                block_rows=self.block_rows,
                targets=None if self.targets is None else self.targets[rows],
                hessian=hessian, n_threads=threads,
                x_bad=None if x_bad is None else x_bad[rows],
                **self.loss.kernel_params(hessian))
            grad_W += acc_W.sum(axis=0)
            if acc_b is not None:
                grad_b += acc_b.sum(axis=0)
        if check:   # note 8
            bad = np.flatnonzero(x_bad)
            if bad.size:
                _assert_all_finite(X[bad], input_name="X", estimator_name=self._unchecked_x)
            self._unchecked_x = None
        return value, grad_W, grad_b if self.fit_intercept else None

    def _dense_blocks(self, X, threads):
        """``(lo, hi, dense rows lo..hi of X, chunk bounds within them)`` for
        the dense sweep: all of dense ``X`` at once, or sparse ``X`` a dense
        copy of a chunk of rows at a time in one reused buffer (note 10)."""
        if not self.sparse:
            yield 0, self.n_samples, X, self._bounds
            return
        if self._dense_chunk is None:
            self._dense_chunk = np.empty((self._dense_chunk_rows, X.shape[1]), dtype=self.dtype)
        chunk, (indptr, indices, data) = self._dense_chunk, self._csr
        for lo in range(0, self.n_samples, len(chunk)):
            hi = min(lo + len(chunk), self.n_samples)
            Xd = chunk[:hi - lo]
            _sparse_kernels.csr_rows_to_dense(indptr, indices, data, lo, Xd, threads)
            yield lo, hi, Xd, np.linspace(0, hi - lo, len(self._chunks) + 1).astype(np.intp)

    def _add_transposed_rows(self, lo, hi, G, acc, grad_W):
        """``grad_W += X[lo:hi].T @ G`` (``d x K``, float64) over the CSR rows,
        in the storage dtype per thread (``acc``: one ``d x K`` per thread)."""
        indptr, indices, data = self._csr
        acc[:] = 0
        bounds = np.linspace(0, hi - lo, len(acc) + 1).astype(np.intp)
        _sparse_kernels.csr_t_dense(indptr[lo:hi + 1], indices, data, G, acc, bounds)
        grad_W += acc.sum(axis=0, dtype=np.float64)

    def _sparse_threads(self):
        return self.n_threads if self._executor is not None else 1

    def times(self, B):
        """``X @ B`` for sparse ``X`` and ``B`` of shape (n_features, K): an
        ``(n_samples, K)`` array in the dtype of ``X``."""
        B = np.ascontiguousarray(B, dtype=self.dtype)
        out = np.empty((self.n_samples, B.shape[1]), dtype=self.dtype)
        _sparse_kernels.csr_dense(*self._csr, B, None, out, self._sparse_threads())
        return out

    def transpose_times(self, G, features_first=False):
        """``G.T @ X`` for sparse ``X`` and ``G`` of shape (n_samples, K): a
        float64 ``(K, n_features)`` array (``G`` is cast to the dtype of ``X``);
        with ``features_first``, its transpose as a C-contiguous array."""
        G = np.ascontiguousarray(G, dtype=self.dtype)
        K, d, threads = G.shape[1], self.n_features, self._sparse_threads()
        if self._csc is not None:
            out = np.empty((d, K) if features_first else (K, d))
            _sparse_kernels.csc_dense(*self._csc, G, out, threads, features_first)
            return out
        grad_W = np.zeros((d, K))
        acc = np.empty((threads, d, K), dtype=self.dtype)
        step = max(1, self.block_rows)
        for lo in range(0, self.n_samples, step):
            hi = min(lo + step, self.n_samples)
            self._add_transposed_rows(lo, hi, G[lo:hi], acc, grad_W)
        return grad_W if features_first else grad_W.T

    def _sparse_sweep(self, W, b, zero_W, row_op):
        """:meth:`_sweep` over sparse ``X`` (note 4)."""
        n, d, K = self.n_samples, self.n_features, self.n_classes
        threads = self._sparse_threads()
        indptr, indices, data = self._csr
        Wt = np.ascontiguousarray(W.T)
        # G.T @ X by rows: chunks of rows; by features (CSC): all rows at once
        by_rows = self._csc is None
        step = max(1, self.block_rows if by_rows else n)
        value, grad_b = 0.0, np.zeros(K)
        grad_W = np.zeros((d, K)) if by_rows else None
        acc = np.empty((threads, d, K), dtype=self.dtype) if by_rows else None
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            G = np.empty((hi - lo, K), dtype=self.dtype)
            if zero_W:
                G[:] = 0 if b is None else b
            else:
                _sparse_kernels.csr_dense(indptr[lo:hi + 1], indices, data, Wt, b, G, threads)
            value += row_op(G, lo, hi)
            grad_b += G.sum(axis=0, dtype=np.float64)
            if by_rows:     # in the storage dtype per chunk, summed in float64
                self._add_transposed_rows(lo, hi, G, acc, grad_W)
        if by_rows:
            return value, grad_W.T, grad_b if self.fit_intercept else None
        return value, self.transpose_times(G), grad_b if self.fit_intercept else None

    def loss_gradient(self, coef, keep_proba=False):
        """Objective value and gradient (float64) at ``coef``.

        With ``keep_proba`` the probabilities are stored for :meth:`hessp`.
        """
        coef = np.asarray(coef, dtype=np.float64)
        W, b = self._cast(coef)
        if keep_proba and self._proba is None:
            self._proba = np.empty((self.n_samples, self.n_classes), dtype=self.dtype)
        y = self.y if self.targets is None else self.targets
        sw, proba, loss = self.sample_weight, self._proba, self.loss

        def sparse_row_op(G, start, stop):
            return loss.loss_gradient(
                G, y[start:stop], sw[start:stop], proba[start:stop] if keep_proba else None
            )

        total, grad_W, grad_b = self._sweep(
            W, b, self.X, proba if keep_proba else None, False, sparse_row_op)
        self._proba_at = coef.copy() if keep_proba else None
        self._proba32 = None
        W64, _ = self.unpack(coef)
        return self._penalised_value(total, W64), self._penalised(W64, grad_W, grad_b)

    def _float32_copy(self):
        """Dense float32 copy of ``X``, each worker converting its own chunk (the
        workers share the conversion and the page faults of the new array)."""
        X32 = np.empty(self.X.shape, dtype=np.float32)

        def convert(chunk):
            lo, hi = self._chunks[chunk]
            X32[lo:hi] = self.X[lo:hi]

        self._map_chunks(convert)
        return X32

    def hessp(self, coef, vector, dtype=None):
        """Hessian of the objective at ``coef`` times ``vector`` (gamma = 0 only).

        ``dtype=np.float32`` computes the product in float32 when ``X`` is dense
        float64 (see note 5); otherwise it runs in the dtype of ``X``.
        """
        coef = np.asarray(coef, dtype=np.float64)
        if self._proba_at is None or not np.array_equal(coef, self._proba_at):
            self.loss_gradient(coef, keep_proba=True)
        vector = np.asarray(vector, dtype=np.float64)
        X, proba = self.X, self._proba
        if dtype == np.float32 and self.dtype == np.float64 and not self.sparse:
            if self._X32 is None:
                self._X32 = self._float32_copy()
            if self._proba32 is None:
                self._proba32 = self._proba.astype(np.float32)
            X, proba = self._X32, self._proba32
        V, c = self._cast(vector, X.dtype)
        sw, loss = self.sample_weight, self.loss

        def sparse_row_op(D, start, stop):
            loss.hessp(D, proba[start:stop], sw[start:stop])
            return 0.0

        _, out_W, out_b = self._sweep(V, c, X, proba, True, sparse_row_op)
        V64, _ = self.unpack(vector)
        return self._penalised(V64, out_W, out_b)


class RowSpace:
    """The objective of a sparse fit restricted to ``W = A.T @ X`` (note 9).

    A point or direction is a flat float64 vector ``[A.ravel(), M.ravel(),
    t]``: ``A`` (n_samples, K) the coefficients of ``W`` over the rows of
    ``X``, ``M = X @ X.T @ A`` the logits that ``W`` adds, ``t`` (K,) the
    intercepts. Linear combinations of such vectors are plain array
    arithmetic, and :meth:`dot` is the inner product of the ``(W, b)`` they
    stand for, so an L-BFGS method runs on them as on ``(W, b)`` itself.

    The solver calls :meth:`start`, then for each iteration :meth:`along` (a
    function of the step, which evaluates the objective from the logits alone)
    and :meth:`moved` (the gradient at the accepted step: two sparse products).
    """

    def __init__(self, objective, x0):
        self.objective = obj = objective
        n, K = obj.n_samples, obj.n_classes
        self._nk = n * K
        self._shape = (n, K)
        self._y = obj.y if obj.targets is None else obj.targets
        self._x0 = x0
        self._G = None      # weighted row gradients at the last evaluated step

    @staticmethod
    def zero_W(objective, b0):
        """The point ``W = 0``, ``b = b0`` (None: 0)."""
        nk = objective.n_samples * objective.n_classes
        x = np.zeros(2 * nk + objective.n_classes)
        if b0 is not None:
            x[2 * nk:] = b0
        return x

    def _parts(self, v):
        """Views ``A``, ``M`` (n_samples, K) and ``t`` (K,) of a flat vector."""
        nk = self._nk
        return v[:nk].reshape(self._shape), v[nk:2 * nk].reshape(self._shape), v[2 * nk:]

    def dot(self, u, v):
        """Inner product of the ``(W, b)`` that ``u`` and ``v`` stand for:
        ``<A_u.T X, A_v.T X> + t_u.t_v = <A_u, M_v> + t_u.t_v``."""
        nk = self._nk
        return float(u[:nk] @ v[nk:2 * nk] + u[2 * nk:] @ v[2 * nk:])

    def _rows(self, Z):
        """Sum of the weighted row losses at logits ``Z`` (float64) and their
        weighted gradients (kept for :meth:`moved`)."""
        obj = self.objective
        G = np.array(Z, dtype=obj.dtype, order="C")
        total = obj.loss.loss_gradient(G, self._y, obj.sample_weight)
        self._G = G
        return total

    def _go_to(self, x):
        """Make ``x`` the current point: its logits ``Z_x = M_x + t_x`` and
        ``|W_x|^2 = <A_x, M_x>``, which :meth:`along` starts from."""
        A_x, M_x, t_x = self._parts(x)
        self._Z = M_x + t_x
        self._w2 = float(A_x.ravel() @ M_x.ravel())

    def start(self):
        """``(x, value, gradient, largest gradient entry)`` at the first point."""
        obj, x = self.objective, self._x0
        self._go_to(x)
        total = self._rows(self._Z)
        value = obj.scale * (total + 0.5 * obj.l2 * self._w2)
        return (x, value, *self._gradient(x))

    def _gradient(self, x):
        """``(g, largest |entry| of the gradient)`` at ``x`` from the row
        gradients of its last evaluation: ``A_g = scale (G + l2 A_x)``, ``t_g =
        scale G.sum(0)``, ``M_g = X @ (A_g.T @ X).T``."""
        obj = self.objective
        G = self._G.astype(np.float64, copy=False)
        A_x = self._parts(x)[0]
        g = np.empty_like(x)
        A_g, M_g, t_g = self._parts(g)
        np.multiply(G + obj.l2 * A_x, obj.scale, out=A_g)
        if obj.fit_intercept:
            np.multiply(G.sum(axis=0), obj.scale, out=t_g)
        else:
            t_g[:] = 0.0
        grad_W = obj.transpose_times(A_g, features_first=True)   # the gradient's W.T
        M_g[:] = obj.times(grad_W)
        largest = max(float(np.max(grad_W, initial=0.0)), -float(np.min(grad_W, initial=0.0)),
                      float(np.max(np.abs(t_g), initial=0.0)))
        if not np.isfinite(M_g).all():      # float32 logits of a huge gradient
            largest = np.inf
        return g, largest

    def along(self, x, p):
        """``phi(step) -> (value, slope)`` of the objective at ``x + step p``,
        from the logits ``Z_x + step Z_p`` (row kernels only, no products)."""
        obj = self.objective
        A_x, M_x, _ = self._parts(x)
        A_p, M_p, t_p = self._parts(p)
        Z_p = M_p + t_p
        # ||W(step)||^2 = |W_x|^2 + 2 step <W_x, W_p> + step^2 |W_p|^2
        cross, square = float(A_x.ravel() @ M_p.ravel()), float(A_p.ravel() @ M_p.ravel())
        w2, Z_x, scale, l2 = self._w2, self._Z, obj.scale, obj.l2

        def phi(step):
            total = self._rows(Z_x + step * Z_p)
            value = scale * (total + 0.5 * l2 * (w2 + step * (2.0 * cross + step * square)))
            G = self._G.astype(np.float64, copy=False)
            slope = scale * (float(np.vdot(G, Z_p)) + l2 * (cross + step * square))
            return value, slope

        return phi

    def moved(self, x, p, step):
        """``(x + step p, gradient there, its largest |entry|)`` after ``phi(step)``
        was the last evaluation of :meth:`along`."""
        x = x + step * p
        self._go_to(x)
        return (x, *self._gradient(x))

    def coef(self, x):
        """Flat ``[W.ravel(), b]`` of the point ``x``."""
        obj = self.objective
        A_x, _, t_x = self._parts(x)
        W = obj.transpose_times(A_x)
        return np.concatenate([W.ravel(), t_x]) if obj.fit_intercept else W.ravel()

    def solution(self, x):
        """:meth:`coef` of a fit's last point, remembered by the objective so
        that a fit started from that ``coef`` (the next penalty of a path)
        starts from ``x``."""
        coef = self.coef(x)
        self.objective._row_space_end = (coef.copy(), x)
        return coef
