"""Runs every benchmark module and merges its figures into var/bench.json (name -> number).

    python -m benchmarks.run --deals 1000000 [--only imports]

A benchmark module has `run(results: dict, args)` that adds figures to `results`, and may have
`add_arguments(parser)` for its own options. Add a module by listing it in MODULES.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

MODULES = [
    "benchmarks.imports",
    "benchmarks.kpis",
    "benchmarks.bonus",  # right after kpis: compares with its full run on its data set
    "benchmarks.load",  # builds a data set of its own
]


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesteam.settings")
    modules = [importlib.import_module(name) for name in MODULES]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=1_000_000, help="size of the large data sets")
    parser.add_argument("--only", action="append", help="run only these modules (last part of the name)")
    for module in modules:
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.conf import settings

    path = Path(settings.VAR_DIR) / "bench.json"
    results: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
    args.measured = {}  # this invocation's figures so far, for a module that compares with another's
    for module in modules:
        short = module.__name__.rsplit(".", 1)[-1]
        if args.only and short not in args.only:
            continue
        print(f"== {short}", flush=True)
        started = time.perf_counter()
        figures: dict[str, float] = {}
        module.run(figures, args)
        for name, value in figures.items():
            print(f"{name}: {value}", flush=True)
        print(f"({short} took {time.perf_counter() - started:.1f} s)", flush=True)
        results.update(figures)
        args.measured.update(figures)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
