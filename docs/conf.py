"""Sphinx configuration for the skmax documentation.

Build with the ``docs`` extra installed (``pip install ".[docs]"``)::

    python -m sphinx -W -b html docs docs/_build/html

The documentation is built against the *installed* ``skmax`` (the source
tree has no compiled kernels): the repository root goes at the *end* of
``sys.path``, after site-packages, only so that the gallery examples can import
``benchmarks.datasets``. To build from an in-place build instead, run with
``PYTHONPATH=.`` after ``python setup.py build_ext --inplace``.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# docs/ itself, for plot_benchmarks.py.
sys.path.append(str(HERE))


def _resolve(entry):
    try:
        return Path(entry or ".").resolve()
    except OSError:
        return None


# ``python -m sphinx`` run from the repository root puts the root first on
# sys.path, where ``skmax/`` (source, no compiled kernels in CI) would shadow
# the installed package: move it to the end, unless PYTHONPATH names it
# explicitly (``PYTHONPATH=.`` after ``setup.py build_ext --inplace``).
# The root stays on the path, last, so that the gallery examples can import
# the dataset loaders of ``benchmarks/datasets.py`` (not part of the package).
if REPO not in {_resolve(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}:
    _root_entries = [p for p in sys.path if _resolve(p) == REPO] or [str(REPO)]
    sys.path[:] = [p for p in sys.path if p not in _root_entries] + _root_entries

import skmax  # noqa: E402

project = "skmax"
author = "skmax developers"
copyright = "skmax developers"
version = release = skmax.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_bench_plots", "Thumbs.db", ".DS_Store",
                    "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json"]
nitpicky = False

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False   # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- MyST (Markdown pages: benchmarks, calibration, sampled softmax) -------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skmax",),
    # Only plot_*.py are executed; examples/demo.py is the README's
    # Quickstart script and is not part of the gallery.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|demo\.py",
    "abort_on_example_error": True,
    "plot_gallery": "True",
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "capture_repr": ("_repr_html_", "__repr__"),
}
# Matplotlib without a display when the examples run.
os.environ.setdefault("MPLBACKEND", "Agg")

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmax {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
}
html_static_path = []

# -- links to scikit-learn without intersphinx (the build works offline) -----
_SKLEARN = "https://scikit-learn.org/stable/"


def _sklearn_links(app, env, node, contnode):
    """Resolve ``:term:`` (scikit-learn glossary) and ``sklearn.*`` objects to
    scikit-learn's online documentation instead of leaving them dangling."""
    from docutils import nodes

    target = node.get("reftarget", "")
    if node.get("refdomain") == "std" and node.get("reftype") == "term":
        url = f"{_SKLEARN}glossary.html#term-{target.replace(' ', '-')}"
    elif node.get("refdomain") == "py" and target.startswith("sklearn."):
        parts = target.split(".")
        # sklearn.x.Y -> modules/generated/sklearn.x.Y.html (methods: page of the class)
        if len(parts) > 3 and parts[-1][:1].islower() and parts[-2][:1].isupper():
            url = f"{_SKLEARN}modules/generated/{'.'.join(parts[:-1])}.html#{target}"
        else:
            url = f"{_SKLEARN}modules/generated/{target}.html"
    else:
        return None
    ref = nodes.reference("", "", internal=False, refuri=url)
    ref.append(contnode)
    return ref


def setup(app):
    from plot_benchmarks import add_benchmark_plots

    app.connect("missing-reference", _sklearn_links)
    app.connect("source-read", add_benchmark_plots)
