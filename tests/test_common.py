"""scikit-learn's estimator checks over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmax import SoftmaxClassifier


def _estimators():
    return [
        SoftmaxClassifier(),
        SoftmaxClassifier(solver="newton-cg"),
        SoftmaxClassifier(temperature=2.0, label_smoothing=0.1, focal_gamma=1.0),
        SoftmaxClassifier(solver="adam", learning_rate_init=0.05, random_state=0),
        SoftmaxClassifier(solver="sgd", learning_rate_init=0.2, random_state=0),
        # 2 candidates: the full softmax on 3 classes; 1 candidate really samples
        SoftmaxClassifier(solver="adam", n_sampled=2, learning_rate_init=0.05, random_state=0),
        SoftmaxClassifier(solver="adam", n_sampled=1, learning_rate_init=0.05, random_state=0),
    ]


@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
