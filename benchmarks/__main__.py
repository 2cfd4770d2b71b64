"""`make bench`: run every benchmarks/bench_*.py main() and print their figures.

Machines here are shared and noisy; each bench reports medians and, where an anchor exists,
compares ratios measured in the same run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

import benchmarks


def main() -> int:
    only = set(sys.argv[1:])
    failed = 0
    for module in sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)):
        if not module.startswith("bench_") or (only and module.removeprefix("bench_") not in only):
            continue
        print(f"\n=== {module} ===", flush=True)
        started = time.perf_counter()
        try:
            sys.argv = [module]  # each bench parses its own flags; run them with defaults
            importlib.import_module(f"benchmarks.{module}").main()
        except Exception:
            failed += 1
            traceback.print_exc()
        print(f"({module} took {time.perf_counter() - started:.1f}s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
