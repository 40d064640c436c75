"""The built-in providers and their layers against a server on 127.0.0.1 that speaks
OpenAI's wire format: streamed and whole answers, 429 with Retry-After, 5xx, fallback and
budget."""

from __future__ import annotations

import pytest

import selfheal
from conftest import OpenAIServer, error_reply, json_completion

FAST_RETRY = {"max_attempts": 3, "base_delay": 0.01, "max_delay": 0.05}


async def test_complete_through_the_layers(openai_server: OpenAIServer) -> None:
    openai_server.replies.append(json_completion("pong"))
    provider = selfheal.OpenAI("sk-test", base_url=openai_server.base_url, model="gpt-4o-mini")
    assert (provider.name, provider.model) == ("openai", "gpt-4o-mini")
    answer = await provider.complete("ping", system="answer briefly", max_tokens=10)
    assert answer["text"] == "pong"
    assert answer["usage"] == {"input_tokens": 12, "output_tokens": 5}
    body = openai_server.requests[0]["body"]
    assert body["messages"][0] == {"role": "system", "content": "answer briefly"}
    assert body["messages"][-1]["content"] == "ping"


async def test_429_with_retry_after_is_retried(openai_server: OpenAIServer) -> None:
    openai_server.replies.extend([
        error_reply(429, "slow down", {"retry-after": "0"}),
        error_reply(503, "overloaded"),
        json_completion("third time"),
    ])
    provider = selfheal.OpenAI("sk-test", base_url=openai_server.base_url, retry=FAST_RETRY)
    answer = await provider.complete("hi")
    assert answer["text"] == "third time"
    assert len(openai_server.requests) == 3


async def test_without_retries_a_5xx_is_a_provider_error(openai_server: OpenAIServer) -> None:
    openai_server.replies.append(error_reply(500, "boom"))
    provider = selfheal.OpenAI("sk-test", base_url=openai_server.base_url, retry=False, breaker=False)
    with pytest.raises(selfheal.ProviderError, match="boom"):
        await provider.complete("hi")
    assert isinstance(selfheal.ProviderError("x"), selfheal.SelfHealError)


async def test_a_failing_provider_falls_back_to_a_python_one(openai_server: OpenAIServer) -> None:
    class Backup:
        name = "backup"

        async def complete(self, request: selfheal.Request) -> str:
            return "from the backup: " + request.prompt

    openai_server.replies.extend([error_reply(500, "down")] * 3)
    provider = selfheal.OpenAI(
        "sk-test", base_url=openai_server.base_url, retry=FAST_RETRY, fallback=[Backup()]
    )
    assert provider.name == "fallback(openai, backup)"
    answer = await provider.complete("hi")
    assert answer["text"] == "from the backup: hi"
    assert answer["provider"] == "backup"
    assert len(openai_server.requests) == 3

    class Raising:
        def complete(self, request: selfheal.Request) -> str:
            raise ValueError("backup broke")

    openai_server.replies.append(error_reply(500, "down"))
    chain = selfheal.OpenAI("sk-test", base_url=openai_server.base_url, retry=False, fallback=[Raising()])
    with pytest.raises(ValueError, match="backup broke"):
        await chain.complete("hi")
    chain = selfheal.Fallback([selfheal.OpenAI("sk-test", base_url=openai_server.base_url, retry=False)])
    assert chain.name == "fallback(openai)"


async def test_the_budget_refuses_calls_it_cannot_afford(openai_server: OpenAIServer) -> None:
    openai_server.replies.append(json_completion("pong"))
    provider = selfheal.OpenAI("sk-test", base_url=openai_server.base_url, max_tokens=200, retry=False)
    await provider.complete("ping", max_tokens=50)
    # 17 tokens spent; the next call could take its prompt and 190 more: over 200.
    with pytest.raises(selfheal.BudgetExceeded):
        await provider.complete("ping again", max_tokens=190)
    assert len(openai_server.requests) == 1


def test_configuration_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(selfheal.ConfigError, match="ANTHROPIC_API_KEY"):
        selfheal.Anthropic()
    with pytest.raises(selfheal.ConfigError):
        selfheal.OpenAI()
    with pytest.raises(selfheal.ConfigError):
        selfheal.Gemini()
    assert selfheal.Gemini("key", model="gemini-2.0-flash").model == "gemini-2.0-flash"
    assert selfheal.Anthropic("key").name == "anthropic"
    with pytest.raises(selfheal.ConfigError, match="retry: unknown field `tries`"):
        selfheal.Anthropic("key", retry={"tries": 2})
    with pytest.raises(TypeError):
        selfheal.Healer(provider=object())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert selfheal.OpenAI().name == "openai"
