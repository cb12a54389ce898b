"""`make bench`: run every benchmark module bench/bench_*.py (or those named).

Each module defines `main() -> None`, which prints its figures beside the issue's
targets (bench.common.report). They run on PostgreSQL against a copy of the
generated dataset (bench/dataset.py); nothing here is a pass/fail test.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    names = argv or sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n##### {name} #####", flush=True)
        module.main()


if __name__ == "__main__":
    main(sys.argv[1:])
