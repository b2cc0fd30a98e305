"""Direct OpenAI-compatible transport: POST {api_base}/chat/completions over one shared
aiohttp session (connection pooling, no per-call bookkeeping).

Used for `openai/<name>` models with `api_base` (vLLM, llama.cpp, Ollama, LM Studio, proxies,
`tts-bench sim serve`). The model sent is <name>. Every key of `spec.params` other than the
transport knobs below goes into the JSON body (top_p, stop, seed, reasoning_effort, ...).
`extra_headers` (a dict) is sent as HTTP headers. The sample index travels in the
`X-Sample-Index` header, which real providers ignore and the simulator server reads.

`stream: true` sends `stream: true` with `stream_options.include_usage` and reads the
server-sent events as they arrive (backends/stream.py): each reply gets its time to first
token. An endpoint that answers a stream request with plain JSON is read as plain JSON. The
rate-limit headers of every response (backends/base.rate_limit_headers) go on its replies and
errors.

A response body (plain or event stream) is read as a stream and abandoned once it passes `max_response_bytes`
(suite `limits.max_response_bytes`): the call fails as `api_error` and the connection is
closed, so a runaway endpoint costs at most that much memory. Error bodies are read only up
to `ERROR_BODY_BYTES`, enough to classify them (llm.errors).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from tts_bench.llm.backends.base import (
    CallError,
    Reply,
    clip,
    mean_logprob,
    parse_retry_after,
    rate_limit_headers,
    usage_from_openai,
    wants_stream,
)
from tts_bench.llm.backends.stream import SSEParser, StreamAssembler
from tts_bench.llm.errors import body_text, classify_http
from tts_bench.llm.types import ModelSpec

# Params that steer the transport; never sent in the body.
_NOT_BODY = {"api_base", "transport", "extra_headers", "api_key", "timeout", "num_retries"}
_NOT_BODY |= {"stream", "stream_options"}  # set below, from the `stream` knob

DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
ERROR_BODY_BYTES = 64 * 1024
_CHUNK = 64 * 1024


class OpenAIHTTPBackend:
    """One aiohttp session for the client's lifetime, created in the running loop.
    max_response_bytes: the largest response body accepted."""

    def __init__(self, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.max_response_bytes = max_response_bytes

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
        stream = wants_stream(spec)
        if stream:
            options = spec.params.get("stream_options")
            body["stream"] = True
            body["stream_options"] = {**(options if isinstance(options, dict) else {})}
            body["stream_options"]["include_usage"] = True  # usage comes in the last chunk
        headers = {"X-Sample-Index": str(sample_index)}
        headers.update(spec.params.get("extra_headers") or {})
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        session = self._get_session()
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s):
                async with session.post(
                    f"{base}/chat/completions", json=body, headers=headers
                ) as resp:
                    limits = rate_limit_headers(resp.headers)
                    if resp.status >= 400:
                        raw = await _read_prefix(resp, ERROR_BODY_BYTES)
                        raise CallError(
                            classify_http(resp.status, raw).status,
                            f"HTTP {resp.status}: {clip(body_text(raw))}",
                            parse_retry_after(resp.headers.get("Retry-After")),
                            limits,
                        )
                    if stream and "text/event-stream" in resp.headers.get("Content-Type", ""):
                        return await self._read_events(resp, started, limits)
                    raw = await _read_capped(resp, self.max_response_bytes)
        except TimeoutError:
            raise CallError("timeout", f"no response within {timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise CallError("connection_error", f"{type(exc).__name__}: {exc}") from None
        return _parse(raw, limits)

    async def _read_events(
        self, resp: aiohttp.ClientResponse, started: float, limits: dict[str, str] | None
    ) -> list[Reply]:
        """The replies of an event stream, each chunk timed as it arrives. Past
        max_response_bytes it fails as `api_error`, as a plain body would; a connection that
        breaks mid-stream leaves a truncated response: `malformed`, retried."""
        cap = self.max_response_bytes
        parser, stream = SSEParser(), StreamAssembler(started)
        seen = 0
        try:
            async for raw in resp.content.iter_any():
                seen += len(raw)
                if seen > cap:
                    raise CallError("api_error", _too_big(cap, f"more than {cap} bytes"))
                now = time.perf_counter()
                for data in parser.feed(raw):
                    stream.feed_data(data, now)
        except aiohttp.ClientError as exc:
            raise CallError(
                "malformed", f"stream broken off after {seen} bytes: {type(exc).__name__}"
            ) from None
        now = time.perf_counter()
        for data in parser.close():
            stream.feed_data(data, now)
        return stream.replies(strict=True, headers=limits)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


async def _read_prefix(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most the first `limit` bytes of the body (an error body only needs its start)."""
    buf = bytearray()
    while len(buf) < limit:
        chunk = await resp.content.read(limit - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The whole body, or CallError("api_error") as soon as it passes `cap` bytes; a
    Content-Length above the cap fails before anything is read."""
    announced = resp.content_length
    if announced is not None and announced > cap:
        raise CallError("api_error", _too_big(cap, f"Content-Length {announced}"))
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise CallError("api_error", _too_big(cap, f"more than {cap} bytes"))
    return bytes(buf)


def _too_big(cap: int, seen: str) -> str:
    return (
        f"response body too large ({seen}); limits.max_response_bytes is {cap}: "
        "raise it if this endpoint really sends responses that big"
    )


def _parse(raw: bytes, headers: dict[str, str] | None = None) -> list[Reply]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise CallError("malformed", f"response is not JSON: {clip(repr(raw[:200]), 80)}") from None
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
                headers=headers,
            )
        )
    return replies
