"""skmax: scikit-learn compatible softmax classification and temperature calibration."""

# first: a clear ImportError when the compiled kernels are not built
from . import (
    _check_build,  # noqa: F401
    metrics,
)
from ._calibration import (
    TemperatureCalibratedClassifier,
    TemperatureCalibrator,
    TemperatureScalingWarning,
)
from ._softmax import SoftmaxClassifier
from ._version import __version__

__all__ = [
    "SoftmaxClassifier",
    "TemperatureCalibrator",
    "TemperatureCalibratedClassifier",
    "TemperatureScalingWarning",
    "metrics",
    "__version__",
]
