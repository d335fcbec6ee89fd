"""Reliability diagrams (matplotlib is an optional dependency: ``pip install skmax[plot]``)."""

import numpy as np

from .metrics import calibration_bins, expected_calibration_error, smooth_reliability_curve

__all__ = ["ReliabilityDisplay"]

# gids marking what later diagrams on the same axes reuse
_REFERENCE_GID = "skmax-reliability-diagonal"
_PANEL_GID = "skmax-reliability-histogram-panel"
_TWIN_GID = "skmax-reliability-histogram-twin"
# marker area (points^2) of the heaviest bin
_MARKER_AREA = 49.0
# share of the height of the axes given to a twin-axis histogram
_HIST_HEIGHT = 0.3


def _import_pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib hidden
        raise ImportError(
            "ReliabilityDisplay requires matplotlib, an optional dependency of skmax; "
            "install it with `pip install skmax[plot]` (or `pip install matplotlib`)."
        ) from exc
    return plt


def _find_histogram_axes(ax):
    """The histogram axes of an earlier diagram on ``ax`` (its twin, or the
    panel below it), or None."""
    for other in ax.figure.axes:
        if other is not ax and other.get_gid() in (_PANEL_GID, _TWIN_GID) and (
                ax.get_shared_x_axes().joined(ax, other)):
            return other
    return None


def _fit_histogram_below(hist_ax):
    """Scale a twin-axis histogram into the lower part of the axes, ticks
    only there, so that it stays below the curves' upper region."""
    from matplotlib.ticker import MaxNLocator

    top = max((patch.get_height() for patch in hist_ax.patches), default=0.0)
    if top > 0:
        hist_ax.set_ylim(0, top / _HIST_HEIGHT)
        ticks = MaxNLocator(nbins=3).tick_values(0, top)
        hist_ax.set_yticks([t for t in ticks if 0 <= t <= top * 1.05])


class ReliabilityDisplay:
    """Reliability diagram: accuracy against confidence per bin, with the diagonal,
    a confidence histogram and the ECE in the legend.

    Build it with :meth:`from_predictions` or :meth:`from_estimator`; the
    constructor takes precomputed bins.

    Parameters
    ----------
    prob_pred : ndarray of shape (n_nonempty_bins,)
        Mean confidence per bin.
    prob_true : ndarray of shape (n_nonempty_bins,)
        Accuracy (frequency of being right) per bin.
    bin_weight : ndarray of shape (n_nonempty_bins,)
        Total sample weight per bin (the histogram).
    ece : float
        Expected calibration error on these bins.
    estimator_name : str, default=None
        Name in the legend.
    pos_label : label, default=None
        The class of a one-class diagram; None for top-label.
    smooth_curve : tuple of three ndarrays, default=None
        ``(confidence, accuracy, density)`` of a kernel-smoothed reliability
        curve (:func:`skmax.metrics.smooth_reliability_curve`), drawn beside
        the bins; None draws the bins only.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve (its label is the legend entry).
    markers_ : matplotlib PathCollection
        One marker per bin, its area and opacity growing with the bin's weight.
    smooth_line_ : matplotlib Line2D or None
        The kernel-smoothed curve.
    hist_ : matplotlib BarContainer or None
    ax_ : matplotlib Axes
    hist_ax_ : matplotlib Axes or None
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skmax.plotting import ReliabilityDisplay
    >>> y = [0, 1, 1, 0, 1]
    >>> p = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]]
    >>> disp = ReliabilityDisplay.from_predictions(y, p, n_bins=5, name="model")
    >>> disp.line_.get_label()
    'model (ECE = 0.220)'
    """

    def __init__(self, prob_pred, prob_true, bin_weight, ece, *, estimator_name=None,
                 pos_label=None, smooth_curve=None):
        self.prob_pred = prob_pred
        self.prob_true = prob_true
        self.bin_weight = bin_weight
        self.ece = ece
        self.estimator_name = estimator_name
        self.pos_label = pos_label
        self.smooth_curve = smooth_curve

    def plot(self, ax=None, *, name=None, ref_line=True, show_hist=True, **kwargs):
        """Draw the diagram.

        Several diagrams can share one ``ax`` (a model before and after
        calibration): the diagonal is drawn once, all histograms share one
        axis, and the legend is redrawn to list every curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure with the curve on top and the
            histogram in a panel below. With an ``ax``, the histogram goes in
            the lower part of a twin y-axis of it (the one of an earlier
            diagram on this ``ax``, or the panel below it, when there is one).
        name : str, default=None
            Legend name (overrides ``estimator_name``).
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration (unless ``ax`` has it).
        show_hist : bool, default=True
            Draw the confidence histogram.
        **kwargs : dict
            Passed to ``ax.plot`` for the curve.

        Returns
        -------
        display : ReliabilityDisplay
        """
        plt = _import_pyplot()
        hist_ax = None
        if ax is None:
            if show_hist:
                fig, (ax, hist_ax) = plt.subplots(
                    2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(5, 6)
                )
                hist_ax.set_gid(_PANEL_GID)
            else:
                fig, ax = plt.subplots()
        elif show_hist:
            hist_ax = _find_histogram_axes(ax)
            if hist_ax is None:
                hist_ax = ax.twinx()
                hist_ax.set_gid(_TWIN_GID)
        name = self.estimator_name if name is None else name
        label = f"ECE = {self.ece:.3f}" if name is None else f"{name} (ECE = {self.ece:.3f})"
        if ref_line and not any(line.get_gid() == _REFERENCE_GID for line in ax.lines):
            ax.plot([0, 1], [0, 1], "k:", label="Perfectly calibrated", gid=_REFERENCE_GID)
        weight = np.asarray(self.bin_weight, dtype=np.float64)
        share = weight / weight.max() if weight.size and weight.max() > 0 else weight
        (self.line_,) = ax.plot(self.prob_pred, self.prob_true, **{"label": label, **kwargs})
        # one marker per bin, its area and opacity growing with the bin's
        # weight: a bin of a few samples should not look as sure as a full one
        color = self.line_.get_color()
        self.markers_ = ax.scatter(
            self.prob_pred, self.prob_true, s=_MARKER_AREA * np.maximum(share, 0.05),
            color=color, alpha=0.3 + 0.7 * share, edgecolors=color, zorder=self.line_.get_zorder(),
        )
        self.smooth_line_ = None
        if self.smooth_curve is not None:
            confidence, accuracy, density = self.smooth_curve
            # only where the confidences have mass: elsewhere the ratio is noise
            shown = density >= 0.01 * density.max()
            (self.smooth_line_,) = ax.plot(
                np.where(shown, confidence, np.nan), accuracy, "-",
                color=self.line_.get_color(), alpha=0.8, label="kernel-smoothed")
        what = "Confidence (max probability)" if self.pos_label is None else (
            f"Predicted probability of class {self.pos_label}")
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="Accuracy" if self.pos_label is None
               else f"Frequency of class {self.pos_label}")
        self.hist_ = None
        if hist_ax is not None:
            frac = weight / weight.sum()
            self.hist_ = hist_ax.bar(self.prob_pred, frac, width=0.03, alpha=0.35, color=color,
                                     edgecolor=color)
            if hist_ax.get_gid() == _PANEL_GID:
                hist_ax.set_ylabel("Fraction of samples")
                hist_ax.set_xlabel(what)
            else:
                hist_ax.set_ylabel("Fraction", y=_HIST_HEIGHT / 2)
                _fit_histogram_below(hist_ax)
        if hist_ax is None or hist_ax.get_gid() != _PANEL_GID:
            ax.set_xlabel(what)
        # the legend's location is chosen after every curve and bar is drawn
        ax.legend(loc="best")
        self.ax_, self.hist_ax_, self.figure_ = ax, hist_ax, ax.figure
        return self

    @classmethod
    def from_predictions(
        cls, y_true, y_prob, *, n_bins=15, strategy="uniform", pos_label=None, labels=None,
        sample_weight=None, name=None, ax=None, ref_line=True, show_hist=True, smooth=False,
        **kwargs
    ):
        """Diagram of given probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
            Probabilities (see :func:`skmax.metrics.expected_calibration_error`).
        n_bins : int, default=15
            Number of bins.
        strategy : {'uniform', 'quantile'}, default='uniform'
            Binning strategy.
        pos_label : label, default=None
            None: top-label diagram. A class label: the diagram of that class's
            probability.
        labels : array-like, default=None
            All labels (sorted column order of ``y_prob``).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        name : str, default=None
            Legend name.
        ax : matplotlib Axes, default=None
            Where to draw.
        ref_line, show_hist : bool, default=True
            See :meth:`plot`.
        smooth : bool, default=False
            Also draw the kernel-smoothed reliability curve
            (:func:`skmax.metrics.smooth_reliability_curve`, at the smooth
            ECE's bandwidth), where the confidences have mass.
        **kwargs : dict
            Passed to ``ax.plot``.

        Returns
        -------
        display : ReliabilityDisplay
        """
        _import_pyplot()
        conf, acc, wb = calibration_bins(
            y_true, y_prob, n_bins=n_bins, strategy=strategy, sample_weight=sample_weight,
            labels=labels, pos_label=pos_label,
        )
        ece = float(np.sum(wb * np.abs(acc - conf)) / np.sum(wb))
        if pos_label is None:
            ece = expected_calibration_error(
                y_true, y_prob, n_bins=n_bins, strategy=strategy,
                sample_weight=sample_weight, labels=labels,
            )
        curve = None
        if smooth:
            curve = smooth_reliability_curve(y_true, y_prob, sample_weight=sample_weight,
                                             labels=labels, pos_label=pos_label)[:3]
        disp = cls(conf, acc, wb, ece, estimator_name=name, pos_label=pos_label,
                   smooth_curve=curve)
        return disp.plot(ax=ax, ref_line=ref_line, show_hist=show_hist, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, name=None, **kwargs):
        """Diagram of ``estimator.predict_proba(X)`` against ``y``.

        Parameters
        ----------
        estimator : fitted classifier with ``predict_proba`` and ``classes_``
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        name : str, default=None
            Legend name; the estimator's class name by default.
        **kwargs : dict
            Passed to :meth:`from_predictions`.

        Returns
        -------
        display : ReliabilityDisplay
        """
        _import_pyplot()
        proba = estimator.predict_proba(X)
        name = estimator.__class__.__name__ if name is None else name
        kwargs.setdefault("labels", getattr(estimator, "classes_", None))
        return cls.from_predictions(y, proba, name=name, **kwargs)
