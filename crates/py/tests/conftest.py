"""Shared fixtures: a broken Python project, and an OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[3]

BROKEN_MAIN = """\
def total(items):
    return "total: " + sum(items)


print(total([1, 2, 3]))
"""
BROKEN_LINE = '    return "total: " + sum(items)'
FIXED_LINE = '    return "total: " + str(sum(items))'


def fix_reply(search: str = BROKEN_LINE, replace: str = FIXED_LINE) -> str:
    """A fix as models write them: prose around a fenced block with a trailing comma."""
    fix = {"file": "main.py", "action": "patch", "search": search, "replace": replace}
    return (
        "An int is added to a str.\n\n```json\n"
        + '{"analysis": "str + int", "fixes": [' + json.dumps(fix) + "],}\n```\n"
    )


class Project:
    """A Python project whose build (`python main.py`) fails with a TypeError that no
    deterministic fixer resolves: only a model's fix heals it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "main.py").write_text(BROKEN_MAIN)

    @property
    def main(self) -> str:
        return (self.root / "main.py").read_text()

    @property
    def steps(self) -> List[str]:
        return [f"{sys.executable} main.py"]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "app")


#: Heal quickly: no backoff between attempts, no packages installed from the network.
QUICK = {"backoff": 0.0, "timeout": 60.0}


Reply = Tuple[int, Dict[str, str], bytes]


def sse_completion(text: str, model: str = "gpt-4o-2024-08-06") -> Reply:
    """A streamed chat completion in OpenAI's wire format (usage 90 in, 33 out)."""

    def chunk(choices: List[Dict[str, Any]], **extra: Any) -> str:
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                "choices": choices, **extra}
        return "data: " + json.dumps(body) + "\n\n"

    events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    for start in range(0, len(text), 7):
        events.append(chunk([{"index": 0, "delta": {"content": text[start:start + 7]}, "finish_reason": None}]))
    events.append(chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events.append(chunk([], usage={"prompt_tokens": 90, "completion_tokens": 33, "total_tokens": 123}))
    events.append("data: [DONE]\n\n")
    return 200, {"content-type": "text/event-stream"}, "".join(events).encode()


def json_completion(text: str, model: str = "gpt-4o-2024-08-06") -> Reply:
    body = {"id": "chatcmpl-2", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}
    return 200, {"content-type": "application/json"}, json.dumps(body).encode()


def error_reply(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> Reply:
    body = {"error": {"message": message, "type": "server_error" if status >= 500 else "rate_limit_exceeded"}}
    return status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()


class OpenAIServer:
    """Answers POST /v1/chat/completions with the queued replies, in order; records requests."""

    def __init__(self) -> None:
        self.replies: Deque[Reply] = deque()
        self.requests: List[Dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "body": body,
                                        "authorization": self.headers.get("authorization")})
                if self.path != "/v1/chat/completions" or not server.replies:
                    status, headers, payload = error_reply(500, "no reply queued")
                else:
                    status, headers, payload = server.replies.popleft()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    yield server
    server.close()


@pytest.fixture
def fixtures() -> Path:
    return REPO / "tests" / "fixtures"


@pytest.fixture
def copy_tree(tmp_path: Path):  # type: ignore[no-untyped-def]
    def copy(source: Path) -> Path:
        target = tmp_path / source.name
        shutil.copytree(source, target)
        return target

    return copy
