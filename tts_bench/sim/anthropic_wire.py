"""The Anthropic Messages API of the simulator server (`POST /v1/messages`).

Requests: `model` (`sim-small`, `sim/small`, `anthropic/sim-small` all mean `sim/small`),
`system` and `messages` (a string or a list of `{"type": "text", "text"}` blocks),
`max_tokens` (required), `temperature`, `thinking: {"type": "enabled", "budget_tokens"}`.
The budget must be at least 1024 and below `max_tokens`, and thinking requires temperature 1,
as on Anthropic's API; it becomes the simulator's `thinking_budget`.

Replies: `content` holds a `thinking` block (a short summary with a signature, as Anthropic
returns summarised thinking) when thinking is on and the model reasoned, then a `text` block;
`stop_reason` is `end_turn` or `max_tokens`; `usage.output_tokens` counts the thinking tokens
too (also reported as `output_tokens_details.thinking_tokens`). Prompt caching: a block with
`cache_control` marks the prefix up to it; the first request with a prefix writes it
(`cache_creation_input_tokens`), later ones read it (`cache_read_input_tokens`), and
`input_tokens` counts only the rest, as Anthropic bills it.

Errors come as `{"type": "error", "error": {"type", "message"}}`: 401 `authentication_error`
without an `x-api-key`, with one containing `invalid` (a key the provider rejects) or, when
the server requires keys (`--api-key-env`), with any other key; 400 `invalid_request_error`
(bad body; "prompt is too long" above the model's `context_window` of input); 404
`not_found_error` for an unknown model; 429 `rate_limit_error` from the server's limit
(`--rpm`, `--tpm`) with `retry-after` and `anthropic-ratelimit-requests-limit/-remaining/
-reset` (RFC 3339) and the same for tokens, which successful replies carry too. The server's
faults map to Anthropic's answers: `429` → 429 `rate_limit_error` with `retry-after` and
`anthropic-ratelimit-requests-remaining/-reset`; `503` → 529 `overloaded_error`; `500` → 500
`api_error`; `content_filter` → `stop_reason: "refusal"` with no content (as Anthropic's
classifiers stop a reply); `empty` → no content blocks; `slow`, `drop`, `malformed` and
`truncated_stream` (a cut body) behave as on the chat endpoint. Streaming is not spoken here
(400).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tts_bench.errors import UserError
from tts_bench.sim.ratelimit import Verdict, anthropic_headers, rfc3339
from tts_bench.sim.text import input_tokens

if TYPE_CHECKING:
    from tts_bench.sim.server import SimServer

MIN_THINKING_BUDGET = 1024
_STOP = {"stop": "end_turn", "length": "max_tokens"}


class Invalid(ValueError):
    """A request Anthropic would answer with 400 invalid_request_error."""


def error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """An error response in Anthropic's shape."""
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return web.json_response(body, status=status, headers=headers)


def _text(content: Any, where: str) -> tuple[str, bool]:
    """(text, has a cache_control mark) of a string or a list of text blocks."""
    if isinstance(content, str):
        return content, False
    if not isinstance(content, list):
        raise Invalid(f"{where}: expected a string or a list of content blocks")
    parts, marked = [], False
    for i, block in enumerate(content):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise Invalid(f"{where}.{i}: only text blocks are supported")
        parts.append(str(block.get("text", "")))
        marked = marked or bool(block.get("cache_control"))
    return "\n".join(parts), marked


def parse(body: Any) -> tuple[list[dict[str, str]], int, dict[str, Any]]:
    """(chat messages for the simulator, index of the last message in a cached prefix or -1,
    simulator params) of a Messages request body; Invalid when Anthropic would refuse it."""
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object")
    for name in ("model", "messages", "max_tokens"):
        if name not in body:
            raise Invalid(f"{name}: Field required")
    if body.get("stream"):
        raise Invalid("stream: streaming is not supported by the simulator's Messages endpoint")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise Invalid(f"max_tokens: expected a positive integer, got {max_tokens!r}")
    messages: list[dict[str, str]] = []
    cached = -1
    if body.get("system") is not None:
        text, marked = _text(body["system"], "system")
        messages.append({"role": "system", "content": text})
        cached = 0 if marked else cached
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise Invalid("messages: at least one message is required")
    for i, msg in enumerate(body["messages"]):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: expected 'user' or 'assistant'")
        text, marked = _text(msg.get("content"), f"messages.{i}.content")
        messages.append({"role": msg["role"], "content": text})
        cached = len(messages) - 1 if marked else cached
    params: dict[str, Any] = {}
    thinking = body.get("thinking")
    if thinking and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
            raise Invalid(
                f"thinking.enabled.budget_tokens: Input should be greater than or equal to "
                f"{MIN_THINKING_BUDGET}, got {budget!r}"
            )
        if budget >= max_tokens:
            raise Invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
        if body.get("temperature", 1) != 1:
            raise Invalid("`temperature` may only be set to 1 when thinking is enabled")
        params["thinking_budget"] = budget
    return messages, cached, params


def message(requested: str, out: Any, thinking: bool, cache: tuple[int, int]) -> dict:
    """The Messages response body of one simulated reply; cache: (written, read) tokens."""
    content: list[dict[str, Any]] = []
    if thinking and out.reasoning_tokens:
        summary = f"Worked through the problem step by step ({out.reasoning_tokens} tokens)."
        signature = hashlib.sha256(summary.encode()).hexdigest()
        content.append({"type": "thinking", "thinking": summary, "signature": signature})
    if out.text or not content:
        content.append({"type": "text", "text": out.text})
    written, read = cache
    usage: dict[str, Any] = {
        "input_tokens": max(int(out.input_tokens) - written - read, 0),
        "output_tokens": int(out.output_tokens) + int(out.reasoning_tokens),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
    }
    if thinking:
        usage["output_tokens_details"] = {"thinking_tokens": int(out.reasoning_tokens)}
    return {
        "id": f"msg_sim{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": requested,
        "content": content,
        "stop_reason": _STOP.get(out.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": usage,
    }


def _rate_headers(after: str) -> dict[str, str]:
    """The headers of an injected 429 (fault `429`)."""
    return {
        "retry-after": after,
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": rfc3339(float(after)),
    }


def handler(server: SimServer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The `/v1/messages` handler on `server`'s state (fault counters, request log)."""
    prefixes: set[str] = set()  # cached prompt prefixes (hashes) of this server

    async def messages(request: web.Request) -> web.StreamResponse:
        server.in_flight += 1
        server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            return await _answer(server, prefixes, request)
        finally:
            server.in_flight -= 1

    return messages


async def _answer(
    server: SimServer, prefixes: set[str], request: web.Request
) -> web.StreamResponse:
    from tts_bench.sim import server as srv

    key = request.headers.get("x-api-key", "").strip()
    if not key:
        return error(401, "authentication_error", "x-api-key header is required")
    # A key containing "invalid" is how a test sends one the provider rejects.
    if "invalid" in key or not server.key_accepted(key):
        return error(401, "authentication_error", "invalid x-api-key")
    raw = await request.read()
    try:
        body = json.loads(raw)
        chat, cached, params = parse(body)
        sample_index = server._sample_index(request, body)
        wanted = request.headers.get("X-Sim-Fault", "")
        if wanted and wanted not in srv.FAULT_KINDS:
            raise Invalid(f"X-Sim-Fault: unknown fault {wanted!r}")
        srv._header_number(request, "X-Sim-Fault-Times", int)
        srv._header_number(request, "X-Sim-Retry-After", float)
        slow_s = srv._header_number(request, "X-Sim-Slow-S", float, server.config.slow_s)
    except (ValueError, srv.BadRequest) as exc:  # Invalid, BadRequest, JSON errors
        return error(400, "invalid_request_error", str(exc))
    requested = str(body["model"])
    fingerprint = hashlib.sha256(raw + f"|{sample_index}".encode()).hexdigest()
    fault_key = fingerprint + "|" + wanted
    count = server._seen[fault_key] = server._seen.get(fault_key, 0) + 1
    fault = server._fault(request, fingerprint, count)
    model = srv.sim_model(requested.removeprefix("anthropic/"))
    server.log.append(srv.Hit(time.monotonic(), fingerprint, fault, sample_index, str(model), True))
    if fault == "429":
        after = request.headers.get("X-Sim-Retry-After", f"{server.config.retry_after_s:g}")
        msg = "Number of requests has exceeded your rate limit (simulated)"
        return error(429, "rate_limit_error", msg, _rate_headers(after))
    if fault == "503":
        return error(529, "overloaded_error", "Overloaded (simulated)")
    if fault == "500":
        return error(500, "api_error", "Internal server error (simulated)")
    if fault in ("drop", "malformed"):
        return await server._plain_fault(request, fault)
    if fault == "slow":
        await asyncio.sleep(slow_s)
    window = server.context_window(model)
    if model is None or window is None:
        return error(404, "not_found_error", f"model: {requested}")
    try:
        total = input_tokens(chat)
        if total > window:
            msg = f"prompt is too long: {total} tokens > {window} maximum"
            return error(400, "invalid_request_error", msg)
        sim_body = {"temperature": body.get("temperature", 1.0), "max_tokens": body["max_tokens"]}
        out = server._simulate(model, chat, {**sim_body, **params}, sample_index)
    except (UserError, ValueError, TypeError) as exc:
        return error(400, "invalid_request_error", str(exc))
    spent = int(out.input_tokens) + int(out.output_tokens) + int(out.reasoning_tokens)
    verdict = server.limiter.admit(model, spent)
    headers = anthropic_headers(verdict)
    if verdict.refused is not None:
        return error(429, "rate_limit_error", _limit_message(verdict), headers)
    cache = _cache(prefixes, model, chat, cached)
    await asyncio.sleep(out.latency_s * server.config.time_scale)
    reply = message(requested, out, "thinking_budget" in params, cache)
    if fault == "content_filter":  # Anthropic's classifiers stop a reply with "refusal"
        reply["content"], reply["stop_reason"] = [], "refusal"
    if fault == "empty":
        reply["content"] = []
    payload = json.dumps(reply).encode()
    if fault == "truncated_stream":
        return await server._cut(request, payload)
    return web.Response(body=payload, content_type="application/json", headers=headers)


def _limit_message(verdict: Verdict) -> str:
    """Anthropic's wording of a 429 from the server's limiter."""
    if verdict.refused == "requests":
        what = f"{verdict.rpm} requests per minute"
    else:
        what = f"{verdict.tpm} tokens per minute"
    return (
        f"This request would exceed the rate limit for your organization of {what}. "
        "For details, refer to: https://docs.claude.com/en/api/rate-limits."
    )


def _cache(prefixes: set[str], model: str, chat: list[dict], cached: int) -> tuple[int, int]:
    """(written, read) tokens of the cached prefix `chat[: cached + 1]` (none when -1)."""
    if cached < 0:
        return 0, 0
    prefix = chat[: cached + 1]
    size = input_tokens(prefix)
    key = hashlib.sha256(json.dumps([model, prefix]).encode()).hexdigest()
    if key in prefixes:
        return 0, size
    prefixes.add(key)
    return size, 0


__all__ = ["error", "handler", "message", "parse"]
