"""The heal loop from Python: Python-written providers and builders, the built-in OpenAI
provider against a loopback server, events, cancellation and callback exceptions."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import selfheal
from conftest import FIXED_LINE, QUICK, OpenAIServer, Project, fix_reply, sse_completion


class FixingProvider:
    """A host's own model client: answers every request with the project's fix."""

    name = "house-model"
    model = "house-1"

    def __init__(self) -> None:
        self.requests: List[selfheal.Request] = []

    def complete(self, request: selfheal.Request) -> Dict[str, Any]:
        self.requests.append(request)
        return {"text": fix_reply(), "usage": {"input_tokens": 120, "output_tokens": 40}}


class AsyncFixingProvider:
    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: selfheal.Request) -> str:
        self.calls += 1
        await asyncio.sleep(0.01)
        return fix_reply()


async def test_a_python_provider_class_heals_a_real_project(project: Project) -> None:
    provider = FixingProvider()
    healer = selfheal.Healer(provider=provider, config=QUICK)

    report = await healer.heal(project.root, project.steps)

    assert report.outcome == "healed", report.to_dict()
    assert report.ok
    assert FIXED_LINE in project.main
    assert [a["source"] for a in report.attempts] == [None, "llm"]
    assert report.attempts[1]["diff"].count("+" + FIXED_LINE) == 1
    assert report.usage == {"input_tokens": 120, "output_tokens": 40}
    assert report.fixes[0]["files"] == ["main.py"]
    # The request carries the prompt the loop built from the parsed error.
    (request,) = provider.requests
    assert request.model == "house-1"
    assert request.system and "JSON" in request.system
    assert request.messages[-1].role == "user"
    assert "can only concatenate str" in request.messages[-1].content
    assert "main.py" in request.prompt
    # Now it runs.
    out = subprocess.run(project.steps[0], shell=True, cwd=project.root, capture_output=True, text=True)
    assert out.stdout.strip() == "total: 6"


async def test_an_async_provider_heals_and_so_does_a_sync_heal(tmp_path: Path) -> None:
    provider = AsyncFixingProvider()
    first = Project(tmp_path / "a")
    report = await selfheal.Healer(provider=provider, config=QUICK).heal(first.root, first.steps)
    assert report.outcome == "healed"

    # heal_sync with an `async def` provider, called from inside a running loop: the
    # callback runs on the helper loop, nothing deadlocks.
    second = Project(tmp_path / "b")
    report = selfheal.Healer(provider=provider, config=QUICK).heal_sync(second.root, second.steps)
    assert report.outcome == "healed"
    assert FIXED_LINE in second.main
    assert provider.calls == 2


def test_heal_sync_outside_any_loop_with_a_sync_provider(project: Project) -> None:
    report = selfheal.Healer(provider=FixingProvider(), config=QUICK).heal_sync(project.root, project.steps)
    assert report.outcome == "healed"
    assert repr(report).startswith("<HealReport healed attempts=2")


async def test_the_built_in_openai_provider_heals_against_a_loopback_server(
    project: Project, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.replies.append(sse_completion(fix_reply()))
    provider = selfheal.OpenAI("sk-test", base_url=openai_server.base_url, model="gpt-4o")
    cache = selfheal.FixCache(tmp_path / "cache")
    healer = selfheal.Healer(provider=provider, cache=cache, config=QUICK)

    report = await healer.heal(project.root, project.steps)

    assert report.outcome == "healed"
    assert report.usage == {"input_tokens": 90, "output_tokens": 33}
    assert report.cost_usd > 0
    (request,) = openai_server.requests
    assert request["authorization"] == "Bearer sk-test"
    assert request["body"]["stream"] is True
    assert request["body"]["model"] == "gpt-4o"

    # The fix was learned: the same error elsewhere is healed from the cache, without a request.
    again = Project(tmp_path / "again")
    report = await healer.heal(again.root, again.steps)
    assert report.outcome == "healed"
    assert [a["source"] for a in report.attempts] == [None, "cache"]
    assert len(openai_server.requests) == 1
    assert cache.stats()["fixes"] == 1


async def test_steps_as_strings_dicts_and_step_objects(tmp_path: Path) -> None:
    root = tmp_path / "green"
    root.mkdir()
    (root / "ok.py").write_text("print('ok')\n")
    step = selfheal.Step([sys.executable, "ok.py"], name="run", timeout=30)
    assert (step.name, step.timeout, step.argv[-1]) == ("run", 30.0, "ok.py")
    steps: List[selfheal.StepSpec] = [
        f"{sys.executable} ok.py",
        {"command": f"{sys.executable} ok.py", "name": "again", "env": {"X": "1"}},
        step,
    ]
    report = await selfheal.Healer(config=QUICK).heal(root, steps)
    assert report.outcome == "already_green"
    assert report.attempts[0]["errors"] == 0
    with pytest.raises(selfheal.ConfigError, match="unknown field `cmd`"):
        await selfheal.Healer().heal(root, [{"cmd": "true"}])
    with pytest.raises(TypeError):
        await selfheal.Healer().heal(root, "true")  # type: ignore[arg-type]
    with pytest.raises(selfheal.ConfigError, match="config: unknown field `retries`"):
        selfheal.Healer(config={"retries": 3})
    with pytest.raises(selfheal.ConfigError, match="unknown fixer"):
        selfheal.Healer(fixers=["magic"])


async def test_no_source_of_fixes_escalates_and_calls_the_handler(project: Project) -> None:
    escalations: List[selfheal.HealReport] = []
    healer = selfheal.Healer(config=QUICK, on_escalation=escalations.append)
    report = await healer.heal(project.root, project.steps)
    assert report.outcome == "escalated"
    assert not report.ok
    assert report.escalation is not None and report.escalation["next_action"]
    assert report.diagnostics[0].code == "TypeError"
    assert [r.outcome for r in escalations] == ["escalated"]
    assert "sum(items)" in project.main and FIXED_LINE not in project.main


async def test_events_stream_as_an_async_iterator_with_the_report_at_the_end(project: Project) -> None:
    healer = selfheal.Healer(provider=FixingProvider(), config=QUICK)
    kinds: List[str] = []
    async with healer.stream(project.root, project.steps) as events:
        async for event in events:
            kinds.append(event.kind)
            if event.kind == "diagnostics" and event.attempt == 1:
                assert isinstance(event.diagnostics[0], selfheal.Diagnostic)
                assert event.diagnostics[0].code == "TypeError"
            if event.kind == "fix_applied":
                assert event.to_dict()["event"] == "fix_applied"
    assert kinds[0] == "run_started" and kinds[-1] == "healed"
    for expected in ("step_started", "output_line", "step_finished", "llm_request", "llm_response", "fix_applied"):
        assert expected in kinds
    assert events.report is not None and events.report.outcome == "healed"


async def test_on_event_sees_the_same_events(project: Project) -> None:
    seen: List[selfheal.Event] = []
    report = await selfheal.Healer(provider=FixingProvider(), config=QUICK).heal(
        project.root, project.steps, on_event=seen.append
    )
    assert report.outcome == "healed"
    assert seen[-1].kind == "healed" and seen[-1].is_last
    line = next(e for e in seen if e.kind == "output_line")
    assert line.stream == "stderr" and isinstance(line.line, str)
    with pytest.raises(AttributeError):
        line.attempt  # noqa: B018 - the attribute does not exist on this kind


class SlowBuilder:
    """Builds by running the step for real, after a pause long enough to be cancelled in."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.runs = 0

    def run(self, step: selfheal.Step, workspace: str) -> subprocess.CompletedProcess[str]:
        self.runs += 1
        if self.runs == 2:
            self.started.set()
            time.sleep(1.0)
        return subprocess.run(step.command, shell=True, cwd=workspace, capture_output=True, text=True)


async def test_cancelling_the_task_undoes_the_attempt_in_progress(project: Project) -> None:
    builder = SlowBuilder()
    healer = selfheal.Healer(provider=FixingProvider(), builder=builder, config=QUICK)
    task = asyncio.create_task(healer.heal(project.root, project.steps))
    while not builder.started.is_set():
        await asyncio.sleep(0.01)
    # The fix is applied and its build is running: cancel now.
    assert FIXED_LINE in project.main
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert FIXED_LINE not in project.main, "the attempt in progress was undone"
    assert "sum(items)" in project.main


async def test_a_stream_can_be_cancelled_and_ends_with_a_cancelled_report(project: Project) -> None:
    builder = SlowBuilder()
    healer = selfheal.Healer(provider=FixingProvider(), builder=builder, config=QUICK)
    kinds = []
    stream = healer.stream(project.root, project.steps)
    async for event in stream:
        kinds.append(event.kind)
        if event.kind == "fix_applied":
            stream.cancel()
    assert kinds[-1] == "cancelled"
    assert stream.report is not None and stream.report.outcome == "cancelled"
    assert FIXED_LINE not in project.main


class Broken(Exception):
    pass


async def test_an_exception_in_a_provider_surfaces_unchanged(project: Project) -> None:
    class Failing:
        def complete(self, request: selfheal.Request) -> str:
            raise ValueError("the house model is down")

    with pytest.raises(ValueError, match="the house model is down"):
        await selfheal.Healer(provider=Failing(), config=QUICK).heal(project.root, project.steps)
    assert "sum(items)" in project.main


async def test_an_exception_in_an_async_provider_surfaces_unchanged(project: Project) -> None:
    class Failing:
        async def complete(self, request: selfheal.Request) -> str:
            raise Broken("async failure")

    with pytest.raises(Broken, match="async failure"):
        await selfheal.Healer(provider=Failing(), config=QUICK).heal(project.root, project.steps)


def test_an_exception_in_a_builder_or_on_event_surfaces_unchanged(project: Project) -> None:
    class FailingBuilder:
        def run(self, step: selfheal.Step, workspace: str) -> Dict[str, Any]:
            raise KeyError("no such machine")

    with pytest.raises(KeyError, match="no such machine"):
        selfheal.Healer(builder=FailingBuilder(), config=QUICK).heal_sync(project.root, project.steps)

    def on_event(event: selfheal.Event) -> None:
        if event.kind == "step_finished":
            raise ZeroDivisionError("in on_event")

    with pytest.raises(ZeroDivisionError, match="in on_event"):
        selfheal.Healer(config=QUICK).heal_sync(project.root, project.steps, on_event=on_event)


def test_a_builder_returning_nonsense_gets_a_clear_type_error(project: Project) -> None:
    class Nonsense:
        def run(self, step: selfheal.Step, workspace: str) -> int:
            return 3

    with pytest.raises(TypeError, match="must return a dict with `exit_code`"):
        selfheal.Healer(builder=Nonsense(), config=QUICK).heal_sync(project.root, project.steps)


async def test_raising_cancelled_from_a_callback_cancels_the_run(project: Project) -> None:
    class Refusing:
        def complete(self, request: selfheal.Request) -> str:
            raise selfheal.Cancelled("the user closed the tab")

    report = await selfheal.Healer(provider=Refusing(), config=QUICK).heal(project.root, project.steps)
    assert report.outcome == "cancelled"


async def test_a_python_builder_with_a_dict_result_and_its_step(project: Project) -> None:
    seen: List[selfheal.Step] = []

    class DictBuilder:
        def run(self, step: selfheal.Step, workspace: str) -> Dict[str, Any]:
            seen.append(step)
            done = subprocess.run(step.argv, cwd=workspace, capture_output=True)
            return {"exit_code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}

    report = await selfheal.Healer(provider=FixingProvider(), builder=DictBuilder(), config=QUICK).heal(
        project.root, [{"command": project.steps[0], "name": "run", "timeout": 20}]
    )
    assert report.outcome == "healed"
    assert [s.name for s in seen] == ["run", "run"]
    assert seen[0].timeout == 20.0 and seen[0].argv[:2] == ["/bin/sh", "-c"]


def test_the_workspace_must_exist(tmp_path: Path) -> None:
    with pytest.raises(selfheal.SelfHealError):
        selfheal.Healer().heal_sync(tmp_path / "missing", ["true"])


EXIT_RIGHT_AFTER_AWAIT = """
import asyncio, json, pathlib, sys, selfheal

FIX = {"file": "main.py", "action": "patch", "search": "+ sum(items)", "replace": "+ str(sum(items))"}

class Model:
    def complete(self, request):
        return {"text": json.dumps({"fixes": [FIX]}), "usage": {"input_tokens": 1, "output_tokens": 1}}

async def main():
    project = pathlib.Path(sys.argv[1])
    project.joinpath("main.py").write_text('def total(items):\\n    return "total: " + sum(items)\\n\\n\\nprint(total([1]))\\n')
    healer = selfheal.Healer(provider=Model(), config={"backoff": 0.0})
    report = await healer.heal(project, [sys.executable + " main.py"])
    print(report.outcome)

asyncio.run(main())
"""


def test_a_program_exits_cleanly_the_moment_its_last_await_resolves(tmp_path: Path) -> None:
    # Nothing may still be inside the interpreter on a runtime thread when the program ends:
    # an awaitable is resolved on the event loop's own thread.
    script = tmp_path / "exit.py"
    script.write_text(EXIT_RIGHT_AFTER_AWAIT)
    for run in range(30):
        project = tmp_path / f"app{run}"
        project.mkdir()
        ran = subprocess.run([sys.executable, str(script), str(project)], capture_output=True, timeout=60)
        assert (ran.returncode, ran.stdout) == (0, b"healed\n"), ran.stderr


def test_a_health_monitor_counts_the_runs_of_its_healers(tmp_path: Path) -> None:
    with pytest.raises(selfheal.ConfigError, match="window"):
        selfheal.HealthMonitor(-1)
    monitor = selfheal.HealthMonitor(600)
    assert monitor.health()["status"] == "healthy"
    healed = Project(tmp_path / "healed")
    healer = selfheal.Healer(provider=FixingProvider(), config=QUICK, monitor=monitor)
    assert healer.heal_sync(healed.root, healed.steps).outcome == "healed"
    stuck = Project(tmp_path / "stuck")
    alone = selfheal.Healer(config={**QUICK, "max_attempts": 2}, monitor=monitor)
    assert alone.heal_sync(stuck.root, stuck.steps).outcome == "escalated"
    health = monitor.health()
    assert (health["runs"], health["failure_rate"], health["status"]) == (2, 0.5, "critical")
    assert health["alerts"] == ["failure rate 50% ≥ critical 50%"]
    assert health["mean_recovery_secs"] > 0


class ScriptedProvider:
    """A host's model client that answers with the given fixes, one reply per request."""

    def __init__(self, *replies: List[Dict[str, Any]]) -> None:
        self.replies = list(replies)
        self.prompts: List[str] = []

    def complete(self, request: selfheal.Request) -> str:
        self.prompts.append(request.prompt)
        return json.dumps({"analysis": "make it pass", "fixes": self.replies.pop(0)})


async def test_the_edit_policy_refuses_what_a_fix_may_not_touch_unless_the_host_allows_it(
    project: Project,
) -> None:
    (project.root / ".git").mkdir()
    (project.root / ".git" / "config").write_text("[core]\n")
    (project.root / "tests").mkdir()
    (project.root / "tests" / "test_main.py").write_text("def test_it():\n    assert True\n")
    hostile = [{"file": ".git/config", "action": "replace", "content": "[core]\n\tfsmonitor = id\n"}]
    delete_test = [{"file": "tests/test_main.py", "action": "delete"}]
    provider = ScriptedProvider(hostile, delete_test)
    events: List[str] = []
    healer = selfheal.Healer(provider=provider, config={**QUICK, "max_attempts": 3})

    async with healer.stream(project.root, project.steps) as stream:
        async for event in stream:
            events.append(event.kind)
    report = stream.report
    assert report is not None

    assert report.outcome != "healed"
    assert events.count("fix_refused") == 2
    rules = [[r["rule"] for r in a["refused"]] for a in report.attempts[1:]]
    assert rules == [["version_control"], ["protected"]], report.attempts
    assert report.attempts[2]["refused"][0]["class"] == "tests"
    assert (project.root / ".git" / "config").read_text() == "[core]\n"
    assert (project.root / "tests" / "test_main.py").exists()
    assert "refused by the edit policy" in provider.prompts[1]

    # A host that allows tests lets such a fix through; version control stays refused.
    config = {**QUICK, "max_attempts": 2, "allow": ["tests"]}
    allowed = selfheal.Healer(provider=ScriptedProvider(delete_test), config=config)
    report = await allowed.heal(project.root, project.steps)
    assert report.attempts[1]["refused"] == []
    with pytest.raises(selfheal.ConfigError, match="everything"):
        selfheal.Healer(provider=provider, config={"allow": ["everything"]})
