"""Build the compiled kernels; all package metadata lives in pyproject.toml.

OpenMP is used when a test compile shows the compiler supports it; otherwise the
kernels are built serially (same results, one thread) and a warning says so.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _openmp_flags(compiler_cmd):
    """Return (compile_args, link_args) for OpenMP, or None if a test compile fails."""
    if sys.platform == "win32":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    code = (
        "#include <omp.h>\n"
        "int main(void) { int n = 0;\n"
        "#pragma omp parallel reduction(+:n)\n"
        "n += 1; return omp_get_max_threads() > 0 && n > 0 ? 0 : 1; }\n"
    )
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "check_openmp.c")
        with open(src, "w") as f:
            f.write(code)
        for cflags, lflags in candidates:
            cmd = [*compiler_cmd, *cflags, src, "-o", os.path.join(tmp, "check_openmp"), *lflags]
            try:
                ok = subprocess.run(cmd, capture_output=True).returncode == 0
            except OSError:
                ok = False
            if ok:
                return cflags, lflags
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None


class BuildExtWithOpenMP(build_ext):
    def build_extensions(self):
        compiler_cmd = list(getattr(self.compiler, "compiler_so", None) or ["cc"])[:1]
        flags = None if os.environ.get("SKMAX_NO_OPENMP") else _openmp_flags(compiler_cmd)
        if flags is None:
            warnings.warn(
                "skmax: the C compiler does not support OpenMP; building the kernels "
                "serially (correct results, one thread).",
                stacklevel=1,
            )
        for ext in self.extensions:
            if self.compiler.compiler_type != "msvc":
                # no-trapping-math: the kernels never read floating-point
                # exception flags, and it lets gcc vectorise the branch-free
                # exp (its clamps are compare-and-selects)
                ext.extra_compile_args += ["-O3", "-fno-trapping-math"]
            if flags is not None:
                ext.extra_compile_args += flags[0]
                ext.extra_link_args += flags[1]
        super().build_extensions()


# one extension per kernel module; they share skmax/_row_kernels.pxd and
# skmax/_fast_exp.h (shipped as package data, so an sdist builds)
KERNEL_MODULES = ["_blas", "_kernels", "_temperature_kernels", "_minibatch_kernels",
                  "_sparse_kernels"]

extensions = [
    Extension(
        f"skmax.{name}",
        [f"skmax/{name}.pyx"],
        include_dirs=[np.get_include(), "skmax"],
        depends=["skmax/_row_kernels.pxd", "skmax/_blas.pxd", "skmax/_fast_exp.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
    cmdclass={"build_ext": BuildExtWithOpenMP},
)
