"""
Tuning C, label smoothing and the focal term with GridSearchCV
==============================================================

:class:`skmax.SoftmaxClassifier` is an ordinary scikit-learn estimator: it
sits in a :class:`~sklearn.pipeline.Pipeline` after a scaler and its
parameters are searched with :class:`~sklearn.model_selection.GridSearchCV`.
Here we tune the inverse penalty ``C``, ``label_smoothing`` and
``focal_gamma`` on the UCI *pen-based handwritten digits* (7,494 training and
3,498 test samples, 16 features, 10 classes), read from ``../shared/data``
by ``benchmarks/datasets.py``; without that folder the example falls back to the
digits shipped with scikit-learn.
"""

# %%
# Data
# ----
# ``load_train_test`` (``benchmarks/datasets.py``) returns pendigits' own train and
# test files and the name of the data used; with ``fallback="digits"`` it
# loads scikit-learn's digits instead, with a warning, and splits them when
# the pendigits files are missing.

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.datasets import load_train_test
from skmax import SoftmaxClassifier

X_train, X_test, y_train, y_test, used = load_train_test("pendigits", fallback="digits")
print(f"dataset {used}: train {X_train.shape}, test {X_test.shape}, "
      f"{len(np.unique(y_train))} classes")

# %%
# The search
# ----------
# 3 values of ``C`` x 2 of ``label_smoothing`` x 2 of ``focal_gamma``, 3-fold
# cross-validation: 36 fits. ``focal_gamma > 0`` is only allowed with the
# default ``solver='lbfgs'``.
pipe = Pipeline([
    ("scale", StandardScaler()),
    ("clf", SoftmaxClassifier(max_iter=500, n_jobs=1)),
])
param_grid = {
    "clf__C": [0.1, 1.0, 10.0],
    "clf__label_smoothing": [0.0, 0.1],
    "clf__focal_gamma": [0.0, 2.0],
}
search = GridSearchCV(pipe, param_grid, cv=3, scoring="accuracy", n_jobs=2)
search.fit(X_train, y_train)
print("best parameters:", {k.split("__")[1]: v for k, v in search.best_params_.items()})
print(f"best cross-validated accuracy: {search.best_score_:.4f}")

# %%
# All the results, best first. When the best ``C`` lies at the edge of the
# grid (a linear model with 16 features is far from over-fitting 7,494
# samples, so the weakest penalty tends to win), extend the grid that way.
results = pd.DataFrame(search.cv_results_)
columns = ["param_clf__C", "param_clf__label_smoothing", "param_clf__focal_gamma",
           "mean_test_score", "std_test_score", "mean_fit_time"]
table = results[columns].sort_values("mean_test_score", ascending=False)
table.columns = ["C", "label_smoothing", "focal_gamma", "cv accuracy", "std", "fit s"]
print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

# %%
# Cross-validated accuracy as a function of ``C``, one line per combination
# of label smoothing and focal exponent:
fig, ax = plt.subplots(figsize=(6, 4))
for (eps, gamma), group in table.groupby(["label_smoothing", "focal_gamma"]):
    group = group.sort_values("C")
    ax.errorbar(group["C"].astype(float), group["cv accuracy"], yerr=group["std"],
                marker="o", capsize=3, label=f"label_smoothing={eps}, focal_gamma={gamma}")
ax.set_xscale("log")
ax.set_xlabel("C (inverse penalty)")
ax.set_ylabel("3-fold CV accuracy")
ax.set_title(f"GridSearchCV on {used}")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Test set
# --------
# ``GridSearchCV`` refits the best pipeline on the whole training set.
# Label smoothing caps the predicted probabilities, which shows in the
# log-loss more than in the accuracy.
best = search.best_estimator_
print(f"test accuracy {accuracy_score(y_test, best.predict(X_test)):.4f}, "
      f"test log-loss {log_loss(y_test, best.predict_proba(X_test)):.4f}")
