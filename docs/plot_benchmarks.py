"""One plot per Markdown table of ``docs/benchmarks.md``.

Used by ``conf.py`` (``source-read`` hook): every table of the benchmarks page
gets a figure inserted right after it, drawn with matplotlib from the table
itself, so pasting a table printed by a ``benchmarks/bench_*.py`` script is
all it takes. Which columns are plotted:

* an HTML comment ``<!-- plot: col A, col B -->`` on the line just before the
  table names the numeric columns to draw (``<!-- plot: none -->``: no plot);
* otherwise the ``ratio`` columns if any (a dashed line marks 1), else the
  timing columns (header ending in `` s`` or `` ms``), else all numeric ones.

Bars are horizontal, one group per row, labelled by the row's non-numeric
cells; timings use a log scale. Can also be run as a script:
``python docs/plot_benchmarks.py docs/benchmarks.md out_dir``.
"""

import re
import sys
from pathlib import Path

PLOT_DIR = "_bench_plots"   # relative to docs/, git-ignored
_PLOT_COMMENT = re.compile(r"^\s*<!--\s*plot:\s*(.*?)\s*-->\s*$")


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _is_separator(line):
    return bool(re.fullmatch(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*", line))


def _number(text):
    try:
        return float(text.replace(",", "").replace("x", "").strip())
    except ValueError:
        return None


def find_tables(text):
    """``[(first_line, last_line, header, rows, plot_spec)]`` of the Markdown tables."""
    lines = text.splitlines()
    tables, i = [], 0
    while i < len(lines) - 1:
        if lines[i].lstrip().startswith("|") and _is_separator(lines[i + 1]):
            header = _cells(lines[i])
            j = i + 2
            rows = []
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                rows.append(_cells(lines[j]))
                j += 1
            spec = None
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            if k >= 0 and _PLOT_COMMENT.match(lines[k]):
                spec = _PLOT_COMMENT.match(lines[k]).group(1)
            tables.append((i, j - 1, header, rows, spec))
            i = j
        else:
            i += 1
    return tables


def _columns_to_plot(header, rows, spec):
    numeric = [c for c in range(len(header))
               if rows and all(len(r) > c and _number(r[c]) is not None for r in rows)]
    if spec is not None:
        if spec.lower() == "none":
            return [], numeric
        wanted = [s.strip() for s in spec.split(",")]
        return [header.index(w) for w in wanted if w in header], numeric
    ratio = [c for c in numeric if "ratio" in header[c].lower()]
    if ratio:
        return ratio, numeric
    timing = [c for c in numeric if re.search(r"(\bs|ms)$", header[c])]
    return (timing or numeric)[:4], numeric


def plot_table(header, rows, spec, path, title=None):
    """Draw one table to ``path``; return False when there is nothing to plot."""
    cols, numeric = _columns_to_plot(header, rows, spec)
    if not cols or not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [" ".join(r[c] for c in range(len(header)) if c not in numeric and c < len(r))
              for r in rows]
    values = np.array([[_number(r[c]) for c in cols] for r in rows], dtype=float)
    n, m = values.shape
    height = 0.8 / m
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.28 * n * max(1, m * 0.6)))
    y = np.arange(n)
    for k in range(m):
        ax.barh(y + (k - (m - 1) / 2) * height, values[:, k], height, label=header[cols[k]])
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    if any("ratio" in header[c].lower() for c in cols):
        ax.axvline(1.0, color="k", ls="--", lw=1)
    elif all(re.search(r"(\bs|ms)$", header[c]) for c in cols) and np.all(values > 0):
        ax.set_xscale("log")
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _heading_before(lines, index):
    for line in reversed(lines[:index]):
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return None


def insert_plots(text, out_dir, image_prefix):
    """Return ``text`` with a figure after every plotted table (PNGs in ``out_dir``)."""
    lines = text.splitlines()
    inserts = []
    for number, (first, last, header, rows, spec) in enumerate(find_tables(text), start=1):
        name = f"benchmark_table_{number}.png"
        title = _heading_before(lines, first)
        if plot_table(header, rows, spec, Path(out_dir) / name, title):
            inserts.append((last, f"{image_prefix}/{name}", title or f"Table {number}"))
    for last, image, alt in reversed(inserts):
        lines[last + 1:last + 1] = ["", f"```{{image}} {image}", f":alt: {alt}",
                                    ":width: 90%", "```", ""]
    return "\n".join(lines) + "\n"


def add_benchmark_plots(app, docname, source):
    """Sphinx ``source-read`` hook for the page ``benchmarks``."""
    if docname != "benchmarks":
        return
    out_dir = Path(app.srcdir) / PLOT_DIR
    source[0] = insert_plots(source[0], out_dir, f"/{PLOT_DIR}")


if __name__ == "__main__":
    md, out = sys.argv[1], sys.argv[2]
    for number, (_first, _last, header, rows, spec) in enumerate(
            find_tables(Path(md).read_text()), start=1):
        path = Path(out) / f"benchmark_table_{number}.png"
        print(path if plot_table(header, rows, spec, path) else f"table {number}: no plot")
