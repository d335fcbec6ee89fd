"""Helpers shared by the benchmark scripts: timing, machine description, tables,
and writing a script's tables into ``docs/benchmarks.md``.

1. Every script reports through a :class:`Report`: it prints the Markdown as it
   goes and keeps it, so that ``--write-docs`` puts exactly what was printed on
   the page. Nothing is pasted by hand.
2. A script owns one section of the page, between ``<!-- BEGIN name -->`` and
   ``<!-- END name -->``; the prose around the markers is written by people and
   never touched, so re-running a benchmark cannot erase its discussion.
3. A Report starts with the machine line: timings without it mean nothing.
"""

import os
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np


def best_of(func, repeats):
    """Best wall time of ``repeats`` calls and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


#: Seconds of rest before each timed call of :func:`best_of_interleaved`: the
#: previous contender's thread pools (OpenBLAS workers, an OpenMP runtime with
#: the active wait policy) spin for a while after its call returns and would
#: take the cores from the next contender. A call of a library on its own, as
#: a user makes it, does not pay that; 0.25 s outlasts OpenBLAS's spin.
INTERLEAVE_PAUSE = 0.25


def best_of_interleaved(funcs, repeats, pause=INTERLEAVE_PAUSE):
    """Best wall time of each function over ``repeats`` rounds, one call of
    each per round: a slow phase of a shared machine then hits every
    contender alike instead of only the one that was running. Each call
    starts after ``pause`` seconds of rest (see ``INTERLEAVE_PAUSE``)."""
    return [wall for wall, _ in best_of_interleaved_with_cores(funcs, repeats, pause)]


def best_of_interleaved_with_cores(funcs, repeats, pause=INTERLEAVE_PAUSE):
    """:func:`best_of_interleaved`, each best time with the cores the process
    got during that call (its CPU time, every thread, over the wall time)."""
    best = [(np.inf, 0.0)] * len(funcs)
    for _ in range(repeats):
        for i, func in enumerate(funcs):
            time.sleep(pause)
            start, cpu = time.perf_counter(), time.process_time()
            func()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            if wall < best[i][0]:
                best[i] = (wall, cpu / wall)
    return best


def machine_line():
    import sklearn

    import skmax
    from skmax import _kernels

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (f"{date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, numpy {np.__version__}, "
            f"scikit-learn {sklearn.__version__}, skmax {skmax.__version__}, "
            f"OpenMP threads {_kernels.openmp_max_threads()}")


def markdown_table(header, rows):
    """A Markdown table as one string."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


DOCS_PAGE = os.path.join(repo_root(), "docs", "benchmarks.md")


def replace_section(text, name, body):
    """``text`` with the lines between the markers of ``name`` replaced by ``body``."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"{begin} ... {end} not found, in that order, in the page")
    return f"{text[:start + len(begin)]}\n\n{body.strip()}\n\n{text[stop:]}"


class Report:
    """Markdown blocks of one benchmark script: printed as they come, kept for the docs.

    Parameters
    ----------
    name : str
        The script's section of the page, e.g. ``'bench_fit'``.
    settings : str
        One line saying how the script was run (sizes, repeats, ...), printed
        after the machine line.
    """

    def __init__(self, name, settings):
        self.name, self.blocks = name, []
        self.add(f"Machine: {machine_line()}\n{settings}")

    def add(self, text):
        """Print a block of Markdown and keep it for the page."""
        print(text + "\n", flush=True)
        self.blocks.append(text)

    def table(self, header, rows, plot=None):
        """Add a table; ``plot`` names the columns docs/plot_benchmarks.py draws."""
        comment = f"<!-- plot: {plot} -->\n" if plot else ""
        self.add(comment + markdown_table(header, rows))

    def write_docs(self, page=DOCS_PAGE):
        """Replace this script's section of ``page`` by the blocks printed so far."""
        page = Path(page)
        text = page.read_text(encoding="utf-8")
        page.write_text(replace_section(text, self.name, "\n\n".join(self.blocks)),
                        encoding="utf-8")
        print(f"wrote section {self.name} of {page}")


def add_docs_option(parser):
    """The ``--write-docs [PAGE]`` option every benchmark script takes."""
    parser.add_argument("--write-docs", nargs="?", const=DOCS_PAGE, default=None,
                        metavar="PAGE",
                        help="also write the tables between this script's markers in "
                             "PAGE (default: docs/benchmarks.md)")
