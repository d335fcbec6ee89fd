"""skmax: scikit-learn compatible softmax classification and temperature calibration."""

from ._softmax import SoftmaxClassifier
from ._version import __version__

__all__ = ["SoftmaxClassifier", "__version__"]
