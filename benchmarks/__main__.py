"""Run the benchmark scripts with the settings of ``docs/benchmarks.md``.

``python -m benchmarks --write-docs`` regenerates every script's section of the
page; ``--only bench_fit`` picks scripts, ``--quick`` makes smoke runs. A new
script joins by taking ``add_docs_option`` and a ``Report`` (``_common.py``),
having its markers on the page, and an entry in ``DOCS_SETTINGS``.
"""

import argparse
import os
import subprocess
import sys

from benchmarks._common import add_docs_option

# script -> the arguments its tables on the page were measured with
DOCS_SETTINGS = {
    "bench_fit": ["--repeats", "5"],
    "bench_calibration": ["--max-cells", "2.1e7"],
    "bench_many_classes": [],
    "bench_contention": [],
    "bench_calibrators": [],
    "bench_predict": [],
    "bench_path": [],
    "bench_dask": [],
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(DOCS_SETTINGS),
                        default=list(DOCS_SETTINGS), metavar="SCRIPT",
                        help=f"scripts to run (default: all of {list(DOCS_SETTINGS)})")
    parser.add_argument("--quick", action="store_true", help="smoke runs")
    add_docs_option(parser)
    args = parser.parse_args(argv)
    for name in args.only:
        script_args = ["--quick"] if args.quick else list(DOCS_SETTINGS[name])
        if args.write_docs:
            script_args += ["--write-docs", args.write_docs]
        print(f"## {name} {' '.join(script_args)}", flush=True)
        # A process per script: as when run by hand (an installed skmax wins over
        # the source tree, see bench_fit), and no memory carried from one to the next.
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
        subprocess.run([sys.executable, script, *script_args], check=True)


if __name__ == "__main__":
    main()
