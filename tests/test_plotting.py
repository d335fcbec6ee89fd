import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from skmax.metrics import expected_calibration_error  # noqa: E402
from skmax.plotting import ReliabilityDisplay  # noqa: E402


def test_from_estimator_and_predictions(tmp_path):
    X, y = load_iris(return_X_y=True)
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    disp = ReliabilityDisplay.from_estimator(lr, X, y, n_bins=10)
    ece = expected_calibration_error(y, lr.predict_proba(X), n_bins=10)
    assert disp.ece == pytest.approx(ece)
    assert f"{ece:.3f}" in disp.line_.get_label()
    assert disp.hist_ is not None and disp.hist_ax_ is not None
    disp.figure_.savefig(tmp_path / "r.png")
    fig, ax = plt.subplots()
    d2 = ReliabilityDisplay.from_predictions(y, lr.predict_proba(X), pos_label=2, ax=ax, name="lr")
    assert d2.ax_ is ax and d2.line_.get_label().startswith("lr (ECE")
    plt.close("all")


def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skmax\[plot\]"):
        ReliabilityDisplay.from_predictions([0, 1], np.array([[0.5, 0.5], [0.2, 0.8]]))


def test_several_diagrams_on_one_ax_share_diagonal_and_histogram(tmp_path):
    """Issue #20 item 14: a model before and after calibration on one ``ax``."""
    X, y = load_iris(return_X_y=True)
    before = LogisticRegression(C=100, max_iter=1000).fit(X, y).predict_proba(X)
    after = LogisticRegression(C=0.01, max_iter=1000).fit(X, y).predict_proba(X)
    fig, ax = plt.subplots()
    d1 = ReliabilityDisplay.from_predictions(y, before, ax=ax, name="before")
    d2 = ReliabilityDisplay.from_predictions(y, after, ax=ax, name="after")
    labels = ax.get_legend().get_texts()
    assert [t.get_text() for t in labels].count("Perfectly calibrated") == 1
    assert len(labels) == 3
    assert d1.hist_ax_ is d2.hist_ax_ and len(fig.axes) == 2
    # the histogram stays in the lower part of the axes, with ticks only there
    top = max(p.get_height() for p in d2.hist_ax_.patches)
    assert d2.hist_ax_.get_ylim()[1] >= 3 * top
    assert max(d2.hist_ax_.get_yticks()) <= 1.05 * top
    # markers scale with the bins' weights
    for d in (d1, d2):
        sizes = d.markers_.get_sizes()
        weight = np.asarray(d.bin_weight)
        assert np.all(np.diff(sizes[np.argsort(weight)]) >= 0) and sizes.max() > sizes.min()
    fig.savefig(tmp_path / "two.png")
    # a new figure: the second diagram reuses the panel below, no twin axis
    d3 = ReliabilityDisplay.from_predictions(y, before, name="before")
    d4 = ReliabilityDisplay.from_predictions(y, after, ax=d3.ax_, name="after")
    assert len(d3.figure_.axes) == 2 and d4.hist_ax_ is d3.hist_ax_
    assert len(d3.hist_ax_.patches) == len(d3.prob_pred) + len(d4.prob_pred)
    plt.close("all")
