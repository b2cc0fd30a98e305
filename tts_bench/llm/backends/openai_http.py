"""Direct OpenAI-compatible transport: POST {api_base}/chat/completions over one shared
aiohttp session (connection pooling, no per-call bookkeeping).

Used for `openai/<name>` models with `api_base` (vLLM, llama.cpp, Ollama, LM Studio, proxies,
`tts-bench sim serve`). The model sent is <name>. Every key of `spec.params` other than the
transport knobs below goes into the JSON body (top_p, stop, seed, reasoning_effort, ...).
`extra_headers` (a dict) is sent as HTTP headers. The sample index travels in the
`X-Sample-Index` header, which real providers ignore and the simulator server reads.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tts_bench.llm.backends.base import (
    CallError,
    Reply,
    mean_logprob,
    parse_retry_after,
    status_for_http,
    usage_from_openai,
)
from tts_bench.llm.types import ModelSpec

# Params that steer the transport; never sent in the body.
_NOT_BODY = {"api_base", "transport", "extra_headers", "api_key", "timeout", "num_retries"}


class OpenAIHTTPBackend:
    """One aiohttp session for the client's lifetime, created in the running loop."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # The client's own semaphore bounds concurrency; the connector must not add a cap.
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                json_serialize=json.dumps,
            )
        return self._session

    async def call(
        self,
        spec: ModelSpec,
        messages: list[dict[str, str]],
        *,
        sample_index: int,
        n: int,
        timeout_s: float,
        api_key: str | None,
    ) -> list[Reply]:
        base = str(spec.params["api_base"]).rstrip("/")
        model = spec.model.split("/", 1)[1] if spec.model.startswith("openai/") else spec.model
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "temperature": spec.temperature,
            "max_tokens": spec.max_tokens,
        }
        if n != 1:
            body["n"] = n
        for key, value in spec.params.items():
            if key not in _NOT_BODY:
                body[key] = value
        headers = {"X-Sample-Index": str(sample_index)}
        headers.update(spec.params.get("extra_headers") or {})
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        session = self._get_session()
        try:
            async with asyncio.timeout(timeout_s):
                async with session.post(
                    f"{base}/chat/completions", json=body, headers=headers
                ) as resp:
                    raw = await resp.read()
                    if resp.status >= 400:
                        raise CallError(
                            status_for_http(resp.status),
                            f"HTTP {resp.status}: {_error_text(raw)}",
                            parse_retry_after(resp.headers.get("Retry-After")),
                        )
        except TimeoutError:
            raise CallError("timeout", f"no response within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise CallError("connection_error", f"{type(exc).__name__}: {exc}") from None
        return _parse(raw)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message") if isinstance(err, dict) else None
        return str(msg or err)[:300]
    except (ValueError, AttributeError):
        return raw[:300].decode("utf-8", "replace")


def _parse(raw: bytes) -> list[Reply]:
    try:
        data = json.loads(raw)
    except ValueError:
        raise CallError("malformed", f"response is not JSON: {raw[:80]!r}") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list):
        raise CallError("malformed", "response has no choices")
    usage, known = usage_from_openai(data.get("usage"))
    replies = []
    for choice in sorted(choices, key=lambda c: c.get("index", 0)):
        message = choice.get("message")
        if not isinstance(message, dict):
            raise CallError("malformed", "choice has no message")
        replies.append(
            Reply(
                text=message.get("content") or "",
                finish_reason=choice.get("finish_reason"),
                usage=usage,
                usage_known=known,
                logprob=mean_logprob(choice),
            )
        )
    return replies
