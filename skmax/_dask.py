"""Dask input: the full-batch fit runs where the chunks live; prediction is lazy.

1. Dispatch, not a second estimator: ``SoftmaxClassifier.fit`` and the
   prediction methods hand dask collections to this module (``is_dask``
   checks the type's module, so dask is imported only when the input is a dask
   collection and skmax works without it).
2. Each row chunk of a fit becomes a :class:`_ChunkObjective` built and kept on a worker
   (a future): the encoded labels, weights, column compaction and float32 copy
   are those of the in-memory :class:`SoftmaxObjective`, whose sweep computes
   the chunk's sums. The objective drops its BLAS limiter and thread pool when
   pickled, so the scheduler may move or recompute a chunk freely.
3. :class:`DistributedObjective` has the interface the solvers use
   (``loss_gradient``, ``hessp``, ``n_samples``, ``n_params``), so L-BFGS and
   Newton-CG run unchanged on the driver. An evaluation sends ``coef`` with
   each chunk's task, sums the chunks' unpenalised, unscaled value and gradient
   (or Hessian product) in a fixed tree on the workers and fetches one vector;
   the driver adds the penalty and the ``1 / sum_i s_i`` scale as in memory.
   The fixed tree makes the sums independent of which worker ran what.
4. Faults: chunk states are futures with lineage; a lost worker's chunks are
   rebuilt by the scheduler, and an evaluation is a pure function of
   ``coef``, so the fit ends where it would have. When the scheduler gives
   up, the fit raises and the estimator keeps its previous state.
5. Only the solvers that work on sums run distributed ('lbfgs', 'newton-cg');
   the minibatch solvers raise (use ``dask_ml.wrappers.Incremental``). Nothing
   of ``X`` is ever gathered on the client; only labels' distinct values are.
6. ``TemperatureCalibrator`` on dask scores keeps each chunk's logits, label
   columns and weights on the workers; each Newton step on ``beta`` sums the
   chunks' ``(F, F', F'')`` with the same tree (the NLL is a sum over rows).
   The in-memory warm start on a strided subset is skipped.
7. Threads: a chunk's task runs ``n_jobs`` OpenMP threads (``None``: OpenMP's
   default on the worker, which is 1 under the nanny's ``OMP_NUM_THREADS=1``);
   dask's parallelism is over chunks, one per worker thread.
"""

import copy

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array

from ._loss import n_threads_from_n_jobs
from ._objective import SoftmaxObjective
from ._solvers import FULL_BATCH_SOLVERS

# chunks' partial sums added per task of the reduction tree
_FAN_IN = 8


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
        raise ValueError(f"{name} has shape {v.shape}, expected ({X.shape[0]},).")
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
def _chunk_labels(y):
    """A chunk's distinct labels and their counts (the first pass)."""
    return np.unique(np.asarray(y), return_counts=True)


class _ChunkObjective(SoftmaxObjective):
    """One chunk's unpenalised, unscaled sums: the driver adds the penalty and
    the scale (note 3)."""

    def __init__(self, X, y, sample_weight, n_classes, loss, fit_intercept, n_threads):
        with np.errstate(divide="ignore"):    # a chunk of zero weight
            super().__init__(X, y, sample_weight, n_classes, loss, C=np.inf,
                             fit_intercept=fit_intercept, n_threads=n_threads)
        self.scale = 1.0

    def __sizeof__(self):
        # dask's estimate of the cost of moving the chunk: without it the
        # scheduler sees a tiny object and steals tasks with their data
        arrays = [self.X, self.y, self.sample_weight, self._proba, self._X32, self._proba32]
        if self.sparse:
            arrays += [self.X.indices, self.X.indptr] + [c.data for c in self._X_chunks]
        return sum(getattr(getattr(a, "data", a), "nbytes", 0) for a in arrays if a is not None)


def _build_chunk(X, y, data_sw, classes, class_weights, n_jobs, loss, fit_intercept):
    """Validate a chunk and build its objective on the worker."""
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], order="C")
    y = np.asarray(y)
    unknown = ~np.isin(y, classes)
    if unknown.any():   # only with classes from a previous pass of another graph
        raise ValueError(f"y contains labels not in classes: {np.unique(y[unknown])!r}")
    y_enc = np.searchsorted(classes, y).astype(np.int32)
    sw = np.ones(len(y)) if data_sw is None else np.asarray(data_sw, dtype=np.float64)
    if not np.all(np.isfinite(sw)) or (sw < 0).any():
        raise ValueError("Negative or non-finite values in sample_weight.")
    if class_weights is not None:
        sw = sw * class_weights[y_enc]
    loss = copy.copy(loss)
    loss.n_threads = n_threads_from_n_jobs(n_jobs)    # the worker's OpenMP default (note 7)
    return _ChunkObjective(X, y_enc, sw, len(classes), loss, fit_intercept, loss.n_threads)


def _chunk_info(state):
    return state.n_samples, float(state.sample_weight.sum())


def _chunk_loss_gradient(state, coef, keep_proba):
    with state:
        return state.loss_gradient(coef, keep_proba=keep_proba)


def _chunk_hessp(state, coef, vector, dtype):
    with state:
        return 0.0, state.hessp(coef, vector, dtype=dtype)


def _add_parts(*parts):
    """Sum ``(value, vector)`` pairs in the order given (note 3)."""
    value = sum(p[0] for p in parts)
    vector = parts[0][1].copy()
    for p in parts[1:]:
        vector += p[1]
    return value, vector


# -- driver side ------------------------------------------------------------
def _tree_sum(client, func, states, *args):
    """Sum of the ``(value, vector)`` pairs ``func(state, *args)`` over the
    chunk states, tree-reduced on the workers in a fixed order (note 3)."""
    n = len(states)
    parts = client.map(func, states, *[[arg] * n for arg in args], pure=False)
    while len(parts) > 1:
        parts = [client.submit(_add_parts, *parts[i:i + _FAN_IN], pure=False)
                 for i in range(0, len(parts), _FAN_IN)]
    return parts[0].result()


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
    """

    def __init__(self, client, states, n_samples, n_features, n_classes, weight_sum, C,
                 fit_intercept):
        self.client, self.states = client, states
        self.n_samples, self.n_features, self.n_classes = n_samples, n_features, n_classes
        self.scale = 1.0 / weight_sum
        self.l2 = 0.0 if np.isinf(C) else 1.0 / C
        self.fit_intercept = fit_intercept
        self.n_evaluations = 0

    # the flat parameter layout of the in-memory objective (same attributes)
    n_params = SoftmaxObjective.n_params
    unpack = SoftmaxObjective.unpack

    def _reduce(self, func, *args):
        self.n_evaluations += 1
        return _tree_sum(self.client, func, self.states, *args)

    def _penalised(self, W64, total_grad):
        """Scaled vector plus the penalty's part (the intercept is not penalised)."""
        gW, _ = self.unpack(total_grad)
        gW += self.l2 * W64
        total_grad *= self.scale
        return total_grad

    def loss_gradient(self, coef, keep_proba=False):
        coef = np.asarray(coef, dtype=np.float64)
        total, grad = self._reduce(_chunk_loss_gradient, coef, keep_proba)
        W64, _ = self.unpack(coef)
        value = self.scale * (total + 0.5 * self.l2 * float(np.dot(W64.ravel(), W64.ravel())))
        return value, self._penalised(W64, grad)

    def hessp(self, coef, vector, dtype=None):
        coef = np.asarray(coef, dtype=np.float64)
        vector = np.asarray(vector, dtype=np.float64)
        _, product = self._reduce(_chunk_hessp, coef, vector, dtype)
        V64, _ = self.unpack(vector)
        return self._penalised(V64, product)


def _class_weights(class_weight, classes, counts):
    """Class weights from the label counts, as ``compute_class_weight`` gives
    them from ``y`` (without the labels on the client)."""
    if class_weight is None:
        return None
    if class_weight == "balanced":
        return counts.sum() / (len(classes) * counts.astype(np.float64))
    return compute_class_weight(class_weight, classes=classes, y=classes)


def _label_pass(y):
    """Classes and their counts over all chunks (one pass)."""
    import dask
    from dask import delayed

    parts = dask.compute(*[delayed(_chunk_labels)(b) for b in y.to_delayed().ravel()])
    classes = np.unique(np.concatenate([p[0] for p in parts]))
    counts = np.zeros(len(classes), dtype=np.int64)
    for labels, n in parts:
        counts[np.searchsorted(classes, labels)] += n
    return classes, counts


def fit_dask(estimator, X, y, sample_weight):
    """``estimator.fit`` on dask input (see the module notes); returns ``estimator``."""
    from dask import delayed

    if estimator.solver not in FULL_BATCH_SOLVERS:
        raise ValueError(
            f"solver={estimator.solver!r} does not run distributed on dask input; "
            f"use one of {sorted(FULL_BATCH_SOLVERS)}, or train the minibatch solver "
            "with dask_ml.wrappers.Incremental(SoftmaxClassifier(...)).fit(X, y) "
            "(see the 'Scaling out' page)."
        )
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
    classes, counts = _label_pass(y)
    check_classification_targets(classes)
    if len(classes) < 2:
        raise ValueError("This solver needs samples of at least 2 classes in the data, "
                         f"but the data contains only one class: {classes[0]!r}")
    class_weights = _class_weights(estimator.class_weight, classes, counts)
    loss = estimator._training_loss(1)
    x_blocks = X.to_delayed().ravel()
    y_blocks = y.to_delayed().ravel()
    sw_blocks = [None] * len(x_blocks) if sw is None else sw.to_delayed().ravel()
    build = delayed(_build_chunk, pure=True)
    states = client.compute([
        build(xb, yb, wb, classes, class_weights, estimator.n_jobs, loss,
              estimator.fit_intercept)
        for xb, yb, wb, rows in zip(x_blocks, y_blocks, sw_blocks, X.chunks[0]) if rows
    ])
    try:
        info = client.gather(client.map(_chunk_info, states, pure=False))
        weight_sum = sum(w for _, w in info)
        if not weight_sum > 0:
            raise ValueError("The sample weights (times class weights) sum to zero.")
        objective = DistributedObjective(client, states, n, d, len(classes), weight_sum,
                                         estimator.C, estimator.fit_intercept)
        previous = getattr(estimator, "classes_", None)
        coef0 = estimator._initial_coef(len(classes), d, None)
        if previous is not None and not np.array_equal(previous, classes):
            coef0[:] = 0.0     # warm start only with the same classes
        if estimator.max_iter == 0:
            coef, n_iter = coef0, 0
        else:
            coef, n_iter = FULL_BATCH_SOLVERS[estimator.solver](
                objective, coef0, tol=estimator.tol, max_iter=estimator.max_iter,
                verbose=estimator.verbose)
    finally:
        client.cancel(states)
    estimator.__dict__.pop("_stochastic", None)
    estimator.__dict__.pop("feature_names_in_", None)
    estimator.classes_ = classes
    estimator.n_iter_ = n_iter
    estimator.n_features_in_ = d
    if names is not None and all(isinstance(c, str) for c in names):
        estimator.feature_names_in_ = names
    W, b = objective.unpack(coef)
    estimator._set_coef(W, np.zeros(len(classes)) if b is None else b, X.dtype)
    return estimator


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
        sw = np.asarray(sw, dtype=np.float64)
        if not np.all(np.isfinite(sw)) or (sw < 0).any():
            raise ValueError("Negative or non-finite values in sample_weight.")
    return _to_logits(S, kind), column_index(classes, np.asarray(y)), sw


def _calibration_info(chunk):
    """``(rows, weight, largest spread, separable)`` of a chunk."""
    from ._calibration import _is_separable
    from ._loss import SoftmaxLoss

    logits, y_enc, sw = chunk
    spread = np.empty(len(y_enc))
    SoftmaxLoss().row_spread(logits, spread)
    if sw is not None:
        spread = spread[sw > 0]
    return (len(y_enc), len(y_enc) if sw is None else float(sw.sum()),
            float(spread.max()) if spread.size else 0.0, _is_separable(logits, y_enc, sw))


def _chunk_temperature_nll(chunk, beta):
    from ._loss import SoftmaxLoss

    logits, y_enc, sw = chunk
    return 0.0, np.asarray(SoftmaxLoss().temperature_nll(logits, y_enc, sw, beta))


def _looks_like_probabilities_chunk(S):
    from ._calibration import _looks_like_probabilities

    return _looks_like_probabilities(np.asarray(S))


def fit_temperature_dask(calibrator, scores, y, sample_weight):
    """``TemperatureCalibrator.fit`` on dask scores: the chunks' NLL and its
    derivatives in ``beta`` are summed by a map-reduce per Newton step."""
    from dask import delayed

    from ._calibration import search_temperature

    client = _get_client()
    S, _ = _as_array(scores, "scores")
    if S.ndim == 1:
        S = S[:, None]
    S, _ = _prepare_X(S)
    y = _rows_like(y, S, "y")
    sw = _rows_like(sample_weight, S, "sample_weight")
    labels, _ = _label_pass(y)
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
        total_w = sum(i[1] for i in info)
        if not total_w > 0:
            raise ValueError("The sample weights sum to zero; there is nothing to fit.")
        scale = max(i[2] for i in info)
        if not np.isfinite(scale):
            raise ValueError("The scores' row spread overflows; rescale the scores "
                             "(or calibrate them in memory).")
        def evaluate(beta):
            return tuple(_tree_sum(client, _chunk_temperature_nll, chunks, float(beta))[1])

        fit = search_temperature(evaluate, n, scale, lambda: all(i[3] for i in info))
    finally:
        client.cancel(chunks)
    calibrator.n_features_in_ = n_cols
    calibrator.__dict__.pop("feature_names_in_", None)
    return calibrator._set_fit(kind, classes, fit, 1.0, total_w)


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
    from .metrics import _bin_sums, _check_inputs, _group_columns

    y_true, P, w, labels = _check_inputs(y_true, P, w, labels)
    return np.stack([_bin_sums(conf, correct, w, edges)
                     for conf, correct in _group_columns(y_true, P, labels, kind, pos_label)])


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
        labels, _ = _label_pass(y_true)
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
