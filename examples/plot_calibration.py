"""
Temperature scaling of a gradient-boosting model and an overfit classifier
==========================================================================

Calibrate a :class:`~sklearn.ensemble.HistGradientBoostingClassifier` and an
overfit softmax classifier with :class:`skmax.TemperatureCalibratedClassifier`,
print the expected calibration error (ECE) and negative log-likelihood before
and after, and save a reliability diagram as ``calibration_reliability.png``
(or the path given as the first argument).

Data: UCI *letter* from ``../shared/data/letter`` when present, else
scikit-learn's digits (the script says which).
"""

# %%
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from skmax import TemperatureCalibratedClassifier
from skmax.metrics import expected_calibration_error
from skmax.plotting import ReliabilityDisplay

try:  # the lead's SoftmaxClassifier; LogisticRegression with a huge C otherwise
    from skmax import SoftmaxClassifier

    overfit = SoftmaxClassifier(C=1e6)
except ImportError:
    from sklearn.linear_model import LogisticRegression

    overfit = LogisticRegression(C=1e6, max_iter=100)

# %%
# Data
here = os.path.dirname(os.path.abspath(__file__)) if "__file__" in globals() else os.getcwd()
letter = os.path.join(here, "..", "..", "shared", "data", "letter", "letter-recognition.data")
if os.path.exists(letter):
    raw = np.loadtxt(letter, delimiter=",", dtype=str)
    X, y, name = raw[:, 1:].astype(float), raw[:, 0], "letter"
else:
    X, y = load_digits(return_X_y=True)
    name = "digits"
    print("letter data not found; using scikit-learn's digits instead")
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
print(f"dataset: {name}, train {Xtr.shape}, test {Xte.shape}")

# %%
# Fit, calibrate, compare
models = {
    "HistGradientBoosting": HistGradientBoostingClassifier(max_iter=20, random_state=0),
    "overfit softmax": overfit,
}
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, (label, model) in zip(axes, models.items()):
    p0 = model.fit(Xtr, ytr).predict_proba(Xte)
    cal = TemperatureCalibratedClassifier(model, cv=2).fit(Xtr, ytr)
    p1 = cal.predict_proba(Xte)
    print(
        f"{label:>22}: ECE {expected_calibration_error(yte, p0):.4f} -> "
        f"{expected_calibration_error(yte, p1):.4f}, NLL {log_loss(yte, p0):.4f} -> "
        f"{log_loss(yte, p1):.4f} (T = {cal.temperatures_[0]:.3f})"
    )
    ReliabilityDisplay.from_predictions(yte, p0, name="before", ax=ax, show_hist=False)
    ReliabilityDisplay.from_predictions(yte, p1, name="after", ax=ax, ref_line=False)
    ax.set_title(label)
fig.tight_layout()
out = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1].endswith(".png") else "calibration_reliability.png"
fig.savefig(out, dpi=100)
print(f"saved {out}")
