"""Ollama's chat API on the simulator server: `POST /api/chat` (litellm's `ollama_chat/`
with `api_base` at the server's root).

Requests: `model` (`sim-small`, `sim/small`), `messages`, `options` (`temperature`,
`num_predict` as the output limit, `seed`), `stream` (Ollama's default is true: newline-
delimited JSON objects, the last with `done: true`; false: one JSON object), `think` (true,
or an effort `low|medium|high`) for a model with reasoning. As Ollama answers: no key is
needed (one sent is ignored); an unknown model is 404 `model "x" not found, try pulling it
first`; `think` on a model without reasoning is 400 `"x" does not support thinking`; a bad
body is 400; errors are `{"error": "<message>"}`.

Replies carry `message` (`role`, `content`, and `thinking`, a short summary, when `think`
is on and the model reasoned), `done_reason` (`stop` or `length`), `prompt_eval_count` and
`eval_count` (output tokens, thinking included, as Ollama counts them) and the durations in
nanoseconds. Faults as on the chat endpoint, in Ollama's error shape: `429` (with
Retry-After), `500`, `503`, `empty` (no message), `slow`, `drop`, `malformed`,
`truncated_stream` (a cut body or stream).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tts_bench.errors import UserError
from tts_bench.sim import provider_wires as wires

if TYPE_CHECKING:
    from tts_bench.sim.server import SimServer

EFFORTS = ("low", "medium", "high")
_FAULT_STATUS = {"429": 429, "500": 500, "503": 503}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error in Ollama's shape: `{"error": "<message>"}`."""
    return web.json_response({"error": message}, status=status, headers=headers)


class Invalid(ValueError):
    """A request Ollama would answer with 400."""


def parse(body: Any) -> tuple[list[dict[str, str]], dict[str, Any], bool]:
    """(chat messages, simulator body fields, stream?) of an /api/chat body."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise Invalid("model is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise Invalid("messages: expected a list of messages")
    chat = []
    for m in messages:
        if m.get("role") not in ("system", "user", "assistant"):
            raise Invalid(f"invalid role: {m.get('role')!r}")
        chat.append({"role": m["role"], "content": str(m.get("content") or "")})
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise Invalid("options: expected an object")
    fields: dict[str, Any] = {"temperature": options.get("temperature", 0.8)}
    limit = options.get("num_predict")
    if isinstance(limit, int) and limit > 0:  # -1 (no limit) and -2 (fill) take the default
        fields["max_tokens"] = limit
    return chat, fields, body.get("stream", True) is not False


def _think(server: SimServer, model: str, requested: str, think: Any) -> dict[str, Any]:
    """The simulator parameters of `think`; Invalid for a model without reasoning."""
    if think in (None, False):
        return {}
    if not wires.reasons(server, model):
        raise Invalid(f'"{requested}" does not support thinking')
    if think is True:
        return {}
    if think not in EFFORTS:
        raise Invalid(f"think: expected true, false or one of {', '.join(EFFORTS)}")
    return {"reasoning_effort": think}


def handler(server: SimServer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The `/api/chat` handler on `server`'s state."""
    return wires.counted(server, _answer)


async def _answer(server: SimServer, request: web.Request) -> web.StreamResponse:
    from tts_bench.sim import server as srv

    raw = await request.read()
    try:
        body = json.loads(raw)
        chat, fields, streamed = parse(body)
        requested = body["model"]
        model = wires.served_model(server, requested)
        got = wires.intake(server, request, raw, body, model, "Authorization" in request.headers)
    except (ValueError, srv.BadRequest) as exc:  # Invalid, BadRequest, JSON errors
        return error(400, str(exc))
    fault = got.fault
    if fault in _FAULT_STATUS:
        headers = {"Retry-After": wires.retry_after(server, request)} if fault == "429" else None
        return error(_FAULT_STATUS[fault], f"simulated {fault}", headers)
    if fault in ("drop", "malformed"):
        return await server._plain_fault(request, fault)
    if fault == "slow":
        await asyncio.sleep(got.slow_s)
    if model is None:
        return error(404, f'model "{requested}" not found, try pulling it first')
    try:
        params = _think(server, model, requested, body.get("think"))
        out = server._simulate(model, chat, {**fields, **params}, got.sample_index)
    except (Invalid, UserError, ValueError, TypeError) as exc:
        return error(400, str(exc))
    thinking = bool(body.get("think")) and out.reasoning_tokens > 0
    if streamed:
        return await _stream(server, request, requested, out, thinking, fault)
    await asyncio.sleep(out.latency_s * server.config.time_scale)
    reply = {**_head(requested), "message": _message(out, thinking), **_done(out)}
    if fault == "empty":
        reply.pop("message")
    payload = json.dumps(reply).encode()
    if fault == "truncated_stream":
        return await server._cut(request, payload)
    return web.Response(body=payload, content_type="application/json")


def _head(requested: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"model": requested, "created_at": now}


def _message(out: Any, thinking: bool) -> dict[str, str]:
    msg = {"role": "assistant", "content": out.text}
    if thinking:
        msg["thinking"] = (
            f"Worked through the problem step by step ({out.reasoning_tokens} tokens)."
        )
    return msg


def _done(out: Any) -> dict[str, Any]:
    """The closing fields: done, why, token counts and durations (nanoseconds)."""
    ns = int(out.latency_s * 1e9)
    prefill = int(getattr(out, "ttft_s", 0.0) * 1e9)
    return {
        "done": True,
        "done_reason": "length" if out.finish_reason == "length" else "stop",
        "total_duration": ns,
        "load_duration": 0,
        "prompt_eval_count": int(out.input_tokens),
        "prompt_eval_duration": prefill,
        "eval_count": int(out.output_tokens) + int(out.reasoning_tokens),
        "eval_duration": max(ns - prefill, 0),
    }


async def _stream(
    server: SimServer,
    request: web.Request,
    requested: str,
    out: Any,
    thinking: bool,
    fault: str | None,
) -> web.StreamResponse:
    """Newline-delimited JSON: the text in pieces at the simulated pace, then the done line."""
    from tts_bench.sim.wire import schedule

    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    events = [e for e in schedule([out]) if e[2]]  # (time, index, delta, finish); no finish
    lines = []
    if thinking:
        lines.append(
            {"role": "assistant", "content": "", "thinking": _message(out, True)["thinking"]}
        )
    lines += [
        {"role": "assistant", "content": delta.get("content", "")} for _, _, delta, _ in events
    ]
    times = [events[0][0] if events else 0.0] * (len(lines) - len(events)) + [e[0] for e in events]
    loop = asyncio.get_running_loop()
    start = loop.time()
    scale = server.config.time_scale
    for sent, (at, message) in enumerate(zip(times, lines, strict=True)):
        await asyncio.sleep(max(0.0, start + at * scale - loop.time()))
        await resp.write(
            (json.dumps({**_head(requested), "message": message, "done": False}) + "\n").encode()
        )
        if fault == "truncated_stream" and sent >= len(lines) // 2:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
    await asyncio.sleep(max(0.0, start + out.latency_s * scale - loop.time()))
    last = {**_head(requested), "message": {"role": "assistant", "content": ""}, **_done(out)}
    await resp.write((json.dumps(last) + "\n").encode())
    await resp.write_eof()
    return resp


__all__ = ["EFFORTS", "error", "handler", "parse"]
