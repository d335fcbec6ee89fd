"""The documentation covers the public API and the docstring examples run.

Runs against the installed package (``import skmax...``); only the API page
is read from the source tree (``docs/api.rst``).
"""

import doctest
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import skmax

API_RST = Path(__file__).resolve().parent.parent / "docs" / "api.rst"

# Public submodules documented in the API reference; the optional ones are
# checked when they are importable (they come from other branches).
SUBMODULES = ["skmax.metrics", "skmax.plotting"]
# Modules whose docstrings are run as doctests.
DOCTEST_MODULES = ["skmax._softmax", "skmax._calibration", "skmax.metrics", "skmax.plotting"]


def _strip_rst_comments(text):
    """Drop RST comments (``..`` not followed by a directive, target or
    substitution) and their indented bodies."""
    out, in_comment = [], False
    for line in text.splitlines():
        if in_comment:
            if not line.strip() or line[:1].isspace():
                continue
            in_comment = False
        if re.match(r"^\.\.(\s|$)", line) and not re.match(r"^\.\. (\S+::|_|\|)", line):
            in_comment = True
            continue
        out.append(line)
    return "\n".join(out)


def _autosummary_entries(text):
    """Fully qualified names listed in the autosummary blocks of ``text``."""
    names, module, in_block = set(), None, False
    for line in _strip_rst_comments(text).splitlines():
        m = re.match(r"^\.\. (?:currentmodule|module|py:currentmodule)::\s*(\S+)", line)
        if m:
            module, in_block = m.group(1), False
            continue
        if re.match(r"^\.\. autosummary::", line):
            in_block = True
            continue
        if in_block:
            if line.strip() and not line[:1].isspace():
                in_block = False
            elif line.strip() and not line.strip().startswith(":"):
                name = line.strip()
                names.add(name if name.startswith("skmax.") else f"{module}.{name}")
    return names


def _public_names(module):
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [n for n, obj in vars(module).items()
            if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and getattr(obj, "__module__", "").startswith(module.__name__)]


def _optional_module(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def test_strip_rst_comments():
    text = "a\n..\n   hidden\n\n   more\n.. autosummary::\n   kept\n.. note: hidden\nb"
    assert _strip_rst_comments(text).split() == ["a", "..", "autosummary::", "kept", "b"]


def test_every_public_name_in_api_reference():
    text = API_RST.read_text(encoding="utf-8")
    entries = _autosummary_entries(text)
    expected = [f"skmax.{n}" for n in skmax.__all__ if n != "__version__"]
    for modname in SUBMODULES:
        module = _optional_module(modname)
        if module is not None:
            expected += [f"{modname}.{n}" for n in _public_names(module)]
    missing = sorted(set(expected) - entries)
    assert not missing, f"public names missing from docs/api.rst autosummary: {missing}"
    assert "__version__" in _strip_rst_comments(text)


def test_api_reference_lists_only_existing_names():
    for qualname in _autosummary_entries(API_RST.read_text(encoding="utf-8")):
        modname, name = qualname.rsplit(".", 1)
        assert hasattr(importlib.import_module(modname), name), qualname


def test_every_public_object_has_examples():
    objects = [(f"skmax.{n}", getattr(skmax, n)) for n in skmax.__all__ if n != "__version__"]
    for modname in SUBMODULES:
        module = _optional_module(modname)
        if module is not None:
            objects += [(f"{modname}.{n}", getattr(module, n)) for n in _public_names(module)]
    no_examples = [name for name, obj in objects
                   if "Examples\n" not in (inspect.getdoc(obj) or "")
                   or ">>>" not in (inspect.getdoc(obj) or "")]
    assert not no_examples, f"public objects without an Examples section: {no_examples}"


@pytest.mark.parametrize("modname", DOCTEST_MODULES)
def test_docstring_examples(modname):
    module = _optional_module(modname)
    if module is None:
        pytest.skip(f"{modname} is not part of this version")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    tests = [t for t in finder.find(module, modname, globs={"np": np}) if t.examples]
    # numpy >= 2 writes scalars as np.float64(...); the examples show plain numbers
    legacy = {"legacy": "1.25"} if int(np.__version__.split(".")[0]) >= 2 else {}
    with np.printoptions(**legacy):
        for test in tests:
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {modname}"
