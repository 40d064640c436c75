"""Type stubs of the native half of ``selfheal`` (import ``selfheal`` instead)."""

import asyncio
import os
import subprocess
from typing import Any, Awaitable, Callable, Dict, Generator, Generic, List, Literal, Mapping, Optional, Protocol, Sequence, Tuple, TypeVar, TypedDict, Union

__version__: str

Category = Literal["dependency", "syntax", "type", "runtime", "resource", "configuration", "network", "unknown"]
Severity = Literal["critical", "error", "warning"]
Outcome = Literal["healed", "healed_with_changed_plan", "already_green", "escalated", "failed", "cancelled"]
FixSource = Literal["fixer", "cache", "llm", "fallback"]
PathLike = Union[str, "os.PathLike[str]"]

_T = TypeVar("_T")

class Pending(Generic[_T]):
    """Native work in progress: ``await`` it. Dropping it, or ``cancel()``, stops the work."""

    def fileno(self) -> int: ...
    def result(self) -> _T: ...
    def cancel(self) -> None: ...
    def __await__(self) -> Generator[Any, None, _T]: ...

class SelfHealError(Exception): ...
class ProviderError(SelfHealError): ...
class BuildError(SelfHealError): ...
class ConfigError(SelfHealError): ...
class CacheError(SelfHealError): ...
class BudgetExceeded(SelfHealError): ...
class Cancelled(SelfHealError): ...
class WorkspaceError(SelfHealError): ...
class JsonNotFound(SelfHealError): ...
class JsonTooDeep(JsonNotFound): ...

class Usage(TypedDict):
    input_tokens: int
    output_tokens: int

class Diagnostic:
    """One error or warning found in a build log."""

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Diagnostic: ...
    @property
    def tool(self) -> str: ...
    @property
    def category(self) -> Category: ...
    @property
    def subcategory(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def code(self) -> Optional[str]: ...
    @property
    def message(self) -> str: ...
    @property
    def file(self) -> Optional[str]: ...
    @property
    def line(self) -> Optional[int]: ...
    @property
    def column(self) -> Optional[int]: ...
    @property
    def end_line(self) -> Optional[int]: ...
    @property
    def end_column(self) -> Optional[int]: ...
    @property
    def snippet(self) -> Optional[str]: ...
    @property
    def stack(self) -> List[Dict[str, Any]]: ...
    @property
    def fixits(self) -> List[Dict[str, Any]]: ...
    @property
    def notes(self) -> List[str]: ...
    @property
    def suggestions(self) -> List[str]: ...
    @property
    def confidence(self) -> float: ...
    @property
    def log_lines(self) -> Tuple[int, int]: ...
    @property
    def fingerprint(self) -> str: ...
    def to_dict(self) -> Dict[str, Any]: ...

class ErrorParser(Protocol):
    """A custom error parser: reads the whole cleaned log, returns diagnostic dicts
    (``message`` required; ``file``, ``line``, ``column``, ``code``, ``category``,
    ``severity``, ``tool`` … as in ``Diagnostic.to_dict()``)."""

    def parse(self, log: str, /) -> Sequence[Mapping[str, Any]]: ...

CustomFormat = Union[Mapping[str, Any], ErrorParser]

def parse(log: Union[str, bytes], *, custom_formats: Optional[List[CustomFormat]] = None) -> List[Diagnostic]:
    """Parses a build or test log into diagnostics, errors first, root causes first."""

class Recovered:
    """What ``recover_json`` found."""

    @property
    def value(self) -> Any: ...
    @property
    def stage(self) -> Literal["strict", "repaired", "extracted", "truncated"]: ...
    @property
    def repairs(self) -> List[Dict[str, Any]]: ...
    @property
    def span(self) -> Tuple[int, int]: ...

def recover_json(text: str, schema: Union[Literal["fix"], Sequence[str], None] = None) -> Recovered:
    """Recovers the JSON in an LLM reply; raises ``JsonNotFound`` when there is none, and
    ``JsonTooDeep`` (a ``JsonNotFound``) when it nests deeper than 128 levels."""

class Message:
    @property
    def role(self) -> Literal["user", "assistant"]: ...
    @property
    def content(self) -> str: ...

class Request:
    """What a Python provider's ``complete`` receives."""

    @property
    def system(self) -> Optional[str]: ...
    @property
    def messages(self) -> List[Message]: ...
    @property
    def model(self) -> str: ...
    @property
    def max_tokens(self) -> int: ...
    @property
    def temperature(self) -> Optional[float]: ...
    @property
    def json(self) -> bool: ...
    @property
    def prompt(self) -> str: ...

class Reply(TypedDict):
    text: str
    usage: Usage

class Completion(TypedDict):
    text: str
    usage: Usage
    model: str
    provider: str
    stop_reason: Any
    latency_ms: int

class HostProvider(Protocol):
    """Any object with ``complete(request)``, sync or ``async def``, returning the reply text
    or ``{"text": ..., "usage": {"input_tokens": ..., "output_tokens": ...}}``."""

    def complete(self, request: Request, /) -> Union[str, Mapping[str, Any], Awaitable[Union[str, Mapping[str, Any]]]]: ...

class RetryOptions(TypedDict, total=False):
    max_attempts: int
    base_delay: float
    multiplier: float
    max_delay: float
    jitter: float
    max_retry_after: float

class BreakerOptions(TypedDict, total=False):
    failure_threshold: int
    reset_timeout: float

class Provider:
    """A model provider with its layers."""

    @property
    def name(self) -> str: ...
    @property
    def model(self) -> str: ...
    def complete(
        self, prompt: str, *, system: Optional[str] = None, model: Optional[str] = None, max_tokens: Optional[int] = None
    ) -> Pending[Completion]: ...

AnyProvider = Union[Provider, HostProvider]

class _HttpProvider(Provider):
    """The options of the built-in HTTP providers (not a runtime class)."""

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        model: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: Optional[float] = None,
        retry: Union[bool, RetryOptions, None] = None,
        breaker: Union[bool, BreakerOptions, None] = None,
        max_tokens: Optional[int] = None,
        max_usd: Optional[float] = None,
        fallback: Sequence[AnyProvider] = ...,
    ) -> None: ...

class Anthropic(_HttpProvider): ...
class OpenAI(_HttpProvider): ...
class Gemini(_HttpProvider): ...

class Fallback(Provider):
    def __init__(self, providers: Sequence[AnyProvider]) -> None: ...

class Step:
    """One build step."""

    def __init__(
        self,
        command: Union[str, Sequence[str]],
        *,
        name: Optional[str] = None,
        timeout: Optional[float] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        continue_on_failure: bool = False,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def argv(self) -> List[str]: ...
    @property
    def timeout(self) -> Optional[float]: ...
    @property
    def env(self) -> Dict[str, str]: ...
    @property
    def cwd(self) -> Optional[str]: ...
    @property
    def continue_on_failure(self) -> bool: ...

class StepDict(TypedDict, total=False):
    command: Union[str, Sequence[str]]
    name: str
    timeout: float
    env: Mapping[str, str]
    cwd: str
    continue_on_failure: bool

StepSpec = Union[str, Step, StepDict]

class StepResult(TypedDict, total=False):
    exit_code: int
    output: Union[str, bytes]
    stdout: Union[str, bytes]
    stderr: Union[str, bytes]
    timed_out: bool

class HostBuilder(Protocol):
    """Any object with ``run(step, workspace)``, sync or ``async def``."""

    def run(
        self, step: Step, workspace: str, /
    ) -> Union[Mapping[str, Any], "subprocess.CompletedProcess[Any]", Awaitable[Union[Mapping[str, Any], "subprocess.CompletedProcess[Any]"]]]: ...

class Builder:
    """Where build steps run."""

class LocalBuilder(Builder):
    def __init__(self, *, timeout: Optional[float] = None) -> None: ...

class DockerBuilder(Builder):
    def __init__(
        self,
        image: str,
        *,
        network: bool = False,
        allow_host_addresses: bool = False,
        memory_mib: Optional[int] = None,
        cpus: Optional[float] = None,
        user: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> None: ...

class ImportReport(TypedDict):
    read: int
    added: int
    refused: int

class FixContext(TypedDict, total=False):
    language: Optional[str]
    framework: Optional[str]
    dependencies: Dict[str, str]

class FixCache:
    """The fixes that turned builds green, served again for the same kind of error."""

    def __init__(self, dir: Optional[PathLike] = None, *, url: Optional[str] = None) -> None: ...
    @property
    def dir(self) -> str: ...
    def stats(self) -> Dict[str, Any]: ...
    def sync(self) -> None: ...
    def lookup(
        self, diagnostic: Union[Diagnostic, Mapping[str, Any]], *, context: Optional[FixContext] = None
    ) -> Optional[Dict[str, Any]]: ...
    def prune(self) -> int: ...
    def export(self, path: PathLike) -> int: ...
    def import_(self, path: PathLike) -> ImportReport: ...

class HealthMonitor:
    """Sliding-window figures over the runs of the healers it is given to."""

    def __init__(self, window: float = 3600.0) -> None: ...
    def health(self) -> Dict[str, Any]: ...

class Event:
    """One thing that happened during a heal run; its fields are attributes."""

    @property
    def kind(self) -> str: ...
    @property
    def is_last(self) -> bool: ...
    def __getattr__(self, name: str) -> Any: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Attempt(TypedDict):
    number: int
    source: Optional[FixSource]
    by: Optional[str]
    diff: str
    rolled_back: bool
    apply_error: Optional[str]
    refused: List[Dict[str, Any]]
    installs: List[Install]
    errors: int
    new: int
    fixed: int
    persisting: int
    duration: int

class Install(TypedDict, total=False):
    tool: Literal["npm", "pnpm", "yarn", "pip"]
    package: str
    status: Literal["installed", "failed", "refused"]
    version: Optional[str]
    reason: str

class KeptFix(TypedDict):
    attempt: int
    source: FixSource
    by: Optional[str]
    files: List[str]

class Escalation(TypedDict):
    reason: str
    diagnostics: List[Dict[str, Any]]
    next_action: str

class HealReport:
    """How a heal run ended."""

    @property
    def outcome(self) -> Outcome: ...
    @property
    def ok(self) -> bool: ...
    @property
    def attempts(self) -> List[Attempt]: ...
    @property
    def diagnostics(self) -> List[Diagnostic]: ...
    @property
    def fixes(self) -> List[KeptFix]: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def cost_usd(self) -> float: ...
    @property
    def escalation(self) -> Optional[Escalation]: ...
    @property
    def changed_plan(self) -> List[str]: ...
    @property
    def protected_changes(self) -> List[Dict[str, Any]]: ...
    @property
    def duration(self) -> float: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Run:
    """One heal run in progress (see ``Healer.heal``, ``heal_sync`` and ``stream``)."""

    def cancel(self) -> None: ...
    def report(self) -> Pending[HealReport]: ...
    def wait(self) -> HealReport: ...
    def next_events(self) -> Pending[List[Event]]: ...

class HealConfig(TypedDict, total=False):
    max_attempts: int
    timeout: float
    max_tokens: int
    max_usd: float
    stuck_after: int
    keep_partial: bool
    backoff: float
    max_backoff: float
    jitter_seed: int
    context: FixContext
    fixer_safety: Literal["safe", "likely", "unsafe"]
    allow: List[Literal["tests", "ci", "build-scripts"]]
    max_edits: int
    max_file_bytes: int
    max_proposal_bytes: int
    max_reply_bytes: int
    verify: List[StepSpec]
    install: bool
    python_env: str

class Healer:
    def __init__(
        self,
        provider: Optional[AnyProvider] = None,
        builder: Union[Builder, HostBuilder, None] = None,
        cache: Optional[FixCache] = None,
        config: Optional[HealConfig] = None,
        fixers: Optional[Sequence[str]] = None,
        parsers: Optional[List[CustomFormat]] = None,
        on_escalation: Optional[Callable[[HealReport], object]] = None,
        monitor: Optional[HealthMonitor] = None,
    ) -> None: ...
    def start(
        self,
        workspace: PathLike,
        steps: Sequence[StepSpec],
        event_loop: asyncio.AbstractEventLoop,
        *,
        on_event: Optional[Callable[[Event], object]] = None,
        stream: bool = False,
    ) -> Run: ...

def default_fixers() -> List[str]:
    """The names of the deterministic fixers a Healer uses by default, in order."""
