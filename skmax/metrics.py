"""Calibration metrics (expected and maximum calibration error) and the
log-loss against soft targets.

:func:`expected_calibration_error` and :func:`maximum_calibration_error`
summarise a reliability diagram in one number; :func:`calibration_bins`
returns the diagram's points (what :class:`skmax.plotting.ReliabilityDisplay`
draws).

The multiclass Brier score is scikit-learn's
:func:`sklearn.metrics.brier_score_loss` (multiclass since scikit-learn 1.7,
with ``labels=`` and ``scale_by_half``); it is not duplicated here.

Examples
--------
>>> from skmax import metrics
>>> y = [0, 1, 1, 0]
>>> p = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
>>> round(metrics.expected_calibration_error(y, p, n_bins=5), 4)
0.25
>>> round(metrics.maximum_calibration_error(y, p, n_bins=5), 4)
0.4
"""

from numbers import Integral

import numpy as np
from scipy.signal import fftconvolve
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import _check_sample_weight, check_array

from ._dask import calibration_bin_sums_dask, is_dask

__all__ = [
    "expected_calibration_error",
    "maximum_calibration_error",
    "calibration_bins",
    "smooth_calibration_error",
    "smooth_reliability_curve",
    "soft_log_loss",
    "soft_log_loss_scorer",
]

_PARAMS = {
    "y_true": ["array-like"],
    "y_prob": ["array-like"],
    "n_bins": [Interval(Integral, 1, None, closed="left")],
    "strategy": [StrOptions({"uniform", "quantile"})],
    "kind": [StrOptions({"top-label", "classwise"})],
    "sample_weight": ["array-like", None],
    "labels": ["array-like", None],
}


def _row_sum_tolerance(P):
    """Largest accepted ``|sum_k p_ik - 1|``: float32 rounding whatever the
    dtype (probabilities computed in float32 and cast to float64 are common),
    wider for many float32 columns."""
    return max(1e-6, 8 * P.shape[1] * np.finfo(P.dtype).eps)


def _check_inputs(y_true, y_prob, sample_weight, labels):
    """Validated ``(y_true, P (n x K float64), weights, labels)``."""
    y_true = column_or_1d(y_true)
    P = check_array(y_prob, ensure_2d=False, dtype=[np.float64, np.float32])
    if P.ndim == 1:
        P = np.column_stack([1.0 - P, P])  # probability of labels[1]
    elif P.ndim != 2:
        raise ValueError(f"y_prob must be 1-D or 2-D, got shape {P.shape}.")
    check_consistent_length(y_true, P)
    if P.shape[0] == 0:
        raise ValueError("y_true and y_prob are empty.")
    if P.min() < 0 or P.max() > 1:
        raise ValueError("y_prob contains values outside [0, 1].")
    dev = np.abs(P.sum(axis=1, dtype=np.float64) - 1.0)
    if dev.max() > _row_sum_tolerance(P):
        raise ValueError(
            f"The rows of y_prob must sum to 1 (largest deviation {dev.max():.3g})."
        )
    P = P.astype(np.float64, copy=False)
    if labels is None:
        labels = np.unique(y_true)
    else:
        labels = column_or_1d(labels)
        if len(np.unique(labels)) != len(labels):
            raise ValueError("labels must not contain duplicates.")
        labels = np.sort(labels)
    if len(labels) != P.shape[1]:
        raise ValueError(
            f"y_prob has {P.shape[1]} columns but there are {len(labels)} labels "
            f"{labels.tolist()[:10]}; pass labels= (one per column, sorted) when y_true "
            "does not contain every class."
        )
    unknown = np.setdiff1d(np.unique(y_true), labels)
    if unknown.size:
        raise ValueError(f"y_true contains labels not in labels: {unknown.tolist()[:10]}")
    w = _check_sample_weight(sample_weight, P, dtype=np.float64, ensure_non_negative=True)
    if not w.sum() > 0:
        raise ValueError("The sample weights sum to zero.")
    return y_true, P, w, labels


def _bin_edges(conf, w, n_bins, strategy):
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    order = np.argsort(conf, kind="stable")
    cw = np.cumsum(w[order])
    qs = np.linspace(0.0, 1.0, n_bins + 1)[1:-1] * cw[-1]
    inner = conf[order][np.minimum(np.searchsorted(cw, qs, side="left"), len(conf) - 1)]
    return np.concatenate([[0.0], inner, [1.0]])


def _bin_sums(conf, correct, w, edges):
    """``(3, n_bins)`` sums per bin of the weights, weighted confidences and
    weighted hits; bin ``b`` is ``(e_b, e_{b+1}]`` (the first one also holds
    confidence 0). Sums, so that chunks of rows add up (dask input)."""
    n_bins = len(edges) - 1
    idx = np.searchsorted(edges[1:-1], conf, side="left")
    return np.stack([np.bincount(idx, weights=v, minlength=n_bins)
                     for v in (w, w * conf, w * correct)])


def _bin_means(sums):
    """Per non-empty bin: (mean confidence, accuracy, total weight)."""
    wsum, csum, asum = sums
    keep = wsum > 0
    return csum[keep] / wsum[keep], asum[keep] / wsum[keep], wsum[keep]


def _bin_stats(conf, correct, w, n_bins, strategy):
    """Per non-empty bin: (mean confidence, accuracy, total weight)."""
    return _bin_means(_bin_sums(conf, correct, w, _bin_edges(conf, w, n_bins, strategy)))


def _groups(y_true, P, labels, kind):
    """(confidence, correct) per group: the top label, or each class one-vs-rest."""
    if kind == "top-label":
        pred = np.argmax(P, axis=1)
        return [(P[np.arange(len(P)), pred], (labels[pred] == y_true).astype(np.float64))]
    return [(P[:, k], (y_true == c).astype(np.float64)) for k, c in enumerate(labels)]


def _diagram_group(y_true, P, labels, pos_label):
    """(confidence, correct) of a reliability diagram: top-label, or the
    probability of ``pos_label`` against "y is that class"."""
    if pos_label is None:
        return _groups(y_true, P, labels, "top-label")[0]
    where = np.flatnonzero(labels == pos_label)
    if where.size == 0:
        raise ValueError(f"pos_label={pos_label!r} is not one of the labels {labels.tolist()}")
    return P[:, where[0]], (y_true == pos_label).astype(np.float64)


def _binned_groups(y_true, P, labels, kind, pos_label=None):
    """The (confidence, correct) groups binned: those of ``kind``, or the
    reliability diagram's of ``pos_label``."""
    if pos_label is None:
        return _groups(y_true, P, labels, kind)
    return [_diagram_group(y_true, P, labels, pos_label)]


def _per_group(y_true, y_prob, sample_weight, labels, n_bins, strategy, kind,
               pos_label=None):
    """List of (mean confidence, accuracy, weight) per bin, one entry per group;
    dask inputs are reduced chunk by chunk (``skmax/_dask.py``)."""
    if is_dask(y_prob) or is_dask(y_true):
        sums = calibration_bin_sums_dask(y_true, y_prob, sample_weight, labels, n_bins,
                                         strategy, kind, pos_label)
        return [_bin_means(group) for group in sums]
    y_true, P, w, labels = _check_inputs(y_true, y_prob, sample_weight, labels)
    return [_bin_stats(conf, correct, w, n_bins, strategy)
            for conf, correct in _binned_groups(y_true, P, labels, kind, pos_label)]


def calibration_bins(
    y_true, y_prob, *, n_bins=15, strategy="uniform", sample_weight=None, labels=None,
    pos_label=None,
):
    """Reliability-diagram data: per non-empty bin, mean confidence, accuracy, weight.

    Top-label (confidence = max probability, correct = argmax is the label)
    unless ``pos_label`` names one class (its probability against "y is that
    class"). Used by :class:`skmax.plotting.ReliabilityDisplay`.

    Bin ``b`` is ``(e_b, e_{b+1}]`` (the first one also holds 0), with the
    edges ``e`` of ``strategy`` as in :func:`expected_calibration_error`;
    empty bins are left out.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities (see :func:`expected_calibration_error`).
    n_bins : int, default=15
        Number of bins.
    strategy : {'uniform', 'quantile'}, default='uniform'
        Binning strategy.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All the labels (sorted column order of ``y_prob``).
    pos_label : label, default=None
        None: top-label bins. A class label: bins of that class's probability,
        "accuracy" being the frequency of that class.

    Returns
    -------
    prob_pred : ndarray of shape (n_nonempty_bins,)
        Mean confidence per bin.
    prob_true : ndarray of shape (n_nonempty_bins,)
        Accuracy per bin.
    bin_weight : ndarray of shape (n_nonempty_bins,)
        Total sample weight per bin.

    Examples
    --------
    >>> from skmax.metrics import calibration_bins
    >>> y = [0, 1, 1, 0]
    >>> p = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    >>> conf, acc, weight = calibration_bins(y, p, n_bins=5)
    >>> conf.round(2).tolist(), acc.tolist(), weight.tolist()
    ([0.6, 0.75, 0.9], [1.0, 0.5, 1.0], [1.0, 2.0, 1.0])
    """
    return _per_group(y_true, y_prob, sample_weight, labels, n_bins, strategy, "top-label",
                      pos_label)[0]


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def expected_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=15,
    strategy="uniform",
    kind="top-label",
    sample_weight=None,
    labels=None,
):
    """Expected calibration error (ECE) of predicted probabilities.

    ``ECE = sum_b (W_b / W) |acc_b - conf_b|`` over the bins ``b`` of the
    confidences, with ``W_b`` the weight of the bin, ``conf_b`` the mean
    confidence and ``acc_b`` the (weighted) frequency of being right in it.

    - ``kind='top-label'``: the confidence of a sample is its largest
      probability and it is right when the argmax is its label.
    - ``kind='classwise'``: for every class ``k`` the one-vs-rest ECE of
      ``p_k`` against ``y == k``; the result is their mean over classes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities, columns in the order of the sorted labels; rows must sum
        to 1. A 1-D input is the probability of the second (positive) label.
    n_bins : int, default=15
        Number of bins.
    strategy : {'uniform', 'quantile'}, default='uniform'
        ``'uniform'``: equal-width bins ``(b/B, (b+1)/B]`` (the first also holds
        0). ``'quantile'``: bins with edges at the (weighted) quantiles of the
        confidences, holding about the same weight each.
    kind : {'top-label', 'classwise'}, default='top-label'
        See above.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All the labels (the columns of ``y_prob`` are in their sorted order);
        by default the labels found in ``y_true``.

    Returns
    -------
    ece : float
        In ``[0, 1]``; 0 means perfectly calibrated on these bins.

    Examples
    --------
    >>> from skmax.metrics import expected_calibration_error
    >>> y = [0, 1, 1, 0]
    >>> p = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    >>> round(expected_calibration_error(y, p, n_bins=5), 4)
    0.25
    """
    vals = []
    for conf, acc, wb in _per_group(y_true, y_prob, sample_weight, labels, n_bins, strategy,
                                    kind):
        vals.append(float(np.sum(wb * np.abs(acc - conf)) / np.sum(wb)))
    return float(np.mean(vals))


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def maximum_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=15,
    strategy="uniform",
    kind="top-label",
    sample_weight=None,
    labels=None,
):
    """Maximum calibration error (MCE): the largest ``|acc_b - conf_b|`` over non-empty bins.

    Same bins and parameters as :func:`expected_calibration_error`; for
    ``kind='classwise'`` the maximum is also taken over the classes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities (see :func:`expected_calibration_error`).
    n_bins : int, default=15
        Number of bins.
    strategy : {'uniform', 'quantile'}, default='uniform'
        Binning strategy.
    kind : {'top-label', 'classwise'}, default='top-label'
        Top-label or one-vs-rest per class.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All the labels.

    Returns
    -------
    mce : float

    Examples
    --------
    >>> from skmax.metrics import maximum_calibration_error
    >>> y = [0, 1, 1, 0]
    >>> p = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    >>> round(maximum_calibration_error(y, p, n_bins=5), 4)
    0.4
    """
    groups = _per_group(y_true, y_prob, sample_weight, labels, n_bins, strategy, kind)
    return float(max(np.max(np.abs(acc - conf)) for conf, acc, _ in groups))


# ---------------------------------------------------------------------------
# Smooth calibration error (Błasiok & Nakkiran 2023)
# ---------------------------------------------------------------------------

# Confidences are spread on a uniform grid of [0, 1] (linear interpolation
# between the two nearest points) of at least this many points and 20 per
# bandwidth, where the kernel sums are convolutions (cost ~ grid log grid, not n x grid).
_MIN_GRID = 1001
# Bisection steps of the bandwidth's fixed point (resolution 2**-12 of [0, 1]).
_BANDWIDTH_STEPS = 12


def _smoothed(conf, values, w, bandwidth):
    """Grid ``t`` of ``[0, 1]`` and the kernel sums ``sum_i w_i K(t, f_i) v_i`` for
    each row ``v`` of ``values``, with the Gaussian kernel reflected at 0 and 1
    (it integrates to 1 over ``[0, 1]`` for every ``f``, so no mass leaves it)."""
    size = max(_MIN_GRID, int(np.ceil(20.0 / bandwidth)) + 1)
    pos = conf * (size - 1)
    left = np.clip(pos.astype(np.intp), 0, size - 2)
    frac = pos - left
    idx = np.concatenate([left, left + 1])
    share = np.concatenate([(1.0 - frac) * w, frac * w])
    # kernel at grid offsets m = -(size - 1) .. 2 (size - 1), with the images at +-2
    u = np.arange(-(size - 1), 2 * size - 1) / (size - 1)
    kernel = sum(np.exp(-0.5 * ((u + shift) / bandwidth) ** 2) for shift in (-2.0, 0.0, 2.0))
    kernel /= np.sqrt(2 * np.pi) * bandwidth
    sums = []
    for v in values:
        on_grid = np.bincount(idx, weights=share * np.concatenate([v, v]), minlength=size)
        # sum_j g_j [k(t_i - x_j) + k(t_i + x_j)]: a convolution and a correlation
        direct = fftconvolve(on_grid, kernel)[size - 1: 2 * size - 1]
        mirrored = fftconvolve(on_grid[::-1], kernel)[2 * size - 2: 3 * size - 2]
        sums.append(direct + mirrored)
    return np.linspace(0.0, 1.0, size), sums


def _smooth_ece_at(conf, residual, w, bandwidth):
    """``int |sum_i w_i K(t, f_i) r_i| dt / int sum_i w_i K(t, f_i) dt``."""
    _, (density, smoothed) = _smoothed(conf, [np.ones_like(conf), residual], w, bandwidth)
    return float(np.abs(smoothed).sum() / density.sum())


def _smooth_ece(conf, correct, w):
    """Smooth ECE at the bandwidth ``sigma`` with ``smECE_sigma = sigma``
    (unique: one side falls, the other grows), and that bandwidth."""
    residual = conf - correct
    lo, hi = 0.0, 1.0
    if _smooth_ece_at(conf, residual, w, hi) < hi:
        for _ in range(_BANDWIDTH_STEPS):
            mid = 0.5 * (lo + hi)
            if _smooth_ece_at(conf, residual, w, mid) > mid:
                lo = mid
            else:
                hi = mid
    return _smooth_ece_at(conf, residual, w, hi), hi


@validate_params(
    {key: _PARAMS[key] for key in ("y_true", "y_prob", "kind", "sample_weight", "labels")},
    prefer_skip_nested_validation=True,
)
def smooth_calibration_error(y_true, y_prob, *, kind="top-label", sample_weight=None,
                             labels=None):
    """Smooth expected calibration error (Błasiok & Nakkiran 2023), no bins.

    The residuals ``f_i - y_i`` (confidence minus being right) are smoothed
    with a Gaussian kernel reflected at 0 and 1, and the result is
    ``int_0^1 |sum_i w_i K(t, f_i) (f_i - y_i)| dt / sum_i w_i``. The bandwidth
    ``sigma`` is the fixed point where this equals ``sigma`` (found by
    bisection), which makes the measure consistent: it is within constant
    factors of the distance to the nearest perfectly calibrated predictor.
    The ``relplot`` package is the reference implementation (this one agrees
    with ``relplot.smECE`` to about 1e-3).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities (see :func:`expected_calibration_error`).
    kind : {'top-label', 'classwise'}, default='top-label'
        Top-label confidence, or the mean over classes of the one-vs-rest errors.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All the labels (sorted column order of ``y_prob``).

    Returns
    -------
    smece : float
        In ``[0, 1]``; 0 for a perfectly calibrated predictor.

    Examples
    --------
    >>> import numpy as np
    >>> from skmax.metrics import smooth_calibration_error
    >>> rng = np.random.RandomState(0)
    >>> p1 = rng.uniform(size=2000)
    >>> y = (rng.uniform(size=2000) < p1).astype(int)   # calibrated
    >>> bool(smooth_calibration_error(y, p1) < 0.03)
    True
    >>> bool(smooth_calibration_error(y, np.clip(2 * p1 - 0.5, 0, 1)) > 0.05)
    True
    """
    y_true, P, w, labels = _check_inputs(y_true, y_prob, sample_weight, labels)
    return float(np.mean([_smooth_ece(conf, correct, w)[0]
                          for conf, correct in _groups(y_true, P, labels, kind)]))


def smooth_reliability_curve(y_true, y_prob, *, bandwidth=None, sample_weight=None,
                             labels=None, pos_label=None):
    """Kernel-smoothed reliability curve: accuracy as a smooth function of confidence.

    ``acc(t) = sum_i w_i K(t, f_i) y_i / sum_i w_i K(t, f_i)`` with the reflected
    Gaussian kernel of :func:`smooth_calibration_error` (by default at its
    bandwidth), and the density of the confidences ``sum_i w_i K(t, f_i) / sum_i w_i``.
    Top-label unless ``pos_label`` names a class (as :func:`calibration_bins`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities (see :func:`expected_calibration_error`).
    bandwidth : float, default=None
        Kernel width on the confidence axis; None: the smooth ECE's fixed point.
    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights.
    labels : array-like of shape (n_classes,), default=None
        All the labels (sorted column order of ``y_prob``).
    pos_label : label, default=None
        None: top-label. A class label: that class's probability.

    Returns
    -------
    confidence : ndarray of shape (n_points,)
        The mesh of ``[0, 1]``.
    accuracy : ndarray of shape (n_points,)
        The smoothed frequency of being right at each confidence.
    density : ndarray of shape (n_points,)
        The smoothed density of the confidences.
    bandwidth : float
        The bandwidth used.

    Examples
    --------
    >>> from skmax.metrics import smooth_reliability_curve
    >>> y = [0, 1, 1, 0, 1]
    >>> p = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]]
    >>> t, acc, density, sigma = smooth_reliability_curve(y, p, bandwidth=0.1)
    >>> t.shape == acc.shape == density.shape
    True
    """
    y_true, P, w, labels = _check_inputs(y_true, y_prob, sample_weight, labels)
    conf, correct = _diagram_group(y_true, P, labels, pos_label)
    if bandwidth is None:
        bandwidth = _smooth_ece(conf, correct, w)[1]
    elif not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}.")
    mesh, (density, hits) = _smoothed(conf, [np.ones_like(conf), correct], w, bandwidth)
    accuracy = np.divide(hits, density, out=mesh.copy(), where=density > 0)
    return mesh, accuracy, density / w.sum(), float(bandwidth)


@validate_params({"y_true": ["array-like"], "y_prob": ["array-like"],
                  "sample_weight": ["array-like", None]}, prefer_skip_nested_validation=True)
def soft_log_loss(y_true, y_prob, *, sample_weight=None):
    """Cross-entropy of predicted probabilities against target distributions.

    ``mean_i -sum_k t_ik log p_ik`` (weighted by ``sample_weight``): the
    log-loss of :func:`sklearn.metrics.log_loss` with soft targets, the score
    for models fitted on class probabilities (e.g. ``SoftmaxClassifier.fit``
    with an ``(n_samples, n_classes)`` target); with one-hot rows it is the
    ordinary log-loss. Probabilities are clipped to ``[tiny, 1]`` before the log.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_classes) or (n_samples,)
        Target distributions ``t``; 1-D integer labels ``0 .. n_classes-1``
        stand for their one-hot rows.
    y_prob : array-like of shape (n_samples, n_classes)
        Predicted probabilities ``p``, columns in the order of ``t``'s.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    loss : float

    Examples
    --------
    >>> from skmax.metrics import soft_log_loss
    >>> round(soft_log_loss([[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.5, 0.5]]), 4)
    0.6931
    """
    P = check_array(y_prob, dtype=np.float64)
    T = np.asarray(y_true)
    if T.ndim == 1:
        T = np.eye(P.shape[1])[column_or_1d(T).astype(np.intp)]
    T = check_array(T, dtype=np.float64)
    check_consistent_length(T, P)
    if T.shape != P.shape:
        raise ValueError(f"y_true has {T.shape[1]} columns but y_prob {P.shape[1]}.")
    w = _check_sample_weight(sample_weight, P, dtype=np.float64)
    losses = -(T * np.log(np.clip(P, np.finfo(float).tiny, 1.0))).sum(axis=1)
    return float(np.average(losses, weights=w))


def soft_log_loss_scorer(estimator, X, y, sample_weight=None):
    """Scorer of :func:`soft_log_loss`: ``-soft_log_loss(y, estimator.predict_proba(X))``.

    Greater is better, as scikit-learn's scorers: pass it as ``scoring=`` to
    ``cross_val_score``, ``GridSearchCV`` or ``SoftmaxClassifierCV`` for models
    fitted on soft targets (``y`` of shape ``(n_samples, n_classes)``).

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples, n_classes) or (n_samples,)
        Target distributions (or labels ``0 .. n_classes-1``).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from skmax import SoftmaxClassifier
    >>> from skmax.metrics import soft_log_loss_scorer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> t = np.array([[0.9, 0.1], [0.7, 0.3], [0.3, 0.7], [0.1, 0.9]])
    >>> model = SoftmaxClassifier().fit(X, t)
    >>> soft_log_loss_scorer(model, X, t) < 0
    True
    """
    return -soft_log_loss(y, estimator.predict_proba(X), sample_weight=sample_weight)
