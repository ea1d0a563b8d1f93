"""Run every benchmark module in bench/ (each bench/<name>.py with a `main()`), in name order.

`python -m bench` runs all; `python -m bench nlu` runs the named ones. A module's main()
returns an exit status (None counts as 0); the run fails if any benchmark fails.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from pathlib import Path


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    names = []
    for info in pkgutil.iter_modules([str(here)]):
        if info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "main", None)):
            names.append(info.name)
    return sorted(names)


def run(names: list[str]) -> int:
    failed = []
    for name in names:
        print(f"\n=== bench.{name}", flush=True)
        try:
            status = importlib.import_module(f"bench.{name}").main([]) or 0
        except Exception:  # a broken benchmark must not hide the others' results
            traceback.print_exc()
            status = 1
        if status:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    available = discover()
    unknown = [n for n in argv if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    return run(argv or available)


if __name__ == "__main__":
    sys.exit(main())
