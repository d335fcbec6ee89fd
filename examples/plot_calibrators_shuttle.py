"""
Beyond one temperature: vector, Dirichlet and structured matrix scaling
=======================================================================

Temperature scaling divides every logit by one number. That is the right
tool when a model is equally over- or under-confident on every class; it is
the wrong one when the miscalibration differs from class to class.

The UCI *Statlog shuttle* data shows it. Its 7 classes are very imbalanced
(class 1 holds 78% of the rows, classes 2, 6 and 7 fewer than 0.1% each) and
a gradient-boosted model is almost always right and very confident. A handful
of confidently *wrong* rows then dominate the negative log-likelihood: the
NLL-optimal temperature softens them, and every one of the thousands of
confident correct predictions is flattened with them.

The richer calibrators give each class its own correction:

* :class:`skmax.VectorScalingCalibrator`: a scale and an intercept per class;
* :class:`skmax.DirichletCalibrator`: a full ``K x K`` matrix on the
  log-probabilities with off-diagonal and intercept regularisation (ODIR);
* :class:`skmax.StructuredMatrixScalingCalibrator`: SMS, the matrix with a
  structured ridge penalty after temperature scaling and a uniform mixture.

The data is read from the data folder (see ``benchmarks/datasets.py``);
without it the example falls back to scikit-learn's digits (and says so).
"""

# %%
# A confident model and a held-out calibration set
# ------------------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from benchmarks.datasets import load_train_test
from skmax import (
    DirichletCalibrator,
    StructuredMatrixScalingCalibrator,
    TemperatureCalibrator,
    VectorScalingCalibrator,
)
from skmax.metrics import expected_calibration_error, smooth_calibration_error
from skmax.plotting import ReliabilityDisplay

X_train, X_test, y_train, y_test, used = load_train_test("shuttle", fallback="digits")
classes, y_all = np.unique(np.concatenate([y_train, y_test]), return_inverse=True)
y_train, y_test = y_all[: len(y_train)], y_all[len(y_train):]
X_fit, X_cal, y_fit, y_cal = train_test_split(X_train, y_train, test_size=0.4,
                                              random_state=0)
model = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(X_fit, y_fit)
# the model's raw scores (per-class logits): what the calibrators map
scores_cal, scores_test = model.decision_function(X_cal), model.decision_function(X_test)
print(f"dataset {used}: model {len(y_fit)}, calibration {len(y_cal)}, test {len(y_test)} rows")

# %%
# Why one temperature fails
# -------------------------
# The calibration rows the model gets wrong with a probability of the true
# class below 1e-6 are few, but each costs more than 14 nats of NLL. The
# NLL-optimal single temperature spreads their cost over every row.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    p_cal = np.exp(scores_cal - scores_cal.max(axis=1, keepdims=True))
p_cal /= p_cal.sum(axis=1, keepdims=True)
p_true = p_cal[np.arange(len(y_cal)), y_cal]
print(f"confidently wrong calibration rows: {np.sum(p_true < 1e-6)} of {len(y_cal)}")
temperature = TemperatureCalibrator().fit(scores_cal, y_cal)
print(f"fitted temperature: T = {temperature.temperature_:.1f}")

# %%
# Four calibrators, fitted on the same rows
# -----------------------------------------
# The rarest class may have no calibration row at all: the richer maps say so
# with a :class:`~skmax.CalibrationWarning` (its parameters then come from the
# penalty alone) and still fit.
calibrators = {
    "temperature": temperature,
    "vector": VectorScalingCalibrator().fit(scores_cal, y_cal),
    "Dirichlet (ODIR, CV)": DirichletCalibrator(cv=3).fit(scores_cal, y_cal),
    "SMS": StructuredMatrixScalingCalibrator().fit(scores_cal, y_cal),
}
uncalibrated = model.predict_proba(X_test)
probabilities = {"uncalibrated": uncalibrated}
probabilities.update({name: cal.transform(scores_test) for name, cal in calibrators.items()})
labels = np.arange(len(classes))
print(f"{'':22s} {'NLL':>8s} {'ECE':>8s} {'smooth ECE':>10s}")
for name, P in probabilities.items():
    print(f"{name:22s} {log_loss(y_test, P, labels=labels):8.4f} "
          f"{expected_calibration_error(y_test, P, labels=labels):8.4f} "
          f"{smooth_calibration_error(y_test, P, labels=labels):10.4f}")

# %%
# Reliability diagrams
# --------------------
# Top-label accuracy against confidence, per bin (points) and kernel-smoothed
# (line). The temperature pulls every confident prediction down to about
# 1/K; the per-class maps leave the confident correct predictions alone.
fig, axes = plt.subplots(1, len(probabilities), figsize=(4 * len(probabilities), 4),
                         sharey=True)
for ax, (name, P) in zip(axes, probabilities.items()):
    ReliabilityDisplay.from_predictions(y_test, P, labels=labels, n_bins=10, name=name,
                                        ax=ax, smooth=True)
    ax.set_title(name)
fig.tight_layout()
plt.show()

# %%
# The temperature scores worse than the uncalibrated model on every measure
# here; the per-class maps bring the NLL and the ECE well below it, SMS most.
