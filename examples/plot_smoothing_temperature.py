"""
Label smoothing, temperature and confidence
===========================================

A nearly unpenalised linear model on the UCI *optical digits* (3,823
training and 1,797 test samples, 64 features, 10 classes) separates the
training set and becomes over-confident: its predicted probabilities are
higher than its accuracy. We look at two remedies and measure them with the
expected calibration error (ECE, defined in the :ref:`user guide
<calibration>`):

* **label smoothing** at training time, which caps the predicted
  probabilities;
* **temperature scaling** after training: dividing the logits by one
  :math:`T > 1` chosen on held-out data, which lowers the confidence without
  changing any prediction.

The data is read from ``../shared/data``; without it the example falls back
to scikit-learn's digits (and says so).
"""

# %%
# Data
# ----
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.datasets import load_train_test
from skmax import SoftmaxClassifier, TemperatureCalibrator
from skmax.metrics import expected_calibration_error

X, X_test, y, y_test, used = load_train_test("optdigits", fallback="digits")
# a held-out validation split for choosing the temperature
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, stratify=y,
                                                  random_state=0)
print(f"dataset {used}: train {X_train.shape}, validation {X_val.shape}, "
      f"test {X_test.shape}")


# %%
# :func:`skmax.metrics.expected_calibration_error` (15 equal-width confidence
# bins by default) measures the calibration; the labels are the digits 0-9,
# which are also the columns of ``predict_proba``.
labels = np.arange(10)


def summary(proba, y_true):
    return (np.mean(proba.argmax(axis=1) == y_true), proba.max(axis=1).mean(),
            expected_calibration_error(y_true, proba, labels=labels),
            log_loss(y_true, proba, labels=labels))


# %%
# Label smoothing
# ---------------
# ``C=1e4`` is almost no penalty. The labels are the digits 0-9, so the
# column index of ``predict_proba`` is the label itself.
print(f"{'label_smoothing':>15} | accuracy | mean confidence |    ECE | log-loss")
probas = {}
for eps in [0.0, 0.02, 0.05, 0.1, 0.2]:
    model = make_pipeline(StandardScaler(),
                          SoftmaxClassifier(C=1e4, label_smoothing=eps, max_iter=300))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning at max_iter: fine here
        model.fit(X_train, y_train)
    probas[eps] = model.predict_proba(X_test)
    acc, conf, ece, ll = summary(probas[eps], y_test)
    print(f"{eps:15.2f} | {acc:8.4f} | {conf:15.4f} | {ece:.4f} | {ll:8.4f}")
    if eps == 0.0:
        plain = model

# %%
# Without smoothing the mean confidence is above the accuracy. Smoothing
# brings it down; too much smoothing makes the model *under*-confident
# (confidence below accuracy), and the ECE rises again.

# %%
# Temperature scaling
# -------------------
# ``decision_function`` returns the logits; the probabilities at temperature
# :math:`T` are ``softmax(logits / T)``. :class:`skmax.TemperatureCalibrator`
# finds the :math:`T` with the smallest log-loss on the validation split (a
# 1-D optimisation); we apply it to the test logits. The curves over a grid
# of temperatures below show what it minimises.
logits_val = plain.decision_function(X_val)
logits_test = plain.decision_function(X_test)
calibrator = TemperatureCalibrator(input="logits", classes=labels).fit(logits_val, y_val)
T_best = calibrator.temperature_
calibrated = calibrator.transform(logits_test)
print(f"temperature fitted on the validation split: T = {T_best:.2f}")

temperatures = np.geomspace(0.5, 20, 60)
val_loss = [log_loss(y_val, softmax(logits_val / T, axis=1), labels=labels)
            for T in temperatures]
test_ece = [expected_calibration_error(y_test, softmax(logits_test / T, axis=1),
                                       labels=labels)
            for T in temperatures]
for name, proba in [("before (T=1)", probas[0.0]), (f"after (T={T_best:.2f})", calibrated)]:
    acc, conf, ece, ll = summary(proba, y_test)
    print(f"{name:>16}: accuracy {acc:.4f}, mean confidence {conf:.4f}, "
          f"ECE {ece:.4f}, log-loss {ll:.4f}")

# %%
# The accuracy is the same before and after: dividing every logit of a row
# by the same :math:`T > 0` keeps its arg-max.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(temperatures, val_loss, label="validation log-loss")
ax1.plot(temperatures, test_ece, label="test ECE")
ax1.axvline(T_best, color="k", ls="--", lw=1, label=f"fitted T = {T_best:.2f}")
ax1.set_xscale("log")
ax1.set_xlabel("temperature T")
ax1.set_title("Temperature scaling of the C=1e4 model")
ax1.legend(fontsize=8)

# Reliability diagram: accuracy against mean confidence per confidence bin.
edges = np.linspace(0, 1, 11)
for name, proba in [("no smoothing", probas[0.0]), ("label_smoothing=0.1", probas[0.1]),
                    (f"temperature {T_best:.2f}", calibrated)]:
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_test
    idx = np.clip(np.digitize(conf, edges) - 1, 0, len(edges) - 2)
    filled = [b for b in range(len(edges) - 1) if np.any(idx == b)]
    ax2.plot([conf[idx == b].mean() for b in filled],
             [correct[idx == b].mean() for b in filled], marker="o", label=name)
ax2.plot([0, 1], [0, 1], color="gray", ls=":", label="perfect calibration")
ax2.set_xlabel("mean confidence in bin")
ax2.set_ylabel("accuracy in bin")
ax2.set_title("Reliability diagram (test set)")
ax2.legend(fontsize=8)
fig.tight_layout()

# %%
# Training with a temperature
# ---------------------------
# ``SoftmaxClassifier(temperature=T)`` uses the temperature while *fitting*
# as well. With a fixed penalty this is the same model as ``temperature=1``
# with ``C / T**2`` (see the :ref:`user guide <objective>`): it changes the
# regularisation, not the calibration after the fact. Only a temperature
# learned on held-out data, as above, calibrates a fitted model.
a = make_pipeline(StandardScaler(), SoftmaxClassifier(C=1.0, temperature=2.0, tol=1e-8,
                                                      max_iter=1000)).fit(X_train, y_train)
b = make_pipeline(StandardScaler(), SoftmaxClassifier(C=0.25, tol=1e-8,
                                                      max_iter=1000)).fit(X_train, y_train)
print("max |proba difference| between temperature=2, C=1 and temperature=1, C=0.25:",
      f"{np.abs(a.predict_proba(X_test) - b.predict_proba(X_test)).max():.1e}")
