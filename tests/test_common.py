"""scikit-learn's estimator checks over every public estimator."""

import warnings

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmax import (
    CalibratedSoftmaxClassifier,
    CalibrationWarning,
    DirichletCalibrator,
    SoftmaxClassifier,
    StructuredMatrixScalingCalibrator,
    TemperatureCalibratedClassifier,
    TemperatureCalibrator,
    TemperatureScalingWarning,
    VectorScalingCalibrator,
)


def _estimators():
    return [
        SoftmaxClassifier(),
        SoftmaxClassifier(solver="newton-cg"),
        SoftmaxClassifier(temperature=2.0, label_smoothing=0.1, focal_gamma=1.0),
        SoftmaxClassifier(solver="adam", learning_rate_init=0.05, random_state=0),
        SoftmaxClassifier(solver="sgd", learning_rate_init=0.01, random_state=0),
        # n_sampled >= n_classes - 1 (the checks use 2 or 3 classes): every class is
        # a candidate, the full softmax through the sampled kernel
        SoftmaxClassifier(solver="adam", n_sampled=2, learning_rate_init=0.05, random_state=0),
        # one candidate really samples. On the checks' tiny data one candidate is
        # drawn per epoch, so the epoch's sampled loss is noisy and the tol-based
        # stopping rule fires early (check_class_weight_classifiers); tol=0 stops
        # only after n_iter_no_change epochs without a new minimum.
        SoftmaxClassifier(
            solver="adam", n_sampled=1, learning_rate_init=0.05, tol=0.0, random_state=0
        ),
        TemperatureCalibrator(),
        VectorScalingCalibrator(tol=1e-10),   # tight: weighted == repeated rows to 1e-7
        DirichletCalibrator(),
        DirichletCalibrator(cv=2, alphas=[1e-2, 1.0]),
        StructuredMatrixScalingCalibrator(),
        StructuredMatrixScalingCalibrator(structure="vector"),
        TemperatureCalibratedClassifier(LogisticRegression(tol=1e-10, max_iter=10000), cv=3),
        CalibratedSoftmaxClassifier(LogisticRegression(tol=1e-10, max_iter=10000), cv=3,
                                    method="sms"),
    ]


def _expected_failed(estimator):
    calibrators = (TemperatureCalibrator, VectorScalingCalibrator, DirichletCalibrator,
                   StructuredMatrixScalingCalibrator)
    if isinstance(estimator, calibrators):
        # These checks fit make_blobs data with 2 feature columns and 3 labels. For a
        # calibrator the columns are the classes' scores: 2 scores cannot be
        # calibrated into 3 classes, so it raises a clear ValueError by design.
        reason = "2 score columns for 3 classes: rejected with a clear ValueError by design"
        failed = {
            "check_estimators_overwrite_params": reason,
            "check_estimators_fit_returns_self": reason,
            "check_readonly_memmap_input": reason,
        }
        weights = "check_sample_weight_equivalence_on_dense_data"
        if isinstance(estimator, StructuredMatrixScalingCalibrator):
            failed[weights] = "SMS strengths scale with the number of rows, by design"
        elif getattr(estimator, "cv", None) is not None:
            failed[weights] = "repeated rows change the cross-validation folds"
        elif isinstance(estimator, DirichletCalibrator):
            # the stiff K x K problem (see skmax/_matrix_scaling.py, note 3):
            # L-BFGS's stopping point differs by ~1e-7 in probability
            failed[weights] = "L-BFGS stopping point: weighted and repeated fits agree to ~1e-7"
        return failed
    if isinstance(estimator, CalibratedSoftmaxClassifier) and estimator.method == "sms":
        reason = "SMS strengths scale with the number of rows, by design"
        return {f"check_sample_weight_equivalence_on_{kind}_data": reason
                for kind in ("dense", "sparse")}
    return {}


@parametrize_with_checks(_estimators(), expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        # the checks' random data is sometimes separable: the calibrator warns
        warnings.simplefilter("ignore", TemperatureScalingWarning)
        warnings.simplefilter("ignore", CalibrationWarning)
        check(estimator)
