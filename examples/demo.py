"""
skmax in two minutes: fit, tune, calibrate
==========================================

Fits a :class:`skmax.SoftmaxClassifier` next to scikit-learn's
``LogisticRegression`` on the handwritten digits that ship with
scikit-learn, tunes it with ``GridSearchCV``, then calibrates an
over-confident model with :class:`skmax.TemperatureCalibrator` and prints
the log-loss and expected calibration error before and after.
"""

# %%
# Data: 1,797 8x8 digit images, 10 classes (shipped with scikit-learn).
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmax import SoftmaxClassifier, TemperatureCalibrator
from skmax.metrics import expected_calibration_error

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y,
                                                    random_state=0)

# %%
# Fit: the same model as LogisticRegression at the same C (best of 3 fits; on
# data this small both are quick; docs/benchmarks.md compares them on large
# data).
for name, clf in [("LogisticRegression", LogisticRegression(C=0.1, max_iter=1000)),
                  ("SoftmaxClassifier", SoftmaxClassifier(C=0.1, max_iter=1000))]:
    model = make_pipeline(StandardScaler(), clf)
    seconds = np.inf
    for _ in range(3):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = min(seconds, time.perf_counter() - start)
    print(f"{name:>20}: fit {seconds * 1e3:6.1f} ms, "
          f"test accuracy {accuracy_score(y_test, model.predict(X_test)):.3f}, "
          f"test log-loss {log_loss(y_test, model.predict_proba(X_test)):.3f}")

# %%
# Tune: C, label smoothing and the focal term with GridSearchCV.
search = GridSearchCV(
    make_pipeline(StandardScaler(), SoftmaxClassifier(max_iter=1000)),
    {
        "softmaxclassifier__C": [0.03, 0.3, 3.0],
        "softmaxclassifier__label_smoothing": [0.0, 0.1],
        "softmaxclassifier__focal_gamma": [0.0, 2.0],
    },
    cv=3,
    n_jobs=2,
).fit(X_train, y_train)
best = {k.split("__")[1]: v for k, v in search.best_params_.items()}
print(f"\nGridSearchCV best {best}: cv accuracy {search.best_score_:.3f}, "
      f"test accuracy {search.score(X_test, y_test):.3f}")

# %%
# Calibrate: a nearly unpenalised model is over-confident; learn one
# temperature on held-out scores and apply it to the test scores.
X_fit, X_cal, y_fit, y_cal = train_test_split(X_train, y_train, test_size=0.3,
                                              stratify=y_train, random_state=0)
overfit = make_pipeline(StandardScaler(), SoftmaxClassifier(C=1e4, max_iter=1000))
overfit.fit(X_fit, y_fit)
calibrator = TemperatureCalibrator().fit(overfit.decision_function(X_cal), y_cal)
before = overfit.predict_proba(X_test)
after = calibrator.transform(overfit.decision_function(X_test))
print(f"\nTemperature learned: T = {calibrator.temperature_:.2f}")
for label, proba in [("before", before), ("after", after)]:
    print(f"{label:>7} calibration: log-loss {log_loss(y_test, proba):.3f}, "
          f"ECE {expected_calibration_error(y_test, proba):.3f}, "
          f"accuracy {accuracy_score(y_test, np.argmax(proba, axis=1)):.3f}")
