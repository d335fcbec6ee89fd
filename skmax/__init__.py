"""skmax: scikit-learn compatible softmax classification and calibration."""

# first: a clear ImportError when the compiled kernels are not built
from . import (
    _check_build,  # noqa: F401
    metrics,
)
from ._calibration import (
    CalibratedSoftmaxClassifier,
    TemperatureCalibratedClassifier,
    TemperatureCalibrator,
    TemperatureScalingWarning,
)
from ._matrix_scaling import (
    CalibrationWarning,
    DirichletCalibrator,
    StructuredMatrixScalingCalibrator,
    VectorScalingCalibrator,
)
from ._softmax import SoftmaxClassifier
from ._version import __version__

__all__ = [
    "SoftmaxClassifier",
    "TemperatureCalibrator",
    "TemperatureCalibratedClassifier",
    "TemperatureScalingWarning",
    "VectorScalingCalibrator",
    "DirichletCalibrator",
    "StructuredMatrixScalingCalibrator",
    "CalibratedSoftmaxClassifier",
    "CalibrationWarning",
    "metrics",
    "__version__",
]
