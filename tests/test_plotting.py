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
