"""Reliability diagrams (matplotlib is an optional dependency: ``pip install skmax[plot]``)."""

import numpy as np

from .metrics import calibration_bins, expected_calibration_error, smooth_reliability_curve

__all__ = ["ReliabilityDisplay"]


def _import_pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib hidden
        raise ImportError(
            "ReliabilityDisplay requires matplotlib, an optional dependency of skmax; "
            "install it with `pip install skmax[plot]` (or `pip install matplotlib`)."
        ) from exc
    return plt


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

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure with the curve on top and the
            histogram in a panel below. With an ``ax``, the histogram goes on a
            twin y-axis of it.
        name : str, default=None
            Legend name (overrides ``estimator_name``).
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.
        show_hist : bool, default=True
            Draw the confidence histogram.
        **kwargs : dict
            Passed to ``ax.plot`` for the curve.

        Returns
        -------
        display : ReliabilityDisplay
        """
        plt = _import_pyplot()
        hist_ax, separate_panel = None, False
        if ax is None:
            if show_hist:
                fig, (ax, hist_ax) = plt.subplots(
                    2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}, figsize=(5, 6)
                )
                separate_panel = True
            else:
                fig, ax = plt.subplots()
        elif show_hist:
            hist_ax = ax.twinx()
        name = self.estimator_name if name is None else name
        label = f"ECE = {self.ece:.3f}" if name is None else f"{name} (ECE = {self.ece:.3f})"
        if ref_line:
            ax.plot([0, 1], [0, 1], "k:", label="Perfectly calibrated")
        line_kwargs = {"marker": "s", "label": label, **kwargs}
        (self.line_,) = ax.plot(self.prob_pred, self.prob_true, **line_kwargs)
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
        ax.legend(loc="upper left")
        self.hist_ = None
        ax.set_xlabel(what)
        if hist_ax is not None:
            frac = np.asarray(self.bin_weight) / np.sum(self.bin_weight)
            self.hist_ = hist_ax.bar(
                self.prob_pred, frac, width=0.03, alpha=0.4, color=self.line_.get_color()
            )
            hist_ax.set_ylabel("Fraction of samples")
            if separate_panel:
                hist_ax.set_xlabel(what)
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
