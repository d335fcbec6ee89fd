"""skmax: scikit-learn compatible softmax classification and temperature calibration."""

from . import metrics
from ._calibration import (
    TemperatureCalibratedClassifier,
    TemperatureCalibrator,
    TemperatureScalingWarning,
)
from ._softmax import SoftmaxClassifier
from ._softmax_cv import SoftmaxClassifierCV
from ._version import __version__

__all__ = [
    "SoftmaxClassifier",
    "SoftmaxClassifierCV",
    "TemperatureCalibrator",
    "TemperatureCalibratedClassifier",
    "TemperatureScalingWarning",
    "metrics",
    "__version__",
]
