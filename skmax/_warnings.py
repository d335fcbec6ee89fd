"""Warnings that point at the user's call.

A fixed ``stacklevel`` breaks whenever the call path changes (a solver called
from the estimator, the estimator from scikit-learn's ``_fit_context`` or a
meta-estimator), and the warning then names a library line. ``warn`` instead
skips every frame inside skmax, scikit-learn and joblib (which runs
scikit-learn's parallel loops), so it names the line of the user's code that
called into them.
"""

import os
import sys
import warnings

import joblib
import sklearn

_INTERNAL_DIRS = tuple(
    os.path.dirname(os.path.abspath(module.__file__)) + os.sep
    for module in (sys.modules[__package__], sklearn, joblib)
)


def warn(message, category):
    """``warnings.warn`` with the stack level of the first frame outside skmax,
    scikit-learn and joblib (the outermost frame, in a worker thread)."""
    frame, level = sys._getframe(1), 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
