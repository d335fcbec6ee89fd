"""skmax: scikit-learn compatible softmax classification and calibration."""

# first: OpenMP's wait policy, read when the kernels load the runtime; then a
# clear ImportError when the compiled kernels are not built
from . import _wait_policy  # noqa: F401, I001
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
from ._softmax_cv import SoftmaxClassifierCV
from ._version import __version__

__all__ = [
    "SoftmaxClassifier",
    "SoftmaxClassifierCV",
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
