"""skmax: scikit-learn compatible softmax classification and temperature calibration."""

from ._version import __version__

__all__ = ["__version__"]
