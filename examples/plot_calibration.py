"""
Temperature scaling of gradient boosting, a random forest and an overfit model
==============================================================================

Three classifiers that are miscalibrated in different ways are calibrated
with :class:`skmax.TemperatureCalibrator`, one temperature :math:`T` each,
fitted on a held-out calibration split:

* a :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (its
  ``decision_function`` gives the logits);
* a :class:`~sklearn.ensemble.RandomForestClassifier` (only probabilities:
  the calibrator works on their logarithms);
* a :class:`~skmax.SoftmaxClassifier` with almost no penalty on quadratic
  features of a small training set, which overfits and is over-confident.

We print the expected calibration error (ECE,
:func:`skmax.metrics.expected_calibration_error`) and the negative
log-likelihood (NLL) on a test split before and after, and draw reliability
diagrams with :class:`skmax.plotting.ReliabilityDisplay`. Dividing the scores
by :math:`T` keeps every arg-max, so the accuracy does not change.

Data: UCI *letter* (20,000 samples, 16 features, 26 classes) from the data
folder (see ``benchmarks/datasets.py``); without it the example falls back to
scikit-learn's digits and says so.
"""

# %%
# Data
# ----
# Three splits: the models are trained on the first, the temperature is fitted
# on the second and everything is measured on the third.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from threadpoolctl import threadpool_limits

from benchmarks.datasets import get_data_home, load_dataset
from skmax import SoftmaxClassifier, TemperatureCalibrator
from skmax.metrics import expected_calibration_error
from skmax.plotting import ReliabilityDisplay

with warnings.catch_warnings():   # the fallback is announced below
    warnings.simplefilter("ignore", UserWarning)
    X, y, used = load_dataset("letter", fallback="digits")
if used != "letter":
    print(f"NOTE: letter not found in {get_data_home()}, using scikit-learn's {used!r} instead.")
X_train, X_rest, y_train, y_rest = train_test_split(X, y, train_size=0.5, stratify=y,
                                                    random_state=0)
X_cal, X_test, y_cal, y_test = train_test_split(X_rest, y_rest, test_size=0.5,
                                                stratify=y_rest, random_state=0)
labels = np.unique(y)
print(f"dataset {used}: {len(labels)} classes, train {X_train.shape}, "
      f"calibration {X_cal.shape}, test {X_test.shape}")

# %%
# Models
# ------
# The softmax model sees only 1,000 training samples, with all degree-2
# products of the features and ``C=1e4`` (almost no penalty).
models = {
    "HistGradientBoosting": HistGradientBoostingClassifier(max_iter=50, random_state=0),
    "RandomForest": RandomForestClassifier(n_estimators=100, min_samples_leaf=2,
                                           n_jobs=2, random_state=0),
    "overfit SoftmaxClassifier": make_pipeline(
        StandardScaler(), PolynomialFeatures(2), StandardScaler(),
        SoftmaxClassifier(C=1e4, max_iter=300)),
}
n_small = 1000

# %%
# Calibration
# -----------
# ``decision_function`` (logits) when the model has it, else
# ``predict_proba``; ``input='auto'`` tells them apart. ``classes=`` names
# the score columns (the models' ``classes_``). The models are small, so they
# run on one OpenMP thread (gradient boosting's many short parallel regions
# become very slow when the cores are shared with other work).
results = {}
openmp_1 = threadpool_limits(limits=1, user_api="openmp")  # restored below
for name, model in models.items():
    n = n_small if "Softmax" in name else len(y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning of the overfit model
        model.fit(X_train[:n], y_train[:n])
    method = "decision_function" if hasattr(model, "decision_function") else "predict_proba"
    score = getattr(model, method)
    calibrator = TemperatureCalibrator(classes=model.classes_).fit(score(X_cal), y_cal)
    before = model.predict_proba(X_test)
    after = calibrator.transform(score(X_test))
    results[name] = before, after
    print(f"{name} ({method}, read as {calibrator.input_kind_}): "
          f"T = {calibrator.temperature_:.3f}, "
          f"accuracy {np.mean(model.classes_[before.argmax(1)] == y_test):.3f} -> "
          f"{np.mean(model.classes_[after.argmax(1)] == y_test):.3f}\n"
          f"    ECE {expected_calibration_error(y_test, before, labels=labels):.4f} -> "
          f"{expected_calibration_error(y_test, after, labels=labels):.4f}, "
          f"NLL {log_loss(y_test, before, labels=labels):.4f} -> "
          f"{log_loss(y_test, after, labels=labels):.4f}")
openmp_1.restore_original_limits()

# %%
# :math:`T > 1` softens over-confident probabilities (the overfit model);
# :math:`T < 1` sharpens under-confident ones (a random forest averages its
# trees, which pulls the probabilities away from 0 and 1); :math:`T` close to
# 1 means the model was nearly calibrated already (gradient boosting, on
# letter). The temperature minimises the NLL on the calibration split; on the
# test split the NLL and ECE of the forest and of the overfit model (on letter)
# drop sharply, while for a model that was already calibrated they barely
# move, and may get slightly worse.
#
# Reliability diagrams
# --------------------
# Accuracy against mean confidence in 15 confidence bins; below the diagonal
# is over-confident, above under-confident. The histogram shows where the
# calibrated confidences fall.
fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
for ax, (name, (before, after)) in zip(axes, results.items(), strict=True):
    ReliabilityDisplay.from_predictions(y_test, before, labels=labels, name="before",
                                        ax=ax, show_hist=False)
    ReliabilityDisplay.from_predictions(y_test, after, labels=labels, name="after", ax=ax)
    ax.set_title(name)
fig.tight_layout()
plt.show()
