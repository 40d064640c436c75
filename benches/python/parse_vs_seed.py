"""`selfheal.parse` against a pure-Python implementation of the seed's parser (seed 000
§3.4.2: one regex list per category, each pattern over the whole output, and for every match a
location regex over the whole output), on the same 10 MB log in the same process; the same
against a faster variant of the seed that only looks for a location in the 200 characters after a
match; and the per-call overhead of `parse` on a one-line log.

    python benches/python/parse_vs_seed.py [MB]

The log interleaves every fixture log under tests/fixtures/parsers with the noise real builds
print between errors (npm progress rewritten with \\r, cargo `Compiling`, passing tests,
bundler asset lines, BuildKit steps), as benches/parse.rs does.
"""

from __future__ import annotations

import random
import re
import sys
import time
import timeit
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import selfheal

REPO = Path(__file__).resolve().parents[2]

SEED_PATTERNS: Dict[str, List[str]] = {
    "dependency": [
        r"""Cannot find module ['"]([^'"]+)['"]""",
        r"""Module not found: Error: Can't resolve ['"]([^'"]+)['"]""",
        r"npm ERR! peer dep missing: ([^,]+)",
        r"ERESOLVE unable to resolve dependency tree",
        r"node-gyp rebuild failed",
        r"Could not resolve dependency",
        r"ENOENT: no such file or directory.*node_modules",
    ],
    "syntax": [
        r"SyntaxError: (.+) at line (\d+)",
        r"Unexpected token (.+)",
        r"Parsing error: (.+)",
        r"error: Expected (.+) but found (.+)",
    ],
    "type": [
        r"""Type ['"]([^'"]+)['"] is not assignable to type ['"]([^'"]+)['"]""",
        r"""Property ['"]([^'"]+)['"] does not exist on type ['"]([^'"]+)['"]""",
        r"Cannot read propert(y|ies) of (undefined|null)",
        r"TS\d+: (.+)",
        r"""Argument of type ['"]([^'"]+)['"] is not assignable""",
    ],
    "runtime": [
        r"""Error: Cannot find module ['"]([^'"]+)['"]""",
        r"ReferenceError: (.+) is not defined",
        r"Error: ENOENT: no such file or directory",
        r"EACCES: permission denied",
        r"Missing required environment variable: (\w+)",
    ],
    "resource": [
        r"FATAL ERROR: (.+) JavaScript heap out of memory",
        r"ENOMEM",
        r"ENOSPC: no space left on device",
        r"Build killed - out of memory",
        r"(?i:error: timeout)",
    ],
    "configuration": [
        r"Invalid configuration object",
        r"Configuration error:",
        r"Error in (.+\.config\.(js|ts|json))",
        r"(?i:tsconfig\.json.*error)",
    ],
    "network": [
        r"ETIMEDOUT",
        r"ECONNREFUSED",
        r"EAI_AGAIN",
        r"npm ERR! network",
        r"getaddrinfo ENOTFOUND",
        r"401 Unauthorized",
        r"403 Forbidden",
    ],
}


LOCATION = r"(\S+\.(ts|tsx|js|jsx)):(\d+)(?::(\d+))?"


class SeedParser:
    """The seed's ErrorParser, in Python, as written: every pattern over the whole output, and
    for every match the location regex `escape(match) [\s\S]{0,200}? file:line` searched in the
    whole output. The seed's unspecified helpers (code snippet, stack trace, suggestions) are left
    out, which only makes it faster."""

    def __init__(self) -> None:
        self.patterns = [
            (category, re.compile(pattern, re.MULTILINE))
            for category, patterns in SEED_PATTERNS.items()
            for pattern in patterns
        ]

    def locate(self, text: str, match: "re.Match[str]") -> Optional["re.Match[str]"]:
        return re.search(re.escape(match.group(0)) + r"[\s\S]{0,200}?" + LOCATION, text)

    def parse(self, text: str) -> List[Tuple[str, str, Optional[str], Optional[int]]]:
        found = []
        for category, pattern in self.patterns:
            for match in pattern.finditer(text):
                location = self.locate(text, match)
                file = location.group(1) if location else None
                line = int(location.group(3)) if location else None
                found.append((category, match.group(0), file, line))
        seen = set()
        unique = []
        for error in found:
            key = (error[0], error[1])
            if key not in seen:
                seen.add(key)
                unique.append(error)
        return unique


class WindowedSeedParser(SeedParser):
    """The seed's parser with its location search narrowed to the 200 characters after each
    match: a faster variant than the seed, kept as the stricter comparison."""

    location = re.compile(LOCATION)

    def locate(self, text: str, match: "re.Match[str]") -> Optional["re.Match[str]"]:
        return self.location.search(text, match.end(), match.end() + 200)


def noise_line(rng: random.Random) -> str:
    n = rng.randrange(10_000)
    kind = rng.randrange(8)
    if kind == 0:
        return f"\u2e28##########\u2e29 \u2807 reify:lodash: timing reifyNode:node_modules/pkg-{n} Completed in {n % 97}ms\r"
    if kind == 1:
        return f"   Compiling crate-{n} v0.{n % 9}.{n % 31} (registry+https://github.com/rust-lang/crates.io-index)"
    if kind == 2:
        return f"test tests::case_{n} ... ok"
    if kind == 3:
        return f"tests/test_module_{n % 50}.py::test_feature_{n} PASSED                          [{n % 100:>3}%]"
    if kind == 4:
        return f"asset chunk-{n}.js {n % 300}.{n % 10} KiB [emitted] [minimized] (name: chunk-{n})"
    if kind == 5:
        return f"#{n % 40} sha256:{rng.getrandbits(64):016x}{rng.getrandbits(64):016x}"
    if kind == 6:
        return f"  \u2713 renders component {n} ({n % 40}ms)"
    return f"[{n % 24:02}:{n % 60:02}:{n % 60:02}] Starting 'build:{n}'..."


def assemble_log(megabytes: float) -> str:
    logs = sorted(p.read_text(errors="replace") for p in (REPO / "tests/fixtures/parsers").glob("*/*/log.txt"))
    rng = random.Random(0x9E3779B97F4A7C15)
    parts: List[str] = []
    size, target = 0, int(megabytes * 1_000_000)
    while size < target:
        chunk = "\n".join(noise_line(rng) for _ in range(40 + rng.randrange(160))) + "\n"
        chunk += logs[rng.randrange(len(logs))].rstrip("\n") + "\n"
        parts.append(chunk)
        size += len(chunk.encode())
    return "".join(parts)


def best_of(runs: int, work) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    log = assemble_log(megabytes)
    size = len(log.encode()) / 1e6
    ours = best_of(5, lambda: selfheal.parse(log))
    print(f"log: {size:.1f} MB; selfheal.parse: {len(selfheal.parse(log))} diagnostics")
    print(f"selfheal.parse                   {ours * 1000:9.1f} ms  ({size / ours:7.1f} MB/s)")
    for name, seed in [("seed parser (Python)", SeedParser()), ("seed, windowed location", WindowedSeedParser())]:
        theirs = best_of(3, lambda: seed.parse(log))
        print(
            f"{name:<32} {theirs * 1000:9.1f} ms  ({size / theirs:7.1f} MB/s), "
            f"{len(seed.parse(log))} matches: selfheal is {theirs / ours:.1f}x faster"
        )
    line = "src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\n"
    calls = 20_000
    per_call = min(timeit.repeat(lambda: selfheal.parse(line), number=calls, repeat=5)) / calls
    empty = min(timeit.repeat(lambda: selfheal.parse("ok\n"), number=calls, repeat=5)) / calls
    print(f"parse, one-line log with one diagnostic: {per_call * 1e6:.1f} µs/call; one line, none: {empty * 1e6:.1f} µs/call")


if __name__ == "__main__":
    main()
