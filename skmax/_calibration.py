"""Temperature scaling of classifier scores, and the calibrated-classifier wrapper.

The calibrator learns one temperature ``T > 0`` such that ``softmax(scores / T)``
minimises the (weighted) negative log-likelihood of the labels. The NLL is convex
in ``beta = 1 / T``; it is minimised by a safeguarded Newton iteration on beta
whose value, first and second derivative come from one pass of the Cython
kernel ``temperature_nll`` (through ``SoftmaxLoss``) over the ``n x K`` scores.

1. ``TemperatureCalibrator.fit`` only encodes the labels and prepares the
   scores (logits, overflow rescaling); :func:`fit_temperature` is a pure
   function (arrays in, a :class:`TemperatureFit` out) so that it is tested
   directly, and its ``status`` flag tells the caller which warning to raise.
2. Separable scores are detected before any Newton pass (the optimum is the
   bound), and large inputs start from the optimum of a strided subset of rows.
3. The wrapper, :class:`CalibratedSoftmaxClassifier`, takes the calibration map
   as ``method`` and the estimator's scores as ``response_method``, the names
   of scikit-learn's ``CalibratedClassifierCV``; the richer maps live in
   ``skmax/_matrix_scaling.py`` (imported when used: they build on
   :class:`TemperatureCalibrator`). ``TemperatureCalibratedClassifier`` is the
   same class under its first name.
"""

import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _assert_all_finite,
    _check_feature_names_in,
    _check_sample_weight,
    check_array,
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
    validate_data,
)

from ._dask import fit_temperature_dask, is_dask, transform_dask
from ._loss import SoftmaxLoss
from ._threads import n_threads_from_n_jobs
from ._warnings import warn
from .metrics import _row_sum_tolerance

__all__ = [
    "TemperatureCalibrator",
    "CalibratedSoftmaxClassifier",
    "TemperatureCalibratedClassifier",
    "TemperatureScalingWarning",
]

#: Probabilities are mapped to log-probabilities as ``log(max(p, PROBA_FLOOR))``.
PROBA_FLOOR = 1e-12

#: The temperature is searched in ``[scale / TEMPERATURE_RANGE, scale * TEMPERATURE_RANGE]``
#: where ``scale`` is the largest within-row spread ``max_k a_ik - min_k a_ik`` of
#: the training scores (so the bounds follow the units of the scores).
TEMPERATURE_RANGE = 1e6

# Score spreads and temperatures in this range are used as they are; outside
# it the scores are rescaled by a power of two (see _rescale).
_SAFE_SCALE = (2.0**-100, 2.0**100)

# Rows of the strided subset used to warm-start the Newton iteration on large inputs.
_WARM_START_ROWS = 16384


class TemperatureScalingWarning(UserWarning):
    """The temperature fit hit a documented bound (separable, constant or tiny data).

    The fit still succeeds (the temperature is set to the bound, or to 1);
    filter this category to silence it, e.g. in a cross-validation loop.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from skmax import TemperatureCalibrator, TemperatureScalingWarning
    >>> scores = np.array([[2.0, 0.0], [0.0, 2.0]])   # separates the classes
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     cal = TemperatureCalibrator().fit(scores, [0, 1])
    >>> [w.category.__name__ for w in caught]
    ['TemperatureScalingWarning']
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", TemperatureScalingWarning)
    ...     cal = TemperatureCalibrator().fit(scores, [0, 1])
    """


# ---------------------------------------------------------------------------
# Score conversion
# ---------------------------------------------------------------------------


def column_index(classes, y):
    """Column (int32) of each label of ``y`` in ``classes``."""
    y_enc = np.searchsorted(np.sort(classes), y)
    order = np.argsort(classes)  # position in sorted -> column index
    return order[y_enc].astype(np.int32)


def _looks_like_probabilities(S):
    """Non-negative entries, at most 1, rows summing to 1 (2-D, K >= 2)."""
    if S.ndim != 2 or S.shape[1] < 2 or S.shape[0] == 0:
        return False
    # logits usually show it in their first row: no pass over all of S
    if S[:1].min() < 0 or S[:1].max() > 1 or S.min() < 0 or S.max() > 1:
        return False
    tol = _row_sum_tolerance(S)
    return bool(np.all(np.abs(S.sum(axis=1, dtype=np.float64) - 1.0) <= tol))


def _check_probabilities(S):
    if S.min(initial=0.0) < 0:
        raise ValueError(
            "input='probabilities' but the scores contain negative values; "
            "probabilities must lie in [0, 1]."
        )
    if S.max(initial=0.0) > 1:
        raise ValueError(
            "input='probabilities' but the scores contain values above 1; "
            "probabilities must lie in [0, 1]."
        )
    if S.shape[1] >= 2:
        tol = _row_sum_tolerance(S)
        err = np.abs(S.sum(axis=1, dtype=np.float64) - 1.0)
        if S.shape[0] and err.max() > tol:
            raise ValueError(
                "input='probabilities' but the rows of the scores do not sum to 1 "
                f"(largest deviation {err.max():.3g})."
            )


def _to_logits(S, kind, copy=True):
    """C-contiguous logits of ``S`` (n x K, K >= 2), same dtype.

    A new array unless ``copy=False`` and ``S`` already holds 2-D logits.

    ``kind='logits'``: 2-D scores are used as they are; a single column ``s`` is
    the positive class's logit and becomes ``(0, s)``.
    ``kind='probabilities'``: ``log(max(p, PROBA_FLOOR))``; a single column is
    ``p1`` and becomes ``(log(1 - p1), log(p1))`` (both floored).
    """
    dtype = S.dtype
    if S.shape[1] == 1:
        s = S[:, 0]
        out = np.empty((S.shape[0], 2), dtype=dtype)
        if kind == "probabilities":
            out[:, 0] = 1.0 - s
            out[:, 1] = s
        else:
            out[:, 0] = 0.0
            out[:, 1] = s
            return out
    else:
        if kind != "probabilities":
            return np.array(S, dtype=dtype, order="C", copy=copy)
        out = np.array(S, dtype=dtype, order="C", copy=True)
    np.maximum(out, dtype.type(PROBA_FLOOR), out=out)
    np.log(out, out=out)
    return out


# ---------------------------------------------------------------------------
# The solver
# ---------------------------------------------------------------------------


def _nll_pass(logits, y_enc, sw, n_threads):
    """``beta -> (F, F', F'')``: one kernel pass over in-memory scores."""

    def evaluate(b):
        return SoftmaxLoss(n_threads=n_threads).temperature_nll(logits, y_enc, sw, float(b))

    return evaluate


def _fit_beta(evaluate, beta_lo, beta_hi, beta0=1.0, step_tol=1e-5, max_iter=200):
    """Minimise ``F(beta) = sum_i sw_i l_i(beta)`` over ``[beta_lo, beta_hi]``;
    ``evaluate(beta)`` returns ``(F, F', F'')`` (in memory: :func:`_nll_pass`;
    on dask: a map-reduce over the chunks).

    Safeguarded Newton: the sign of ``F'`` keeps a bracket ``[lo, hi]`` around
    the minimiser; a Newton step that leaves the bracket (or a zero curvature)
    is replaced by a step of a factor 8 towards a still unexplored bound, or by
    a bisection in log(beta) inside a known bracket. When the Newton step is
    below ``step_tol * beta`` it is taken without a further pass (Newton's
    quadratic convergence puts the result within ~``step_tol**2`` of the
    minimiser, relative: ~1e-10 at the default, so F is within ~1e-20
    relative of its minimum, below rounding) and F there is the quadratic
    model ``F + F' s + F'' s^2 / 2``.

    Returns ``(beta, F, n_evaluations, at_bound)`` where ``at_bound`` is
    ``'upper'``/``'lower'`` when the optimum lies on (or beyond) a bound.
    """
    lo, hi = beta_lo, beta_hi
    beta = min(max(beta0, lo), hi)
    f, g, h = evaluate(beta)
    n_eval = 1
    best = (f, beta)
    rtol = 1e-13
    for _ in range(max_iter):
        if g == 0.0:
            break
        if g < 0.0:
            lo = beta
            if beta >= beta_hi:
                return beta_hi, f, n_eval, "upper"
        else:
            hi = beta
            if beta <= beta_lo:
                return beta_lo, f, n_eval, "lower"
        if h > 0.0:
            step = -g / h
            if abs(step) <= step_tol * beta and lo < beta + step < hi:
                f_model = f + step * (g + 0.5 * step * h)
                if f_model <= f:
                    beta, f = beta + step, f_model
                break  # converged
            new = beta + step
        else:
            new = np.nan
        if not (lo < new < hi):
            if g < 0.0 and hi == beta_hi:
                new = min(8.0 * beta, beta_hi)  # expand towards the unexplored bound
            elif g > 0.0 and lo == beta_lo:
                new = max(beta / 8.0, beta_lo)
            else:
                new = np.sqrt(lo * hi)  # bisection in log(beta)
        if hi <= lo * (1.0 + rtol):
            break
        beta = new
        f, g, h = evaluate(beta)
        n_eval += 1
        if f < best[0]:
            best = (f, beta)
    if best[0] < f:  # never return a worse point than one already seen
        f, beta = best
    return beta, f, n_eval, None


# ---------------------------------------------------------------------------
# Score preparation and the pure fit
# ---------------------------------------------------------------------------

_STATUS_MESSAGES = {
    "constant": "Temperature scaling: the scores are constant within every row, so the "
    "temperature has no effect; T = 1 is used.",
    "single": "Temperature scaling: a single sample cannot determine a temperature; "
    "T = 1 is used.",
    "upper": "Temperature scaling: the scores separate the classes perfectly, the "
    "likelihood keeps growing as T -> 0; T is set to its bound {T:.6g} (largest "
    "within-row score spread times 1e-6).",
    "lower": "Temperature scaling: the scores carry no usable ranking information (the "
    "likelihood keeps growing as T -> inf); T is set to its bound {T:.6g} (largest "
    "within-row score spread times 1e6).",
}


class TemperatureFit(NamedTuple):
    """Result of :func:`fit_temperature`.

    ``beta``: the inverse temperature; ``nll``: the weighted NLL sum at
    ``beta``; ``n_evaluations``: kernel passes over the scores (subset passes in
    full-pass units); ``status``: None, or why ``beta`` was not a free optimum:
    ``'upper'``/``'lower'`` (on a bound of the search range), ``'constant'``
    (every row constant) or ``'single'`` (one sample); each has a warning text
    in ``_STATUS_MESSAGES``.
    """

    beta: float
    nll: float
    n_evaluations: float
    status: str | None


def _rescale(logits, sw, n_threads, spread=None):
    """``(logits, scale, k)``: the logits times ``2**k`` and their largest
    within-row spread ``scale`` over the rows with positive weight
    (``spread``: that of ``logits``, if already known).

    ``k = 0`` (the logits as given, no copy) while the spread lies in
    ``_SAFE_SCALE``; otherwise a new array whose spread is in [0.5, 1): the
    temperature is fitted in this rescaled variable and scaled back by the
    caller. Tiny scores would make the NLL's curvature in ``beta`` underflow,
    huge ones overflow ``1 / spread`` (or the spread itself); a power of two
    keeps the scaling exact.
    """
    if spread is None:
        spread = _largest_spread(logits, sw, n_threads)
    k = _rescale_exponent(
        spread, lambda k: _largest_spread(np.ldexp(logits, k), sw, n_threads))
    if k == 0:
        return logits, spread, 0
    logits = np.ldexp(logits, k)
    return logits, _largest_spread(logits, sw, n_threads), k


def _rescale_exponent(spread, spread_at):
    """The ``k`` of :func:`_rescale` from the scores' largest spread and
    ``spread_at(k)``, the largest spread of the scores times ``2**k`` (in
    memory, or over dask chunks)."""
    if spread == 0.0 or _SAFE_SCALE[0] <= spread <= _SAFE_SCALE[1]:
        return 0
    k = 0
    if not np.isfinite(spread):
        # float64 scores near +-DBL_MAX: a_k - max overflows
        k = -8
        spread = spread_at(k)
    return k - int(np.frexp(spread)[1])


def _unit_beta(k):
    """``beta = 1`` in the units of the scores for scores times ``2**k``,
    clipped to the search range (the Newton iteration's start)."""
    return float(np.ldexp(1.0, max(-1000, min(-k, 1000))))


def _largest_spread(logits, sw, n_threads):
    """Largest ``max_k a_ik - min_k a_ik`` over the rows with positive weight."""
    return _spread_and_separable(logits, None, sw, n_threads)[0]


def _spread_and_separable(logits, y_enc, sw, n_threads, check_finite=None):
    """``(spread, separable)`` in one kernel pass: the largest ``max_k a_ik -
    min_k a_ik`` over the rows with positive weight, and whether each of
    their labels is a row maximum (None without ``y_enc``): the NLL then
    decreases all the way to ``T -> 0``.

    ``check_finite``: the name of an estimator whose input validation left
    the finiteness of ``logits`` to this pass (one read of the scores fewer);
    a row with an infinite or NaN entry raises scikit-learn's own error."""
    n = logits.shape[0]
    spread = np.empty(n, dtype=np.float64)
    label_max = None if y_enc is None else np.empty(n, dtype=np.uint8)
    finite = None if check_finite is None else np.empty(n, dtype=np.uint8)
    SoftmaxLoss(n_threads=n_threads).row_spread(logits, spread, y_enc, label_max, finite)
    if finite is not None and not finite.all():
        _assert_all_finite(logits[np.flatnonzero(finite == 0)], input_name="X",
                           estimator_name=check_finite)
    if sw is not None:
        rows = sw > 0
        spread = spread[rows]
        label_max = None if label_max is None else label_max[rows]
    largest = float(spread.max()) if spread.size else 0.0
    return largest, None if label_max is None else bool(label_max.all())


def _is_separable(logits, y_enc, sw):
    """Every (positively weighted) label is a row maximum."""
    return _spread_and_separable(logits, y_enc, sw, n_threads_from_n_jobs(None))[1]


def _warm_start_subset(logits, y_enc, sw):
    """An evenly strided subset of rows (small copies) to warm-start the Newton
    iteration on large inputs, or None below ``4 * _WARM_START_ROWS`` rows."""
    n = logits.shape[0]
    if n < 4 * _WARM_START_ROWS:
        return None
    rows = slice(None, None, n // _WARM_START_ROWS)
    return (np.ascontiguousarray(logits[rows]), np.ascontiguousarray(y_enc[rows]),
            None if sw is None else np.ascontiguousarray(sw[rows]))


def fit_temperature(logits, y_enc, sw, scale, n_threads, beta0=1.0, separable=None):
    """Minimise the weighted NLL of ``softmax(beta * logits)`` over ``beta`` in
    ``[1 / (scale * TEMPERATURE_RANGE), TEMPERATURE_RANGE / scale]``
    (``separable``: :func:`_is_separable` of the scores, if already known).

    Pure: arrays in (C-contiguous 2-D ``logits`` of finite spread ``scale``,
    int32 ``y_enc``, ``sw`` float64 or None), a :class:`TemperatureFit` out;
    nothing is warned (its ``status`` says what to warn about).
    """

    def warm_start(beta_lo, beta_hi, beta0):
        subset = _warm_start_subset(logits, y_enc, sw)
        if subset is None:
            return beta0, 0.0
        beta0, _, n_eval0, _ = _fit_beta(
            _nll_pass(*subset, n_threads), beta_lo, beta_hi, beta0=beta0, step_tol=1e-3)
        return beta0, n_eval0 / 4.0

    return search_temperature(_nll_pass(logits, y_enc, sw, n_threads), logits.shape[0],
                              scale,
                              lambda: (_is_separable(logits, y_enc, sw) if separable is None
                                       else separable), beta0,
                              warm_start)


def search_temperature(evaluate, n, scale, is_separable, beta0=1.0, warm_start=None):
    """:func:`fit_temperature` given ``evaluate(beta) -> (F, F', F'')`` over all
    rows (in memory or a map-reduce over dask chunks), the row count, the
    largest spread, ``is_separable()`` and an optional ``warm_start(beta_lo,
    beta_hi, beta0) -> (beta0, passes)``."""
    if scale == 0.0 or n == 1:
        return TemperatureFit(1.0, evaluate(1.0)[0], 1, "constant" if scale == 0.0 else "single")
    beta_lo = 1.0 / (scale * TEMPERATURE_RANGE)
    beta_hi = TEMPERATURE_RANGE / scale
    if is_separable():
        return TemperatureFit(beta_hi, evaluate(beta_hi)[0], 1, "upper")
    n_eval0 = 0.0
    if warm_start is not None:
        beta0, n_eval0 = warm_start(beta_lo, beta_hi, beta0)
    beta, nll, n_eval, at_bound = _fit_beta(evaluate, beta_lo, beta_hi, beta0=beta0)
    if at_bound is None and nll == 0.0:
        # perfectly separable and already saturated: every larger beta is as good
        beta, at_bound = beta_hi, "upper"
    return TemperatureFit(beta, nll, n_eval + n_eval0, at_bound)


class TemperatureCalibrator(TransformerMixin, BaseEstimator):
    """Temperature scaling of classifier scores.

    Learns one temperature ``T > 0`` minimising the (weighted) negative
    log-likelihood of ``softmax(scores / T)``; ``transform`` returns the
    calibrated probabilities. The ranking of the classes in a row never changes,
    so the predicted labels and the accuracy stay the same.

    Parameters
    ----------
    input : {'auto', 'logits', 'probabilities'}, default='auto'
        How to read the scores.

        - ``'logits'``: unnormalised log-probabilities, e.g. ``decision_function``
          output or network logits, shape ``(n_samples, n_classes)``. A 1-D
          score (or a single column) is a binary problem: it is read as the
          logit of the positive class ``classes_[1]``, ``p1 = sigmoid(s / T)``
          (the negative class has logit 0).
        - ``'probabilities'``: ``predict_proba`` output. They are mapped to
          log-probabilities ``log(max(p, 1e-12))`` (the floor keeps exact zeros
          finite) and then scaled. A 1-D input is ``p1``, the probability of
          ``classes_[1]``.
        - ``'auto'``: probabilities if the scores are 2-D with at least two
          columns, every entry in ``[0, 1]`` and every row summing to 1 (up to
          ``max(1e-6, 8 K eps)``), else logits; 1-D scores are always logits.
          The decision is stored in ``input_kind_`` and reused by ``transform``.

    classes : array-like of shape (n_classes,), default=None
        The labels of the score columns, in column order. By default, the
        distinct values of ``y`` if there are as many as score columns, else,
        for integer labels in ``[0, n_columns)``, the column indices
        ``0, ..., n_columns - 1`` (the labels then *are* column indices; useful
        when a calibration set lacks a class).

    Attributes
    ----------
    temperature_ : float
        The fitted temperature ``T`` (``beta_ = 1 / T``).
    beta_ : float
        The inverse temperature (``inf`` for a temperature below
        ``1 / DBL_MAX``, as subnormal scores give).
    nll_ : float
        The weighted mean negative log-likelihood at ``temperature_``.
    n_iter_ : int
        Number of kernel passes over the scores (function + derivatives),
        counting the warm-start passes on a subset of rows in full-pass units.
    input_kind_ : {'logits', 'probabilities'}
        How the scores were read.
    classes_ : ndarray of shape (n_classes,)
        Class labels of the output columns.
    n_features_in_ : int
        Number of score columns seen in ``fit`` (1 for a 1-D binary score).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the score columns, if given as a DataFrame with string columns.

    Notes
    -----
    ``beta = 1 / T`` is found by a safeguarded Newton iteration on the convex
    NLL; each iteration is one OpenMP pass over the scores, in double precision
    whatever the storage dtype (float32 scores are not upcast). The temperature
    is confined to ``[s * 1e-6, s * 1e6]`` where ``s`` is the largest
    within-row spread of the scores. When the optimum lies on a bound (e.g.
    perfectly separable scores, where it runs to ``T -> 0``; scores carrying no
    information or anti-correlated with the labels, ``T -> inf``), that bound is
    returned with a :class:`TemperatureScalingWarning`; constant rows (``s = 0``)
    give ``T = 1`` with a warning, and so does a single sample.

    scikit-learn's ``CalibratedClassifierCV(method='temperature')`` reads a 1-D
    binary score ``s`` as the logits ``(-s, s)``, so its temperature is twice
    ours for the same calibrated probabilities; for 2-D scores the temperatures
    agree.

    Examples
    --------
    >>> import numpy as np
    >>> from skmax import TemperatureCalibrator
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 3, size=200)
    >>> scores = 4.0 * np.eye(3)[y] + 3.0 * rng.randn(200, 3)   # noisy, overconfident
    >>> cal = TemperatureCalibrator().fit(scores, y)
    >>> cal.input_kind_
    'logits'
    >>> proba = cal.transform(scores)
    >>> proba.shape
    (200, 3)
    >>> bool(np.allclose(proba.sum(axis=1), 1.0))
    True
    """

    _parameter_constraints = {
        "input": [StrOptions({"auto", "logits", "probabilities"})],
        "classes": ["array-like", None],
    }

    def __init__(self, input="auto", classes=None):
        self.input = input
        self.classes = classes

    # -- validation helpers -------------------------------------------------

    def _validate_scores(self, scores, y=None, reset=True, ensure_all_finite=True):
        if not sp.issparse(scores) and not hasattr(scores, "columns"):
            arr = np.asarray(scores)
            if arr.ndim == 1 and arr.dtype.kind in "biuf":
                if not reset and getattr(self, "n_features_in_", 1) != 1:
                    raise ValueError(
                        "Expected 2D array, got 1D array instead; this calibrator was "
                        f"fitted on {self.n_features_in_} score columns. Reshape your "
                        "data with array.reshape(1, -1) if it contains a single sample."
                    )
                scores = arr.reshape(-1, 1)
        kwargs = dict(dtype=[np.float64, np.float32], order="C", reset=reset,
                      ensure_all_finite=ensure_all_finite)
        with np.errstate(over="ignore", invalid="ignore"):  # finiteness checks of huge scores
            if reset:
                return validate_data(self, scores, y, y_numeric=False, **kwargs)
            return validate_data(self, scores, **kwargs)

    def _resolve_classes(self, y, n_cols):
        K = max(n_cols, 2)
        labels = np.unique(y)
        if self.classes is not None:
            classes = np.asarray(self.classes)
            if classes.ndim != 1 or len(classes) != K:
                raise ValueError(
                    f"classes has {np.size(classes)} entries but the scores describe "
                    f"{K} classes ({n_cols} column(s))."
                )
            if len(np.unique(classes)) != K:
                raise ValueError("classes must not contain duplicates.")
            unknown = np.setdiff1d(labels, classes)
            if unknown.size:
                raise ValueError(f"y contains labels not in classes: {unknown.tolist()}")
            return classes
        if len(labels) == K:
            return labels
        if (
            labels.dtype.kind in "iub"
            or (labels.dtype.kind == "f" and np.all(labels == np.round(labels)))
        ) and labels.min() >= 0 and labels.max() < K:
            # bool labels index the columns as 0 and 1 (integer classes)
            return np.arange(K, dtype=np.intp if labels.dtype.kind == "b" else labels.dtype)
        if n_cols == 1:
            raise ValueError(
                f"Scores with 1 feature(s) are a binary score but y has {len(labels)} "
                "classes; pass 2-D scores with one column per class."
            )
        raise ValueError(
            f"y has {len(labels)} distinct labels but the scores have {n_cols} "
            "columns; pass classes= (the label of each score column), or integer "
            "labels that index the columns."
        )

    def _encode_labels(self, y, n_cols):
        """``(classes, y_enc)``: the label of each score column, and the column
        index (int32) of each label in ``y``."""
        labels, inverse = np.unique(y, return_inverse=True)
        classes = self._resolve_classes(labels, n_cols)
        if classes.shape == labels.shape and np.array_equal(classes, labels):
            # the usual case: one column per label, in sorted order
            return classes, inverse.reshape(-1).astype(np.int32)
        return classes, column_index(classes, y)

    def _fit_inputs(self, scores, y, defer_finite=False):
        """``(S, kind, classes, y_enc)`` of ``fit``: the validated scores, how
        to read them, the label of each column and the encoded labels. Shared
        by every calibrator (``skmax/_matrix_scaling.py``).

        ``defer_finite``: logits are not checked for infinite and NaN entries
        here; the caller's first kernel pass over them must do it
        (:func:`_spread_and_separable`). Scores read as probabilities are
        checked here (detected ones are finite: each entry lies in [0, 1])."""
        if y is None:
            raise ValueError(
                f"{self.__class__.__name__} requires y to be passed, but the target y is None."
            )
        defer = defer_finite and self.input in ("auto", "logits")
        S, y = self._validate_scores(scores, y, reset=True, ensure_all_finite=not defer)
        y = column_or_1d(y, warn=True)
        if y.dtype.kind not in "iub":   # integer and bool labels are class labels
            check_classification_targets(y)
        kind = self.input
        if kind == "auto":
            kind = "probabilities" if _looks_like_probabilities(S) else "logits"
        elif kind == "probabilities":
            _check_probabilities(S)
        classes, y_enc = self._encode_labels(y, S.shape[1])
        return S, kind, classes, y_enc

    # -- API ----------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, scores, y, sample_weight=None):
        """Learn the temperature.

        Parameters
        ----------
        scores : array-like of shape (n_samples, n_classes) or (n_samples,)
            Logits, decision-function values or probabilities (see ``input``);
            float32 stays float32.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            Fitted calibrator.
        """
        if is_dask(scores) and y is not None:
            return fit_temperature_dask(self, scores, y, sample_weight)
        # the finiteness of logits is checked by the spread pass below
        S, kind, classes, y_enc = self._fit_inputs(scores, y, defer_finite=True)
        n = S.shape[0]

        sw = None
        if sample_weight is not None:
            sw = _check_sample_weight(sample_weight, S, dtype=np.float64, ensure_non_negative=True)
        total_w = float(n) if sw is None else float(sw.sum())
        if not total_w > 0:
            raise ValueError("The sample weights sum to zero; there is nothing to fit.")

        logits = _to_logits(S, kind, copy=False)  # read only below
        n_threads = n_threads_from_n_jobs(None)   # small inputs: fewer (SoftmaxLoss)
        # one pass for the scale and the separability test (scale-free)
        spread, separable = _spread_and_separable(
            logits, y_enc, sw, n_threads,
            check_finite=type(self).__name__ if kind == "logits" else None)
        logits, scale, k = _rescale(logits, sw, n_threads, spread)
        fit = fit_temperature(logits, y_enc, sw, scale, n_threads, beta0=_unit_beta(k),
                              separable=separable)
        return self._set_fit(kind, classes, fit, k, total_w)

    def _set_fit(self, kind, classes, fit, k, total_w):
        """Warn about ``fit.status`` and store the fitted attributes; ``fit`` was
        found on the scores times ``2**k`` (:func:`_rescale`)."""
        temperature = float(np.ldexp(1.0 / fit.beta, -k))
        if fit.status is not None:
            warn(_STATUS_MESSAGES[fit.status].format(T=temperature), TemperatureScalingWarning)
        self.input_kind_ = kind
        self.classes_ = classes
        with np.errstate(over="ignore", divide="ignore"):
            self.beta_ = float(np.divide(1.0, temperature))   # inf below 1 / DBL_MAX
        self.temperature_ = temperature
        self.nll_ = float(fit.nll / total_w)
        self.n_iter_ = int(np.ceil(fit.n_evaluations))
        return self

    def _logits(self, scores):
        check_is_fitted(self)
        S = self._validate_scores(scores, reset=False)
        if self.input_kind_ == "probabilities":
            _check_probabilities(S)
        return _to_logits(S, self.input_kind_)

    def transform(self, scores):
        """Calibrated probabilities ``softmax(scores / T)``.

        Parameters
        ----------
        scores : array-like of shape (n_samples, n_classes) or (n_samples,)
            Scores of the same kind and width as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Calibrated probabilities (two columns for a 1-D binary score), in
            the dtype of ``scores``.
        """
        if is_dask(scores):
            return transform_dask(self, scores)
        logits = self._logits(scores)
        if logits.shape[0]:
            T = self.temperature_
            if not _SAFE_SCALE[0] <= T <= _SAFE_SCALE[1]:
                # 1 / T would overflow: scale the logits by a power of two first
                T, exponent = np.frexp(T)
                np.ldexp(logits, -exponent, out=logits)
            loss = SoftmaxLoss(float(T), n_threads=n_threads_from_n_jobs(None))
            loss.predict_proba(logits)
        return logits

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``'<classname>_<label>'`` per class.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against ``feature_names_in_``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        prefix = self.__class__.__name__.lower()
        return np.asarray([f"{prefix}_{c}" for c in self.classes_], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# ---------------------------------------------------------------------------
# The wrapper
# ---------------------------------------------------------------------------


def _response_method(estimator, method):
    if method == "auto":
        return "decision_function" if hasattr(estimator, "decision_function") else "predict_proba"
    return method


def _scores(estimator, X, method):
    return getattr(estimator, method)(X)


def _fit_estimator(estimator, X, y, sample_weight, train=None):
    if train is not None:
        X = _safe_indexing(X, train)
        y = _safe_indexing(y, train)
        if sample_weight is not None:
            sample_weight = _safe_indexing(sample_weight, train)
    if sample_weight is not None:
        return estimator.fit(X, y, sample_weight=sample_weight)
    return estimator.fit(X, y)


def _fit_fold(estimator, X, y, sample_weight, train, test, method, response_method,
              classes, calibrate):
    est = _fit_estimator(clone(estimator), X, y, sample_weight, train)
    if len(est.classes_) != len(classes):
        raise ValueError(
            "A training fold lacks a class (it has "
            f"{len(est.classes_)} of {len(classes)} classes); use fewer folds or a "
            "stratified splitter."
        )
    scores = _scores(est, _safe_indexing(X, test), response_method)
    if not calibrate:
        return None, scores
    sw = None if sample_weight is None else _safe_indexing(sample_weight, test)
    cal = _make_calibrator(method, response_method, est.classes_)
    with warnings.catch_warnings():
        # a fold's hard data (separable, few rows) is expected: no warning per fold
        warnings.simplefilter("ignore", UserWarning)
        cal.fit(scores, _safe_indexing(y, test), sample_weight=sw)
    return (est, cal), None


#: The calibration methods of :class:`CalibratedSoftmaxClassifier`.
CALIBRATION_METHODS = ("temperature", "vector", "dirichlet", "sms")
_RESPONSE_METHODS = ("auto", "decision_function", "predict_proba")


def _make_calibrator(method, response_method, classes):
    # imported here: the scaling calibrators build on this module's calibrator
    from ._matrix_scaling import (
        DirichletCalibrator,
        StructuredMatrixScalingCalibrator,
        VectorScalingCalibrator,
    )

    kind = "probabilities" if response_method == "predict_proba" else "logits"
    if method == "dirichlet":
        # no default ODIR strength suits every model: cross-validate it
        return DirichletCalibrator(input=kind, classes=classes, cv=3)
    calibrator = {
        "temperature": TemperatureCalibrator,
        "vector": VectorScalingCalibrator,
        "sms": StructuredMatrixScalingCalibrator,
    }[method]
    return calibrator(input=kind, classes=classes)


class CalibratedSoftmaxClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Any classifier, with its probabilities calibrated by a softmax calibration map.

    Out-of-fold scores of the estimator (or the scores of a frozen one) are
    mapped to probabilities by temperature, vector, Dirichlet or structured
    matrix scaling, as ``CalibratedClassifierCV(method=...)`` does with
    sigmoid and isotonic regression.

    Parameters
    ----------
    estimator : classifier, default=None
        The classifier to calibrate; ``None`` means ``LogisticRegression()``.
        Wrap an already fitted model in :class:`sklearn.frozen.FrozenEstimator`
        to calibrate it on the data given to ``fit`` (no cross-validation, it is
        not refitted; ``cv`` and ``ensemble`` are then ignored).
    method : {'temperature', 'vector', 'dirichlet', 'sms'}, default='temperature'
        The calibration map: :class:`TemperatureCalibrator`,
        :class:`VectorScalingCalibrator`, :class:`DirichletCalibrator` (its ODIR
        strength chosen by 3-fold cross-validation on the calibration scores)
        or :class:`StructuredMatrixScalingCalibrator`. Until version 0.2 the
        response names below are also accepted here, with a ``FutureWarning``,
        meaning ``method='temperature', response_method=<name>`` (this
        parameter used to be the response method).
    response_method : {'auto', 'decision_function', 'predict_proba'}, default='auto'
        Which scores of the estimator to calibrate; ``'auto'`` uses
        ``decision_function`` when the estimator has it, else ``predict_proba``.
    cv : int, cross-validation generator or iterable, default=5
        How the out-of-fold scores that the map is fitted on are made
        (an int means :class:`~sklearn.model_selection.StratifiedKFold`).
    ensemble : bool, default=False
        ``False``: the estimator is refitted on all the data and one map is
        fitted on the out-of-fold scores. ``True``: one (estimator, map) pair
        per fold, fitted on the training / test part of the fold;
        ``predict_proba`` averages their calibrated probabilities.
    n_jobs : int, default=None
        Folds fitted in parallel (joblib); ``None`` means 1.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    estimators_ : list of fitted classifiers
        One (``ensemble=False`` or a frozen estimator) or one per fold.
    calibrators_ : list of calibrators
        The calibrator of each estimator.
    temperatures_ : ndarray of shape (n_estimators,)
        The fitted temperatures, one per entry of ``estimators_`` (only for
        ``method='temperature'``).
    method_ : str
        The calibration method used.
    response_method_ : str
        The response method used.
    n_features_in_ : int
        Number of features seen in ``fit`` (when the estimator records it).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen in ``fit`` (when the estimator records them).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.svm import LinearSVC
    >>> from skmax import CalibratedSoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = CalibratedSoftmaxClassifier(LinearSVC(), method="vector", cv=3).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.method_, clf.response_method_
    ('vector', 'decision_function')
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "method": [StrOptions(set(CALIBRATION_METHODS) | set(_RESPONSE_METHODS))],
        "response_method": [StrOptions(set(_RESPONSE_METHODS))],
        "cv": ["cv_object"],
        "ensemble": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(self, estimator=None, *, method="temperature", response_method="auto", cv=5,
                 ensemble=False, n_jobs=None):
        self.estimator = estimator
        self.method = method
        self.response_method = response_method
        self.cv = cv
        self.ensemble = ensemble
        self.n_jobs = n_jobs

    def _methods(self):
        """``(calibration method, response method)``, reading the old meaning of
        ``method`` (a response method) with a FutureWarning."""
        if self.method not in _RESPONSE_METHODS:
            return self.method, self.response_method
        if self.response_method != "auto":
            raise ValueError(
                f"method={self.method!r} is a response method and response_method="
                f"{self.response_method!r} is given too; method now names the "
                f"calibration method, one of {list(CALIBRATION_METHODS)}."
            )
        warnings.warn(
            f"method={self.method!r} names a response method; method now names the "
            f"calibration method ({', '.join(CALIBRATION_METHODS)}). Use "
            f"response_method={self.method!r} instead; this reading of method is "
            "removed in 0.2.",
            FutureWarning,
            stacklevel=3,
        )
        return "temperature", self.method

    def _get_estimator(self):
        return LogisticRegression() if self.estimator is None else self.estimator

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the estimator(s) and the calibration map(s).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, passed to the estimator as it is.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Used by the estimator's ``fit`` (when it accepts weights) and by the
            calibration map's fit.

        Returns
        -------
        self : object
            Fitted classifier.
        """
        from sklearn.frozen import FrozenEstimator

        if y is None:
            raise ValueError(
                f"{self.__class__.__name__} requires y to be passed, but the target y is None."
            )
        X, y = indexable(X, y)
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        estimator = self._get_estimator()
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y, dtype=np.float64)
            if not has_fit_parameter(estimator, "sample_weight"):
                warn(f"{estimator.__class__.__name__} does not accept sample_weight; the "
                     "weights are only used to fit the calibration map.", UserWarning)
                est_weight = None
            else:
                est_weight = sample_weight
        else:
            est_weight = None
        le = LabelEncoder().fit(y)
        classes = le.classes_
        present = classes if sample_weight is None else np.unique(y[sample_weight > 0])
        if len(present) < 2:
            raise ValueError(
                f"{self.__class__.__name__} needs samples of at least 2 classes with "
                f"positive weight, but the data contains only one class: {present[:1].tolist()}"
            )
        method, response_method = self._methods()
        response_method = _response_method(estimator, response_method)
        self.classes_ = classes
        self.method_, self.response_method_ = method, response_method
        n_samples = len(y)

        if isinstance(estimator, FrozenEstimator):
            scores = _scores(estimator, X, response_method)
            cal = _make_calibrator(method, response_method, estimator.classes_)
            cal.fit(scores, y, sample_weight=sample_weight)
            self.estimators_, self.calibrators_ = [estimator], [cal]
        else:
            cv = check_cv(self.cv, y, classifier=True)
            if isinstance(self.cv, Integral):
                counts = np.bincount(le.transform(y))
                if counts.min() < self.cv:
                    raise ValueError(
                        f"Requesting {self.cv}-fold cross-validation but provided fewer "
                        f"than {self.cv} examples for at least one class."
                    )
            splits = list(cv.split(np.zeros(n_samples), y))
            parallel = Parallel(n_jobs=self.n_jobs)
            results = parallel(
                delayed(_fit_fold)(
                    estimator, X, y, est_weight, train, test, method, response_method,
                    classes, self.ensemble,
                )
                for train, test in splits
            )
            if self.ensemble:
                self.estimators_ = [r[0][0] for r in results]
                self.calibrators_ = [r[0][1] for r in results]
            else:
                test_idx = np.concatenate([test for _, test in splits])
                scores = np.concatenate([r[1] for r in results], axis=0)
                if len(np.unique(test_idx)) != len(test_idx):
                    raise ValueError(
                        "ensemble=False needs a cv whose test sets do not overlap."
                    )
                cal = _make_calibrator(method, response_method, classes)
                cal.fit(
                    scores,
                    y[test_idx],
                    sample_weight=None if sample_weight is None else sample_weight[test_idx],
                )
                est = _fit_estimator(clone(estimator), X, y, est_weight)
                self.estimators_, self.calibrators_ = [est], [cal]
        if method == "temperature":
            self.temperatures_ = np.array([c.temperature_ for c in self.calibrators_])
        first = self.estimators_[0]
        if hasattr(first, "n_features_in_"):
            self.n_features_in_ = first.n_features_in_
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        return self

    def predict_proba(self, X):
        """Calibrated class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Calibrated probabilities (averaged over the folds when ``ensemble=True``).
        """
        check_is_fitted(self, "calibrators_")
        proba = None
        for est, cal in zip(self.estimators_, self.calibrators_):
            p = cal.transform(_scores(est, X, self.response_method_))
            p = np.asarray(p, dtype=np.float64)
            proba = p if proba is None else proba + p
        return proba / len(self.estimators_)

    def predict(self, X):
        """Class with the highest calibrated probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        check_is_fitted(self, "calibrators_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._get_estimator())
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.pairwise = inner.input_tags.pairwise
        return tags


class TemperatureCalibratedClassifier(CalibratedSoftmaxClassifier):
    """:class:`CalibratedSoftmaxClassifier` under its first name (temperature by default).

    Same parameters, attributes and methods; kept so that existing code and
    pickles keep working. ``TemperatureCalibratedClassifier(estimator,
    method='sms')`` is structured matrix scaling.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.svm import LinearSVC
    >>> from skmax import TemperatureCalibratedClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TemperatureCalibratedClassifier(LinearSVC(), cv=3).fit(X, y)
    >>> clf.temperatures_.shape, clf.response_method_
    ((1,), 'decision_function')
    """
