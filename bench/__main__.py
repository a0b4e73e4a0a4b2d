"""``python -m bench NAME [args]``: run one benchmark (``all`` runs every one).

Each benchmark is a module ``bench/<name>.py`` with ``main(argv) -> int`` that prints a
table of ours beside a baseline or peer measured in the same run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m bench NAME [args]   (NAME: all, " + ", ".join(names) + ")")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "all":
        rc = 0
        for n in names:
            print(f"\n=== bench {n} ===", flush=True)
            rc |= importlib.import_module(f"bench.{n}").main(rest)
        return rc
    if name not in names:
        print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"bench.{name}").main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
