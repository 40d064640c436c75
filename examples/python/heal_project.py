"""Heal a broken project and watch it happen: `python examples/python/heal_project.py [DIR]`.

Without DIR, heals a copy of `examples/broken/ledger` (a Rust project with a missing import, a
misspelt variable and a binding that should be mutable) from the compiler's own suggestions —
no API key needed. With OPENAI_API_KEY (or ANTHROPIC_API_KEY) set, the model is asked for
what the fixers cannot fix.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

import selfheal

LEDGER = Path(__file__).resolve().parents[1] / "broken" / "ledger"


def provider_from_env() -> Optional[selfheal.Provider]:
    if os.environ.get("ANTHROPIC_API_KEY"):
        return selfheal.Anthropic(max_usd=0.50)
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return selfheal.OpenAI(max_usd=0.50)
    return None


async def heal(project: Path, steps: Sequence[selfheal.StepSpec]) -> selfheal.HealReport:
    healer = selfheal.Healer(provider=provider_from_env(), config={"max_attempts": 6})
    async with healer.stream(project, steps) as events:
        async for event in events:
            if event.kind == "step_finished":
                print(f"  {event.step}: {'ok' if event.success else 'failed'} ({event.duration} ms)")
            elif event.kind == "diagnostics" and event.diagnostics:
                first = event.diagnostics[0]
                print(f"attempt {event.attempt}: {len(event.diagnostics)} error(s), first: {first.message}")
            elif event.kind == "fix_applied":
                print(f"  fix from {event.source}: {', '.join(event.files)}")
            elif event.kind == "fix_rolled_back":
                print("  fix rolled back")
    assert events.report is not None
    return events.report


def main() -> int:
    if len(sys.argv) > 1:
        project = Path(sys.argv[1])
        steps: List[selfheal.StepSpec] = list(sys.argv[2:]) or ["npm run build"]
    else:
        project = Path(tempfile.mkdtemp(prefix="selfheal-ledger-")) / "ledger"
        shutil.copytree(LEDGER, project)
        # Its own target folder, so that a shared CARGO_TARGET_DIR cannot hold a stale build.
        steps = [{"command": "cargo run --quiet", "env": {"CARGO_TARGET_DIR": "target"}}]
    report = asyncio.run(heal(project, steps))
    print(f"{report.outcome} after {len(report.attempts)} build(s), {report.duration:.1f} s")
    for attempt in report.attempts[1:]:
        print(attempt["diff"])
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
