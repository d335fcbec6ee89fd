"""scikit-learn's estimator checks over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmax import SoftmaxClassifier


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
    ]


@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
