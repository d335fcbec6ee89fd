"""A clear error when skmax's compiled kernels are missing.

Importing skmax from a source tree whose kernels were never built used to fail
deep inside the package, with a misleading "circular import" message. Every
``.pyx`` next to this file must have its compiled extension for this Python;
the check runs when this module is imported, first thing in ``skmax/__init__``.
"""

import os
from importlib.machinery import EXTENSION_SUFFIXES


def check_build():
    """Raise an ImportError saying how to fix it if a kernel is not built."""
    here = os.path.dirname(os.path.abspath(__file__))
    missing = [
        name[:-4] for name in sorted(os.listdir(here))
        if name.endswith(".pyx") and not any(
            os.path.exists(os.path.join(here, name[:-4] + suffix))
            for suffix in EXTENSION_SUFFIXES)
    ]
    if missing:
        raise ImportError(
            f"skmax's compiled kernels ({', '.join(missing)}) are not built in {here} "
            "for this Python. You are probably importing skmax from its source tree: "
            "build the kernels in place there (`python setup.py build_ext --inplace`, "
            "or `pip install -e .`), or run Python from another folder so that the "
            "installed skmax is imported."
        )


check_build()
