"""selfheal makes generated code build.

It runs a build, turns the log into structured diagnostics, fixes what it can deterministically,
asks an LLM for the rest, applies the edits safely, rebuilds and learns from what worked. All of
the logic is the Rust crate ``selfheal``; this package is its Python face::

    import selfheal

    healer = selfheal.Healer(provider=selfheal.OpenAI(), cache=selfheal.FixCache())
    report = await healer.heal("./generated-app", ["npx tsc --noEmit", "npm test"])
    print(report.outcome)  # "healed", "already_green", "escalated", … (see HealReport.outcome)
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Deque, Optional, Sequence, Type, TypeVar, Union

from . import _native
from ._native import (
    Anthropic,
    BudgetExceeded,
    BuildError,
    Builder,
    CacheError,
    Cancelled,
    ConfigError,
    Diagnostic,
    DockerBuilder,
    Event,
    Fallback,
    FixCache,
    Gemini,
    HealReport,
    HealthMonitor,
    JsonNotFound,
    JsonTooDeep,
    LocalBuilder,
    Message,
    OpenAI,
    Pending,
    Provider,
    ProviderError,
    Recovered,
    Request,
    Run,
    SelfHealError,
    Step,
    WorkspaceError,
    __version__,
    default_fixers,
    parse,
    recover_json,
)

__all__ = [
    "Anthropic",
    "BudgetExceeded",
    "BuildError",
    "Builder",
    "CacheError",
    "Cancelled",
    "ConfigError",
    "Diagnostic",
    "DockerBuilder",
    "Event",
    "Fallback",
    "FixCache",
    "Gemini",
    "HealReport",
    "HealStream",
    "Healer",
    "HealthMonitor",
    "JsonNotFound",
    "JsonTooDeep",
    "LocalBuilder",
    "Message",
    "OpenAI",
    "Pending",
    "Provider",
    "ProviderError",
    "Recovered",
    "Request",
    "Run",
    "SelfHealError",
    "Step",
    "WorkspaceError",
    "__version__",
    "default_fixers",
    "parse",
    "recover_json",
]

if TYPE_CHECKING:
    # Types for annotations only (they exist in the stubs, not at run time).
    __all__ += [
        "AnyProvider",
        "Attempt",
        "CustomFormat",
        "ErrorParser",
        "HealConfig",
        "HostBuilder",
        "HostProvider",
        "Reply",
        "StepDict",
        "StepResult",
        "StepSpec",
        "Usage",
    ]
    from ._native import (
        AnyProvider,
        Attempt,
        CustomFormat,
        ErrorParser,
        HealConfig,
        HostBuilder,
        HostProvider,
        Reply,
        StepDict,
        StepResult,
        StepSpec,
        Usage,
    )


PathLike = Union[str, "os.PathLike[str]"]
OnEvent = Callable[[Event], object]
_T = TypeVar("_T")


class Healer(_native.Healer):
    """The heal loop: build, read the errors, fix, apply safely, rebuild — until green.

    ``Healer(provider=None, builder=None, cache=None, config=None, fixers=None, parsers=None,
    on_escalation=None)``; see the package README for every option.
    """

    async def heal(
        self,
        workspace: PathLike,
        steps: Sequence[StepSpec],
        *,
        on_event: Optional[OnEvent] = None,
    ) -> HealReport:
        """Heals ``workspace`` so that ``steps`` pass, and returns the report.

        ``steps`` are shell lines (``"npx tsc --noEmit"``), ``Step`` objects or dicts with
        ``command`` and optionally ``name``, ``timeout``, ``env``, ``cwd``. ``on_event`` is
        called with each ``Event`` as it happens. Cancelling the awaiting task cancels the
        run: the attempt in progress is undone before ``CancelledError`` propagates. An
        exception raised by a callback (provider, builder, parser, ``on_event``) stops the run
        and is raised here unchanged.
        """
        run = self.start(os.fspath(workspace), steps, asyncio.get_running_loop(), on_event=on_event)
        return await _report(run)

    def heal_sync(
        self,
        workspace: PathLike,
        steps: Sequence[StepSpec],
        *,
        on_event: Optional[OnEvent] = None,
    ) -> HealReport:
        """``heal``, blocking (the GIL is released while the run works).

        ``async def`` callbacks run on a private event loop in a helper thread, so this works
        inside and outside async code. Ctrl-C undoes the attempt in progress and raises
        ``KeyboardInterrupt``.
        """
        with _CallbackLoop() as loop:
            run = self.start(os.fspath(workspace), steps, loop, on_event=on_event)
            return run.wait()

    def stream(self, workspace: PathLike, steps: Sequence[StepSpec]) -> HealStream:
        """The run's events as an async iterator; ``report`` is set once they end::

            async with healer.stream("./app", ["npm run build"]) as events:
                async for event in events:
                    print(event.kind)
            print(events.report.outcome)
        """
        return HealStream(self, workspace, steps)


async def _report(run: Run) -> HealReport:
    try:
        return await run.report()
    except asyncio.CancelledError:
        await _undo(run)
        raise


async def _undo(run: Run) -> None:
    """Cancels ``run`` and waits until its attempt in progress is undone."""
    run.cancel()
    try:
        await run.report()
    except Exception:  # noqa: BLE001 - the run's own end no longer matters
        pass


class HealStream:
    """The events of one heal run, as an async iterator (and an async context manager that
    cancels the run when left early). ``report`` holds the ``HealReport`` after the last
    event."""

    def __init__(self, healer: Healer, workspace: PathLike, steps: Sequence[StepSpec]) -> None:
        self._healer = healer
        self._workspace = os.fspath(workspace)
        self._steps = steps
        self._run: Optional[Run] = None
        self._pending: Deque[Event] = collections.deque()
        self._ended = False
        self.report: Optional[HealReport] = None

    def _started(self) -> Run:
        if self._run is None:
            loop = asyncio.get_running_loop()
            self._run = self._healer.start(self._workspace, self._steps, loop, stream=True)
        return self._run

    def __aiter__(self) -> HealStream:
        return self

    async def __anext__(self) -> Event:
        run = self._started()
        while not self._pending:
            if self._ended:
                raise StopAsyncIteration
            try:
                batch = await run.next_events()
            except asyncio.CancelledError:
                await _undo(run)
                raise
            if not batch:
                self._ended = True
                self.report = await _report(run)
                raise StopAsyncIteration
            self._pending.extend(batch)
        return self._pending.popleft()

    def cancel(self) -> None:
        """Cancels the run: the attempt in progress is undone, the events end with
        ``cancelled`` and the report's outcome is ``cancelled``."""
        self._started().cancel()

    async def __aenter__(self) -> HealStream:
        self._started()
        return self

    async def __aexit__(
        self,
        kind: Optional[Type[BaseException]],
        error: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self._run is not None and not self._ended:
            await _undo(self._run)
            self._ended = True


async def _wait(pending: Pending[_T]) -> _T:
    """Awaits native work: its pipe becomes readable when it has ended, and the result is then
    taken on this loop's thread (no runtime thread ever enters Python to resolve it).
    Cancelling the awaiting task stops the work."""
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    fd = pending.fileno()

    def wake() -> None:
        loop.remove_reader(fd)
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ended
    except asyncio.CancelledError:
        pending.cancel()
        raise
    finally:
        loop.remove_reader(fd)
    return pending.result()


class _CallbackLoop:
    """An event loop in a helper thread, for ``async def`` callbacks of a blocking run."""

    def __enter__(self) -> asyncio.AbstractEventLoop:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="selfheal-callbacks", daemon=True
        )
        self._thread.start()
        return self._loop

    def __exit__(self, *exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(_cancel_pending(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _cancel_pending() -> None:
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
