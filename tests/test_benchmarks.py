"""Smoke runs of the benchmark scripts (``--quick``): they run, print a table and
write their section of a copy of ``docs/benchmarks.md``.

Timings are never asserted here; the benchmarks themselves compare speed.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "benchmarks.md")
SCRIPTS = ["bench_fit", "bench_calibration", "bench_many_classes", "bench_contention",
           "bench_calibrators", "bench_predict", "bench_path", "bench_dask"]

if not os.path.exists(os.path.join(ROOT, "benchmarks", "_common.py")):
    pytest.skip("benchmarks/ not in this checkout", allow_module_level=True)

from benchmarks._common import replace_section  # noqa: E402


def _split(text, name):
    """(before the section, the section, after it) of a page."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    head, rest = text.split(begin)
    body, tail = rest.split(end)
    return head, body, tail


def _page_copy(tmp_path):
    page = tmp_path / "benchmarks.md"
    shutil.copy(PAGE, page)
    return page


# further sections a script writes besides its own
EXTRA_SECTIONS = {"bench_many_classes": ["bench_many_classes_curves"],
                  "bench_fit": ["bench_fit_penalties"]}


def _check_written(page, name):
    text, old_text = page.read_text(), open(PAGE).read()
    for extra in EXTRA_SECTIONS.get(name, []):
        assert _split(text, extra)[1].lstrip().startswith("Machine: ")
        text = replace_section(text, extra, _split(old_text, extra)[1])
    head, body, tail = _split(text, name)
    old_head, old_body, old_tail = _split(old_text, name)
    assert (head, tail) == (old_head, old_tail)    # the prose around is untouched
    assert body != old_body and body.lstrip().startswith("Machine: ")
    assert "|---" in body


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_quick_run_writes_its_section(script, tmp_path):
    page = _page_copy(tmp_path)
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", f"{script}.py"), "--quick",
         "--write-docs", str(page)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "|---" in proc.stdout            # a Markdown table was printed
    _check_written(page, script)


def test_one_command_regenerates_the_page(tmp_path):
    # Only the fastest script here; the others are covered by the test above.
    page = _page_copy(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "bench_fit",
         "--write-docs", str(page)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_written(page, "bench_fit")


def test_every_script_has_its_markers_on_the_page():
    from benchmarks.__main__ import DOCS_SETTINGS

    text = open(PAGE).read()
    scripts = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "benchmarks"))
                     if re.fullmatch(r"bench_\w+\.py", f))
    assert sorted(DOCS_SETTINGS) == scripts
    for name in scripts:
        _split(text, name)   # raises when a marker is missing


def test_replace_section():
    text = ("intro\n<!-- BEGIN a -->\nold\n<!-- END a -->\nafter\n"
            "<!-- BEGIN b -->\nkept\n<!-- END b -->")
    new = replace_section(text, "a", "\nnew table\n")
    assert new == ("intro\n<!-- BEGIN a -->\n\nnew table\n\n<!-- END a -->\nafter\n"
                   "<!-- BEGIN b -->\nkept\n<!-- END b -->")
    assert replace_section(new, "a", "new table") == new   # idempotent
    with pytest.raises(ValueError, match="BEGIN c"):
        replace_section(text, "c", "x")
    with pytest.raises(ValueError, match="in that order"):
        replace_section("<!-- END a --> <!-- BEGIN a -->", "a", "x")
