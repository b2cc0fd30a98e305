"""Gemini's generateContent on the simulator server:
`POST /v1beta/models/{model}:generateContent` (litellm's `gemini/` with `api_base` set to
the server's root plus `/v1beta`).

Requests: `contents` (`role` `user` or `model`, `parts` of `{"text"}`), `system_instruction`
(or `systemInstruction`), `generationConfig` (`temperature`, `maxOutputTokens` /
`max_output_tokens`, `candidateCount`, `thinkingConfig` with `thinkingBudget` or
`thinkingLevel` for a model with reasoning, `includeThoughts` for a thought summary part). The key comes in `x-goog-api-key` or the `key` query parameter.

As Gemini answers, errors `{"error": {"code", "message", "status"}}`: no key, 403
`PERMISSION_DENIED`; a key the server does not accept (one containing `invalid`, or not
among `--api-key-env`'s), 400 `INVALID_ARGUMENT` "API key not valid" (Gemini's status for a
bad key); an unknown model, 404 `NOT_FOUND`; a thinking budget or level for a model without
reasoning, 400 `INVALID_ARGUMENT`; a bad body, 400. Replies: `candidates` (`content.parts`,
`finishReason` `STOP` or `MAX_TOKENS`), `usageMetadata` (`promptTokenCount`,
`candidatesTokenCount`, `thoughtsTokenCount`, `totalTokenCount`). Faults in Gemini's shape:
`429` 429 `RESOURCE_EXHAUSTED` (with Retry-After), `503` 503 `UNAVAILABLE` (overloaded),
`500` 500 `INTERNAL`, `empty` (no candidates), `slow`, `drop`, `malformed`,
`truncated_stream` (a cut body). Streaming (`streamGenerateContent`) is not spoken (404).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tts_bench.errors import UserError
from tts_bench.sim import provider_wires as wires

if TYPE_CHECKING:
    from tts_bench.sim.server import SimServer

PATH = "/v1beta/models/{target}"  # {target} is "<model>:<method>"
_FAULTS = {
    "429": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    "503": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "500": (500, "INTERNAL", "An internal error has occurred."),
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}
_LEVELS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}


def error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """An error in Gemini's shape."""
    body = {"error": {"code": status, "message": message, "status": kind}}
    return web.json_response(body, status=status, headers=headers)


class Invalid(ValueError):
    """A request Gemini would answer with 400 INVALID_ARGUMENT."""


def parse(body: Any) -> tuple[list[dict[str, str]], dict[str, Any], int, dict[str, Any]]:
    """(chat messages, simulator body fields, candidate count, thinkingConfig)."""
    if not isinstance(body, dict):
        raise Invalid("Invalid JSON payload received.")
    chat = []
    system = body.get("system_instruction") or body.get("systemInstruction")
    if system is not None:
        chat.append({"role": "system", "content": _text(system, "system_instruction")})
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    for i, c in enumerate(contents):
        role = c.get("role", "user") if isinstance(c, dict) else None
        if role not in ("user", "model"):
            raise Invalid(f"* GenerateContentRequest.contents[{i}].role: expected user or model")
        text = _text(c, f"contents[{i}]")
        chat.append({"role": "user" if role == "user" else "assistant", "content": text})
    config = body.get("generationConfig") or body.get("generation_config") or {}
    if not isinstance(config, dict):
        raise Invalid("* GenerateContentRequest.generation_config: expected an object")
    fields: dict[str, Any] = {"temperature": config.get("temperature", 1.0)}
    limit = config.get("maxOutputTokens", config.get("max_output_tokens"))
    if limit is not None:
        fields["max_tokens"] = limit
    n = config.get("candidateCount", config.get("candidate_count", 1))
    thinking = config.get("thinkingConfig") or config.get("thinking_config") or {}
    if not isinstance(thinking, dict):
        raise Invalid(
            "* GenerateContentRequest.generation_config.thinking_config: expected an object"
        )
    return chat, fields, int(n), thinking


def _thinking(server: SimServer, model: str, thinking: dict[str, Any]) -> dict[str, Any]:
    """The simulator parameters of a thinkingConfig: a budget (0 turns thinking off, as on
    Gemini 2.5 Flash) or a level (`low`, `high`; `minimal` and `medium` as low and medium
    effort); Invalid for a model without reasoning."""
    budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
    level = thinking.get("thinkingLevel", thinking.get("thinking_level"))
    if not budget and level is None:
        return {}
    if not wires.reasons(server, model):
        what = "Thinking level" if level is not None else "Thinking"
        raise Invalid(f"{what} is not supported for this model.")
    if budget:
        return {"thinking_budget": int(budget)}
    if level not in _LEVELS:
        raise Invalid(f"* thinking_config.thinking_level: unknown level {level!r}")
    return {"reasoning_effort": _LEVELS[level]}


def _text(content: Any, where: str) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        raise Invalid(f"* GenerateContentRequest.{where}.parts: expected a list of parts")
    return "\n".join(str(p.get("text", "")) for p in parts)


def handler(server: SimServer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The generateContent handler on `server`'s state."""
    return wires.counted(server, _answer)


async def _answer(server: SimServer, request: web.Request) -> web.StreamResponse:
    from tts_bench.sim import server as srv

    name, _, method = request.match_info["target"].rpartition(":")
    if method != "generateContent":
        return error(404, "NOT_FOUND", f"Method {method!r} is not spoken by the simulator.")
    key = request.headers.get("x-goog-api-key") or request.query.get("key") or ""
    if not key:
        return error(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity)."
            " Please use API Key or other form of API consumer identity to call this API.",
        )
    if "invalid" in key or not server.key_accepted(key):
        return error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
    raw = await request.read()
    try:
        body = json.loads(raw)
        chat, fields, n, thinking = parse(body)
        model = wires.served_model(server, name)
        got = wires.intake(server, request, raw, body, model, True)
    except (ValueError, TypeError, AttributeError, srv.BadRequest) as exc:
        return error(400, "INVALID_ARGUMENT", str(exc))
    faulted = await wires.fault_response(server, request, got, _FAULTS, error)
    if faulted is not None:
        return faulted
    if model is None:
        return error(
            404,
            "NOT_FOUND",
            f"models/{name} is not found for API version v1beta, or is not supported for "
            "generateContent. Call ListModels to see the list of available models and their "
            "supported methods.",
        )
    try:
        params = _thinking(server, model, thinking)
        idx = got.sample_index
        outs = [server._simulate(model, chat, {**fields, **params}, idx + i) for i in range(n)]
    except (UserError, ValueError, TypeError) as exc:
        return error(400, "INVALID_ARGUMENT", str(exc))
    await asyncio.sleep(max(o.latency_s for o in outs) * server.config.time_scale)
    reply = _reply(name, outs, bool(params) and bool(thinking.get("includeThoughts")))
    if got.fault == "empty":
        reply["candidates"] = []
    payload = json.dumps(reply).encode()
    if got.fault == "truncated_stream":
        return await server._cut(request, payload)
    return web.Response(body=payload, content_type="application/json")


def _reply(name: str, outs: list[Any], thoughts_shown: bool) -> dict[str, Any]:
    """The response body; thoughts_shown: a thought summary part precedes the text (as
    with `includeThoughts`) when the model reasoned."""
    candidates = []
    for i, o in enumerate(outs):
        parts: list[dict[str, Any]] = []
        if thoughts_shown and o.reasoning_tokens:
            summary = f"Worked through the problem step by step ({o.reasoning_tokens} tokens)."
            parts.append({"text": summary, "thought": True})
        parts.append({"text": o.text})
        candidates.append(
            {
                "content": {"parts": parts, "role": "model"},
                "finishReason": _FINISH.get(o.finish_reason, "STOP"),
                "index": i,
            }
        )
    prompt = int(outs[0].input_tokens)
    visible = sum(int(o.output_tokens) for o in outs)
    thoughts = sum(int(o.reasoning_tokens) for o in outs)
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": visible,
        "totalTokenCount": prompt + visible + thoughts,
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {
        "candidates": candidates,
        "usageMetadata": usage,
        "modelVersion": name,
        "responseId": uuid.uuid4().hex[:22],
    }


__all__ = ["PATH", "error", "handler", "parse"]
