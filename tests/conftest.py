"""Fixtures shared by several test files, and the path to the benchmarks' loaders.

1. The repository root goes at the *end* of ``sys.path``: ``benchmarks.datasets``
   (not part of the package) becomes importable, while an installed skmax (CI
   installs it non-editable) still wins over the source tree.
2. Fixtures here are the ones more than one test file needs; a file's own
   problem shapes stay in that file.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.append(ROOT)


@pytest.fixture
def rng():
    """A fresh seeded generator per test: tests do not share random streams."""
    return np.random.default_rng(0)


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request):
    """Both floating dtypes the kernels are compiled for."""
    return request.param


@pytest.fixture(scope="session")
def classification_data():
    """Standardised 4-class problem (400 x 8) in float64; tests cast it as needed."""
    X, y = make_classification(400, 8, n_informative=5, n_classes=4, random_state=0)
    X = StandardScaler().fit_transform(X)
    X.setflags(write=False)   # shared across tests: nobody may modify them
    y.setflags(write=False)
    return X, y
