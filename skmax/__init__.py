"""skmax: scikit-learn compatible softmax classification and temperature calibration."""

from . import metrics
from ._calibration import TemperatureCalibratedClassifier, TemperatureCalibrator
from ._version import __version__

__all__ = ["__version__", "TemperatureCalibrator", "TemperatureCalibratedClassifier", "metrics"]
