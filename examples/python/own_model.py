"""Plug your own model client into the loop: any object with `complete(request)` is a provider.

`python examples/python/own_model.py` heals a small Python project whose bug no compiler
suggestion fixes. The "model" here is a stand-in that reads the prompt the loop built and
answers with a fix as JSON, the way an LLM would; swap in your own client (sync or async).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Union

import selfheal


class HouseModel:
    """Your model client: called with the loop's request (system prompt, messages, model)."""

    name = "house-model"
    model = "house-1"

    def __init__(self) -> None:
        self.prompts: List[str] = []

    async def complete(self, request: selfheal.Request) -> Dict[str, Union[str, Dict[str, int]]]:
        self.prompts.append(request.prompt)
        fix = {
            "analysis": "an int is added to a str",
            "fixes": [{"file": "report.py", "action": "patch",
                       "search": '"total: " + sum(items)', "replace": '"total: " + str(sum(items))'}],
        }
        reply = "Here is the fix:\n```json\n" + json.dumps(fix) + "\n```"
        return {"text": reply, "usage": {"input_tokens": len(request.prompt) // 4, "output_tokens": 60}}


async def main() -> int:
    project = Path(tempfile.mkdtemp(prefix="selfheal-own-model-"))
    (project / "report.py").write_text(
        'def total(items):\n    return "total: " + sum(items)\n\n\nprint(total([1, 2, 3]))\n'
    )
    model = HouseModel()
    healer = selfheal.Healer(provider=model, config={"backoff": 0.0})
    report = await healer.heal(project, [f"{sys.executable} report.py"])
    print(f"{report.outcome}: {len(model.prompts)} request(s), {report.usage['input_tokens']} tokens in")
    print(report.attempts[-1]["diff"])
    return 0 if report.outcome == "healed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
