"""Dask input: the full-batch fit runs where the chunks live; prediction is lazy.

1. Dispatch, not a second estimator: ``SoftmaxClassifier.fit`` and the
   prediction methods hand dask collections to this module (``is_dask``
   checks the type's module, so dask is imported only when the input is a dask
   collection and skmax works without it). ``fit_dask`` returns the fitted
   attributes; the estimator installs them through the same commit as an
   in-memory fit, so a failed distributed fit leaves the previous model.
2. Each row chunk becomes a validated raw chunk on a worker (a future), which
   also reports its labels, weighted class totals and largest weight; from
   these the driver finds the classes, the power-of-two weight scaling and the
   class weights of the in-memory fit, and each raw chunk becomes a
   :class:`_ChunkObjective` on the same worker (the in-memory
   :class:`SoftmaxObjective`, whose sweep computes the chunk's sums). One pass
   over the data, none of it on the client. The objective drops its BLAS
   limiter and thread pool when pickled, so the scheduler may move or
   recompute a chunk freely.
3. :class:`DistributedObjective` has the interface the solvers use
   (``loss_gradient``, ``hessp``, ``n_samples``, ``n_params``, ``dtype``), so
   L-BFGS and Newton-CG run unchanged on the driver. An evaluation is one task
   per worker (``coef`` travels with it), which evaluates the chunks that
   worker holds and adds them up in a binary tree fixed by the chunk order
   (:func:`_complete`); the driver finishes the tree and adds the penalty and
   the ``1 / sum_i s_i`` scale as in memory. The sums are therefore the same
   bits wherever the chunks live; a worker sends ``O(log n_chunks)`` vectors
   when its chunks are contiguous, one per chunk at worst. Few tasks per
   evaluation keep the scheduler's per-task cost out of the iteration time.
4. Faults: chunk states are futures with lineage; a lost worker's chunks are
   rebuilt by the scheduler (a worker task pinned to a dead worker may run
   elsewhere), and an evaluation is a pure function of ``coef``, so the fit
   ends where it would have. When the scheduler gives up, the fit raises and
   the estimator keeps its previous state (note 1).
5. Only the solvers that work on sums run distributed ('lbfgs', 'newton-cg');
   the minibatch solvers raise (use ``dask_ml.wrappers.Incremental``). Nothing
   of ``X`` is ever gathered on the client.
6. ``TemperatureCalibrator`` on dask scores keeps each chunk's logits, label
   columns and weights on the workers, rescaled by the power of two of the
   in-memory fit (``_calibration._rescale_exponent``: scale-equivariant from
   tiny to huge scores); each Newton step on ``beta`` sums the chunks'
   ``(F, F', F'')`` as in note 3. The in-memory warm start on a strided subset
   is skipped.
7. Threads: an evaluation is one task per worker, so a chunk's evaluation
   runs ``n_jobs`` OpenMP threads, and with ``n_jobs=None`` the worker's
   thread count (OpenMP's default is 1 under the nanny's
   ``OMP_NUM_THREADS=1``, which would leave the other worker threads idle).
"""

import copy

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array

from ._loss import n_threads_from_n_jobs
from ._objective import SoftmaxObjective
from ._solvers import FULL_BATCH_SOLVERS


def is_dask(x):
    """Whether ``x`` is a dask collection (without importing dask)."""
    return type(x).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(
        x, "__dask_graph__")


def _get_client():
    try:
        from distributed import get_client
    except ImportError as exc:   # pragma: no cover - distributed is in skmax[dask]
        raise ImportError("Fitting on dask input needs dask.distributed "
                          "(pip install 'skmax[dask]').") from exc
    try:
        return get_client()
    except ValueError as exc:
        raise ValueError(
            "Fitting on dask input runs on a dask.distributed cluster, but no Client "
            "exists; create one (distributed.Client(...)) first, or pass numpy arrays."
        ) from exc


def _as_array(X, name):
    """``(dask array, column names or None)``; DataFrames and Series get their
    partition lengths computed (a cheap pass)."""
    import dask.array as da

    names = None
    if hasattr(X, "to_dask_array"):
        if hasattr(X, "columns"):
            names = np.asarray(X.columns, dtype=object)
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a dask array or DataFrame, got {type(X).__name__}.")
    return X, names


def _rows_like(v, X, name):
    """``v`` (dask, numpy or None) as a 1-D dask array chunked like ``X``'s rows."""
    import dask.array as da

    if v is None:
        return None
    if is_dask(v):
        v, _ = _as_array(v, name)
    else:
        v = da.from_array(np.asarray(v), chunks=(X.chunks[0],))
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1 or v.shape[0] != X.shape[0]:
        hint = " (soft targets are not supported on dask input)" if name == "y" else ""
        raise ValueError(f"{name} has shape {v.shape}, expected ({X.shape[0]},){hint}.")
    return v.rechunk((X.chunks[0],))


def _prepare_X(X, dtype_check=True):
    """2-D dask array of float32/float64 with one column chunk."""
    X, names = _as_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array, got {X.ndim}-D.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first.")
    if X.dtype not in (np.float32, np.float64):
        if dtype_check and X.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {X.dtype}.")
        X = X.astype(np.float64)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X, names


# -- worker side ------------------------------------------------------------
def _checked_weights(sw):
    sw = np.asarray(sw, dtype=np.float64)
    if not np.all(np.isfinite(sw)) or (sw < 0).any():
        raise ValueError("Negative or non-finite values in sample_weight.")
    return sw


def _raw_chunk(X, y, sw):
    """A chunk validated on its worker: ``(X, y, sw, labels, totals, e, largest)``
    with the chunk's distinct labels, their weight totals times ``2**-e`` (no
    overflow when added up) and the largest weight."""
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C")
    y = np.asarray(y)
    labels, y_enc = np.unique(y, return_inverse=True)
    if sw is None:
        largest, e = 1.0, 0
        totals = np.bincount(y_enc, minlength=len(labels)).astype(np.float64)
    else:
        sw = _checked_weights(sw)
        largest = float(sw.max(initial=0.0))
        e = int(np.frexp(largest)[1])
        totals = np.bincount(y_enc, weights=np.ldexp(sw, -e), minlength=len(labels))
    return X, y, sw, labels, totals, e, largest


def _raw_summary(raw):
    return raw[3:]


class _ChunkObjective(SoftmaxObjective):
    """One chunk's unpenalised, unscaled sums: the driver adds the penalty and
    the scale (note 3)."""

    def __init__(self, X, y, sample_weight, n_classes, loss, fit_intercept, n_threads,
                 low_memory):
        with np.errstate(divide="ignore"):    # a chunk of zero weight
            super().__init__(X, y, sample_weight, n_classes, loss, C=np.inf,
                             fit_intercept=fit_intercept, n_threads=n_threads,
                             low_memory=low_memory)
        self.scale = 1.0

    def __sizeof__(self):
        # dask's estimate of the cost of moving the chunk: without it the
        # scheduler sees a tiny object and steals tasks with their data
        arrays = [self.X.data if self.sparse else self.X, self.y, self.sample_weight,
                  self._proba, self._X32, self._proba32]
        if self.sparse:   # the kernels' index arrays and CSC copy (some share X's buffers)
            arrays += [self.X.indices, self.X.indptr, *self._csr, *(self._csc or ())]
        unique = {id(a): a for a in arrays if a is not None}
        return sum(a.nbytes for a in unique.values())


def _worker_threads(n_jobs):
    """OpenMP threads of a chunk's evaluation on this worker (note 7)."""
    n_threads = n_threads_from_n_jobs(n_jobs)
    if n_jobs is None:
        from distributed import get_worker

        try:
            n_threads = max(n_threads, get_worker().state.nthreads)
        except (ValueError, AttributeError):    # not on a worker (tests build chunks inline)
            pass
    return n_threads


def _build_chunk(raw, classes, k, class_weights, n_jobs, loss, fit_intercept, low_memory):
    """A chunk's objective, built on its worker from :func:`_raw_chunk`: labels
    encoded, weights times ``2**k`` and the class weights."""
    X, y, sw = raw[:3]
    y_enc = np.searchsorted(classes, y).astype(np.int32)
    sw = np.ones(len(y)) if sw is None else np.ldexp(sw, k)
    if class_weights is not None:
        sw = sw * class_weights[y_enc]
    loss = copy.copy(loss)
    loss.n_threads = _worker_threads(n_jobs)
    return _ChunkObjective(X, y_enc, sw, len(classes), loss, fit_intercept, loss.n_threads,
                           low_memory)


def _chunk_weight(state):
    return float(state.sample_weight.sum())


def _chunk_loss_gradient(state, coef, keep_proba):
    with state:
        return state.loss_gradient(coef, keep_proba=keep_proba)


def _chunk_hessp(state, coef, vector, dtype):
    with state:
        return 0.0, state.hessp(coef, vector, dtype=dtype)


# -- the fixed summation tree (note 3) ---------------------------------------
def _add(left, right):
    """``left + right`` of two ``(value, vector)`` pairs, in this order."""
    return left[0] + right[0], left[1] + right[1]


def _complete(nodes, n_leaves):
    """Merge the nodes of the binary tree over ``n_leaves`` chunks: node ``(l,
    j)`` sums the chunks ``[j 2**l, (j + 1) 2**l)``, always as its left child
    plus its right one (a last odd child passes up alone). Every node whose
    children are both present is formed; the maximal nodes are returned. Given
    every leaf, the result is the root alone, the same whoever held what."""
    nodes = dict(nodes)
    level, width = 0, n_leaves
    while width > 1:
        for j in range(0, width, 2):
            left, right = (level, j), (level, j + 1)
            if left not in nodes or (j + 1 < width and right not in nodes):
                continue
            part = nodes.pop(left)
            if j + 1 < width:
                part = _add(part, nodes.pop(right))
            nodes[(level + 1, j // 2)] = part
        level, width = level + 1, (width + 1) // 2
    return nodes


def _worker_sums(func, args, n_leaves, indices, *states):
    """On a worker: ``func(state, *args)`` for the chunks it holds, merged as
    far as the tree allows; returns the worker's address and its nodes."""
    from distributed import get_worker

    leaves = {(0, i): func(state, *args) for i, state in zip(indices, states)}
    return get_worker().address, _complete(leaves, n_leaves)


# -- driver side ------------------------------------------------------------
class _ChunkSums:
    """Sums of ``func(state, *args)`` over chunk states on the workers: one
    task per worker over the chunks it holds (note 3)."""

    def __init__(self, client, states):
        self.client, self.states = client, states
        self._groups = None

    def _placement(self):
        """``[(worker, chunk indices)]`` from the scheduler's ``who_has``."""
        from distributed import wait

        wait(self.states)
        who_has = self.client.who_has(self.states)
        groups = {}
        for i, state in enumerate(self.states):
            holders = sorted(who_has.get(state.key, ()))
            groups.setdefault(holders[0] if holders else None, []).append(i)
        return list(groups.items())

    def __call__(self, func, *args):
        if self._groups is None:
            self._groups = self._placement()
        n = len(self.states)
        futures = [
            self.client.submit(_worker_sums, func, args, n, indices,
                               *[self.states[i] for i in indices],
                               workers=None if worker is None else [worker],
                               allow_other_workers=worker is not None, pure=False)
            for worker, indices in self._groups]
        nodes = {}
        for (worker, _), (ran_on, parts) in zip(self._groups, self.client.gather(futures)):
            nodes.update(parts)
            if ran_on != worker:    # chunks moved (a lost worker): look again next time
                self._groups = None
        (root,) = _complete(nodes, n).values()
        return root


def _balanced_placement(client, futures, rows):
    """A worker for each chunk: where it is, except that chunks move from the
    workers holding more than their share of the rows to the least loaded
    ones, while a move lowers the larger of the two loads (an evaluation waits
    for the busiest worker; note 3). Moves happen once, when the objectives
    are built."""
    from distributed import wait

    wait(futures)
    who_has = client.who_has(futures)
    owners = [min(who_has[f.key]) for f in futures]
    load = dict.fromkeys(client.ncores(), 0)
    for worker, r in zip(owners, rows):
        load[worker] = load.get(worker, 0) + r
    for i in sorted(range(len(rows)), key=lambda i: -rows[i]):
        least = min(load, key=load.get)
        if load[least] + rows[i] < load[owners[i]]:
            load[owners[i]] -= rows[i]
            load[least] += rows[i]
            owners[i] = least
    return owners


class DistributedObjective:
    """The penalised objective of :mod:`skmax._objective` over chunk objectives
    kept on the workers (note 3).

    Parameters
    ----------
    client : distributed.Client
    states : list of futures of ``_ChunkObjective``
    n_samples, n_features, n_classes : int
    weight_sum : float, ``sum_i s_i`` over all chunks
    C : float
    fit_intercept : bool
    dtype : dtype of the chunks' ``X`` (the solvers' precision tests)
    """

    def __init__(self, client, states, n_samples, n_features, n_classes, weight_sum, C,
                 fit_intercept, dtype=np.float64):
        self.sums = _ChunkSums(client, states)
        self.n_samples, self.n_features, self.n_classes = n_samples, n_features, n_classes
        self.scale = 1.0 / weight_sum
        self.l2 = 0.0 if np.isinf(C) else 1.0 / C
        self.l1 = 0.0     # L1 penalties are refused on dask input
        self.fit_intercept = fit_intercept
        self.dtype = np.dtype(dtype)
        self.low_memory = False
        self._columns = None
        self.n_evaluations = 0

    # the flat parameter layout and the penalty of the in-memory objective
    n_params = SoftmaxObjective.n_params
    unpack = SoftmaxObjective.unpack
    _penalised = SoftmaxObjective._penalised
    _penalised_value = SoftmaxObjective._penalised_value

    def _reduce(self, func, coef, *args):
        self.n_evaluations += 1
        coef = np.asarray(coef, dtype=np.float64)
        total, vector = self.sums(func, coef, *args)
        grad_W, grad_b = self.unpack(vector)
        return coef, total, grad_W, grad_b

    def loss_gradient(self, coef, keep_proba=False):
        coef, total, grad_W, grad_b = self._reduce(_chunk_loss_gradient, coef, keep_proba)
        W64, _ = self.unpack(coef)
        return self._penalised_value(total, W64), self._penalised(W64, grad_W, grad_b)

    def hessp(self, coef, vector, dtype=None):
        vector = np.asarray(vector, dtype=np.float64)
        _, _, out_W, out_b = self._reduce(_chunk_hessp, coef, vector, dtype)
        V64, _ = self.unpack(vector)
        return self._penalised(V64, out_W, out_b)


def _label_pass(y):
    """Classes over all chunks (one pass)."""
    import dask
    from dask import delayed

    parts = dask.compute(*[delayed(np.unique)(b) for b in y.to_delayed().ravel()])
    return np.unique(np.concatenate(parts))


def fit_dask(estimator, X, y, sample_weight):
    """The fitted attributes of ``estimator.fit`` on dask input (see the module
    notes); the estimator itself is left for the caller to update."""
    from dask import delayed

    from ._softmax import _class_weights, _weight_scaling

    if estimator.solver not in FULL_BATCH_SOLVERS:
        raise ValueError(
            f"solver={estimator.solver!r} does not run distributed on dask input; "
            f"use one of {sorted(FULL_BATCH_SOLVERS)}, or train the minibatch solver "
            "with dask_ml.wrappers.Incremental(SoftmaxClassifier(...)).fit(X, y) "
            "(see the 'Scaling out' page)."
        )
    C, l1_ratio = estimator._penalty_strength()
    if l1_ratio > 0 and np.isfinite(C):
        raise ValueError(
            f"penalty={estimator.penalty!r} (an L1 part, solved by OWL-QN) does not run "
            "distributed on dask input; use penalty='l2' or None.")
    client = _get_client()
    X, names = _prepare_X(X)
    y = _rows_like(y, X, "y")
    if y is None:
        raise ValueError("y is required.")
    sw = _rows_like(sample_weight, X, "sample_weight")
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(f"Found array with shape {X.shape}; need at least one sample "
                         "and one feature.")
    x_blocks = X.to_delayed().ravel()
    y_blocks = y.to_delayed().ravel()
    sw_blocks = [None] * len(x_blocks) if sw is None else sw.to_delayed().ravel()
    raw = client.compute([delayed(_raw_chunk, pure=True)(xb, yb, wb)
                          for xb, yb, wb, rows in zip(x_blocks, y_blocks, sw_blocks,
                                                      X.chunks[0]) if rows])
    states = []
    try:
        summaries = client.gather(client.map(_raw_summary, raw, pure=False))
        classes = np.unique(np.concatenate([s[0] for s in summaries]))
        check_classification_targets(classes)
        if len(classes) < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, "
                             f"but the data contains only one class: {classes[0]!r}")
        k, C = _weight_scaling(max(s[3] for s in summaries), C)
        totals = np.zeros(len(classes))
        for labels, chunk_totals, e, _ in summaries:
            totals[np.searchsorted(classes, labels)] += np.ldexp(chunk_totals, e + k)
        class_weights = _class_weights(estimator.class_weight, classes, totals)
        build = dict(classes=classes, k=k, class_weights=class_weights,
                     n_jobs=estimator.n_jobs, loss=estimator._training_loss(1),
                     fit_intercept=estimator.fit_intercept, low_memory=estimator.low_memory)
        rows = [r for r in X.chunks[0] if r]
        # other workers allowed: a lost chunk is rebuilt wherever the scheduler can
        states = [client.submit(_build_chunk, chunk, **build, workers=[worker],
                                allow_other_workers=True, pure=False)
                  for chunk, worker in zip(raw, _balanced_placement(client, raw, rows))]
        weight_sum = float(np.sum(client.gather(client.map(_chunk_weight, states,
                                                           pure=False))))
        for future in raw:     # released, not cancelled: that would cancel the states
            future.release()
        raw = []
        if not weight_sum > 0:
            raise ValueError("The sample weights (times class weights) sum to zero.")
        objective = DistributedObjective(client, states, n, d, len(classes), weight_sum,
                                         C, estimator.fit_intercept, X.dtype)
        coef0 = estimator._initial_coef(len(classes), d, estimator._warm(classes))
        coef, n_iter = estimator._solve(objective, coef0)
    finally:
        client.cancel(raw + states)
    estimator.__dict__.pop("feature_names_in_", None)    # as validate_data with reset
    fitted = {"classes_": classes, "n_features_in_": d,
              **estimator._solution_attributes(objective, coef, n_iter)}
    if names is not None and all(isinstance(c, str) for c in names):
        fitted["feature_names_in_"] = names
    return fitted


# -- prediction -------------------------------------------------------------
def _predict_block(block, estimator, method):
    return getattr(estimator, method)(block)


def predict_dask(estimator, method, X):
    """Lazy ``estimator.<method>(X)`` over the row chunks of dask ``X``: a dask
    array with the chunks' rows, the method's dtype and ``meta``."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    X, _ = _prepare_X(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} "
                         f"is expecting {estimator.n_features_in_} features as input.")
    n_classes = len(estimator.classes_)
    if method == "predict":
        dtype, width = estimator.classes_.dtype, None
    else:
        dtype = np.result_type(X.dtype, estimator.coef_.dtype)
        binary_scores = method == "decision_function" and n_classes == 2
        width = None if binary_scores else n_classes
    if width is None:
        return X.map_blocks(_predict_block, estimator, method, dtype=dtype, drop_axis=1,
                            chunks=(X.chunks[0],), meta=np.empty((0,), dtype=dtype))
    return X.map_blocks(_predict_block, estimator, method, dtype=dtype,
                        chunks=(X.chunks[0], (width,)), meta=np.empty((0, 0), dtype=dtype))



# -- temperature calibration ------------------------------------------------
def _calibration_chunk(S, y, sw, kind, classes):
    """A chunk's logits, label columns and weights, validated on the worker."""
    from ._calibration import _check_probabilities, _to_logits, column_index

    with np.errstate(over="ignore", invalid="ignore"):
        S = check_array(S, dtype=[np.float64, np.float32], order="C")
    if kind == "probabilities":
        _check_probabilities(S)
    if sw is not None:
        sw = _checked_weights(sw)
    return _to_logits(S, kind), column_index(classes, np.asarray(y)), sw


def _chunk_spread(chunk, k=0):
    """Largest within-row spread of a chunk's logits times ``2**k``."""
    from ._calibration import _largest_spread

    logits, _, sw = chunk
    return _largest_spread(np.ldexp(logits, k) if k else logits, sw,
                           n_threads_from_n_jobs(None))


def _scaled_chunk(chunk, k):
    logits, y_enc, sw = chunk
    return np.ldexp(logits, k), y_enc, sw


def _calibration_info(chunk):
    """``(weight, largest spread, separable)`` of a chunk, from one kernel pass."""
    from ._calibration import _spread_and_separable

    logits, y_enc, sw = chunk
    spread, separable = _spread_and_separable(logits, y_enc, sw, n_threads_from_n_jobs(None))
    return len(y_enc) if sw is None else float(sw.sum()), spread, separable


def _chunk_temperature_nll(chunk, beta):
    from ._loss import SoftmaxLoss

    logits, y_enc, sw = chunk
    return 0.0, np.asarray(SoftmaxLoss().temperature_nll(logits, y_enc, sw, beta))


def _looks_like_probabilities_chunk(S):
    from ._calibration import _looks_like_probabilities

    return _looks_like_probabilities(np.asarray(S))


def fit_temperature_dask(calibrator, scores, y, sample_weight):
    """``TemperatureCalibrator.fit`` on dask scores: the chunks' NLL and its
    derivatives in ``beta`` are summed on the workers per Newton step, in the
    rescaled variable of the in-memory fit (note 6)."""
    from dask import delayed

    from ._calibration import _rescale_exponent, _unit_beta, search_temperature

    client = _get_client()
    S, _ = _as_array(scores, "scores")
    if S.ndim == 1:
        S = S[:, None]
    S, _ = _prepare_X(S)
    y = _rows_like(y, S, "y")
    sw = _rows_like(sample_weight, S, "sample_weight")
    labels = _label_pass(y)
    check_classification_targets(labels)
    n, n_cols = S.shape
    s_blocks = S.to_delayed().ravel()
    kind = calibrator.input
    if kind == "auto":
        looks = client.gather(client.compute(
            [delayed(_looks_like_probabilities_chunk)(b) for b in s_blocks]))
        kind = "probabilities" if n_cols >= 2 and all(looks) else "logits"
    classes = calibrator._resolve_classes(labels, n_cols)
    sw_blocks = [None] * len(s_blocks) if sw is None else sw.to_delayed().ravel()
    chunks = client.compute([
        delayed(_calibration_chunk)(sb, yb, wb, kind, classes)
        for sb, yb, wb, rows in zip(s_blocks, y.to_delayed().ravel(), sw_blocks, S.chunks[0])
        if rows])
    try:
        info = client.gather(client.map(_calibration_info, chunks, pure=False))
        total_w = sum(i[0] for i in info)
        if not total_w > 0:
            raise ValueError("The sample weights sum to zero; there is nothing to fit.")

        def spread_at(k):
            return max(client.gather(client.map(_chunk_spread, chunks, k=k, pure=False)))

        spread = max(i[1] for i in info)
        k = _rescale_exponent(spread, spread_at)
        if k:
            # the unscaled chunks are released (not cancelled: so would be their dependents)
            chunks = client.map(_scaled_chunk, chunks, k=k, pure=False)
            spread = spread_at(0)
        sums = _ChunkSums(client, chunks)

        def evaluate(beta):
            return tuple(sums(_chunk_temperature_nll, float(beta))[1])

        fit = search_temperature(evaluate, n, spread, lambda: all(i[2] for i in info),
                                 beta0=_unit_beta(k))
    finally:
        client.cancel(chunks)
    calibrator.n_features_in_ = n_cols
    calibrator.__dict__.pop("feature_names_in_", None)
    return calibrator._set_fit(kind, classes, fit, k, total_w)


def _transform_block(block, calibrator):
    return calibrator.transform(block)


def transform_dask(calibrator, scores):
    """Lazy ``calibrator.transform`` over the row chunks of dask ``scores``."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(calibrator)
    S, _ = _as_array(scores, "scores")
    if S.ndim == 1:
        S = S[:, None]
    S, _ = _prepare_X(S)
    if S.shape[1] != calibrator.n_features_in_:
        raise ValueError(f"scores have {S.shape[1]} columns, but the calibrator was "
                         f"fitted on {calibrator.n_features_in_}.")
    width = len(calibrator.classes_)
    return S.map_blocks(_transform_block, calibrator, dtype=S.dtype,
                        chunks=(S.chunks[0], (width,)), meta=np.empty((0, 0), dtype=S.dtype))


# -- calibration metrics ----------------------------------------------------
def _chunk_bin_sums(y_true, P, w, labels, edges, kind, pos_label):
    from .metrics import _bin_sums, _binned_groups, _check_inputs

    y_true, P, w, labels = _check_inputs(y_true, P, w, labels)
    return np.stack([_bin_sums(conf, correct, w, edges)
                     for conf, correct in _binned_groups(y_true, P, labels, kind, pos_label)])


def calibration_bin_sums_dask(y_true, y_prob, sample_weight, labels, n_bins, strategy, kind,
                              pos_label):
    """``(groups, 3, n_bins)`` bin sums of the calibration metrics over dask
    chunks (each chunk validated as in memory); 'uniform' bins only."""
    import dask
    from dask import delayed

    if strategy != "uniform":
        raise ValueError(
            f"strategy={strategy!r} needs the quantiles of all the confidences at once; "
            "on dask input use strategy='uniform' (or compute y_prob first)."
        )
    P, _ = _as_array(y_prob, "y_prob") if is_dask(y_prob) else (y_prob, None)
    if not is_dask(P):
        import dask.array as da

        P = da.from_array(np.asarray(P), chunks=(y_true.chunks[0],) + np.shape(P)[1:])
    if P.ndim == 2 and P.numblocks[1] != 1:
        P = P.rechunk({1: -1})
    y_true = _rows_like(y_true, P, "y_true")
    w = _rows_like(sample_weight, P, "sample_weight")
    if labels is None:
        labels = _label_pass(y_true)
    else:
        labels = np.sort(np.asarray(labels))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    w_blocks = [None] * P.numblocks[0] if w is None else w.to_delayed().ravel()
    parts = dask.compute(*[
        delayed(_chunk_bin_sums)(yb, pb, wb, labels, edges, kind, pos_label)
        for yb, pb, wb, rows in zip(y_true.to_delayed().ravel(), P.to_delayed().ravel(),
                                    w_blocks, P.chunks[0]) if rows])
    sums = np.sum(parts, axis=0)
    if not sums[0, 0].sum() > 0:
        raise ValueError("The sample weights sum to zero.")
    return sums
