"""Turn any build log into classified diagnostics: `npm run build 2>&1 | python parse_log.py`."""

from __future__ import annotations

import sys
from collections import Counter

import selfheal


def main() -> int:
    diagnostics = selfheal.parse(sys.stdin.buffer.read())
    for d in diagnostics:
        where = f"{d.file}:{d.line}" if d.file and d.line else d.file or "-"
        print(f"{d.severity:<8} {d.category:<13} {d.tool:<8} {where}: {d.message}")
        for suggestion in d.suggestions[:1]:
            print(f"         hint: {suggestion}")
    counts = Counter(d.category for d in diagnostics)
    print(f"{len(diagnostics)} diagnostics: " + ", ".join(f"{n} {c}" for c, n in counts.most_common()))
    return 1 if any(d.severity != "warning" for d in diagnostics) else 0


if __name__ == "__main__":
    sys.exit(main())
