"""Amazon Bedrock's Converse API on the simulator server: `POST /model/{modelId}/converse`
(litellm's `bedrock/converse/<id>` with `api_base` at the server's root; litellm signs with
AWS SigV4 from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, offline).

The signature is not verified: a request needs an `Authorization` header, either SigV4
(`AWS4-HMAC-SHA256 Credential=<access key id>/...`) or a Bedrock API key (`Bearer <key>`).
As Bedrock answers, with the `x-amzn-ErrorType` header and a `{"message"}` body: no
`Authorization`, 403 `MissingAuthenticationTokenException`; an access key id or API key
containing `invalid` (or, for an API key, not among `--api-key-env`'s), 403
`UnrecognizedClientException`; an unknown model id (`sim-small`, `sim/small` are known), 400
`ValidationException` "The provided model identifier is invalid." (Bedrock's status for
it); a thinking budget for a model without reasoning or a bad body, 400
`ValidationException`. Faults: `429` 429 `ThrottlingException` (with Retry-After), `503` 503
`ServiceUnavailableException`, `500` 500 `InternalServerException`, `empty` (no content
blocks), `slow`, `drop`, `malformed`, `truncated_stream` (a cut body).

Requests: `messages` (`user`/`assistant`, content blocks `{"text"}`), `system` (text
blocks), `inferenceConfig` (`maxTokens`, `temperature`), `additionalModelRequestFields.thinking`
(`{"type": "enabled", "budget_tokens"}`, as for Claude on Bedrock). Replies:
`output.message.content` (a `reasoningContent` block when thinking is on and the model
reasoned, then a `text` block), `stopReason` (`end_turn` or `max_tokens`), `usage`
(`inputTokens`, `outputTokens` with thinking included, `totalTokens`), `metrics.latencyMs`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tts_bench.errors import UserError
from tts_bench.sim import provider_wires as wires

if TYPE_CHECKING:
    from tts_bench.sim.server import SimServer

PATH = "/model/{model_id}/converse"
_FAULTS = {
    "429": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "503": (503, "ServiceUnavailableException", "Service unavailable. Try again later."),
    "500": (500, "InternalServerException", "The server encountered an internal error."),
}
_STOP = {"stop": "end_turn", "length": "max_tokens"}


def error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """An error in Bedrock's shape: the type in `x-amzn-ErrorType`, a `{"message"}` body."""
    head = {"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    return web.json_response(
        {"message": message}, status=status, headers={**head, **(headers or {})}
    )


class Invalid(ValueError):
    """A request Bedrock would answer with 400 ValidationException."""


def parse(body: Any) -> tuple[list[dict[str, str]], dict[str, Any], int | None]:
    """(chat messages, simulator body fields, thinking budget or None) of a Converse body."""
    if not isinstance(body, dict):
        raise Invalid("Malformed input request, please reformat your input and try again.")
    chat = []
    system = body.get("system") or []
    if system:
        chat.append({"role": "system", "content": _text(system, "system")})
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid("A conversation must start with a user message.")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: expected user or assistant")
        chat.append({"role": m["role"], "content": _text(m.get("content"), f"messages.{i}")})
    config = body.get("inferenceConfig") or {}
    fields: dict[str, Any] = {"temperature": config.get("temperature", 1.0)}
    if config.get("maxTokens") is not None:
        fields["max_tokens"] = config["maxTokens"]
    extra = body.get("additionalModelRequestFields") or {}
    thinking = extra.get("thinking") if isinstance(extra, dict) else None
    budget = None
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise Invalid("thinking.budget_tokens: must be an integer of at least 1024")
    return chat, fields, budget


def _text(blocks: Any, where: str) -> str:
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise Invalid(f"{where}.content: expected a list of content blocks")
    return "\n".join(str(b.get("text", "")) for b in blocks)


def _credential(auth: str) -> str:
    """The access key id of a SigV4 header, or the key of a Bearer one."""
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ").strip()
    return auth.split("Credential=", 1)[-1].split("/", 1)[0].strip()


def handler(server: SimServer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The Converse handler on `server`'s state."""
    return wires.counted(server, _answer)


async def _answer(server: SimServer, request: web.Request) -> web.StreamResponse:
    from tts_bench.sim import server as srv

    auth = request.headers.get("Authorization", "").strip()
    if not auth:
        return error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    who = _credential(auth)
    bearer = auth.startswith("Bearer ")
    if not who or "invalid" in who.lower() or (bearer and not server.key_accepted(who)):
        msg = "The security token included in the request is invalid."
        return error(403, "UnrecognizedClientException", msg)
    model_id = request.match_info["model_id"]
    raw = await request.read()
    try:
        body = json.loads(raw)
        chat, fields, budget = parse(body)
        model = wires.served_model(server, model_id)
        got = wires.intake(server, request, raw, body, model, True)
    except (ValueError, TypeError, AttributeError, srv.BadRequest) as exc:
        return error(400, "ValidationException", str(exc))
    faulted = await wires.fault_response(server, request, got, _FAULTS, error)
    if faulted is not None:
        return faulted
    if model is None:
        return error(400, "ValidationException", "The provided model identifier is invalid.")
    try:
        params: dict[str, Any] = {}
        if budget is not None:
            if not wires.reasons(server, model):
                raise Invalid("This model doesn't support the thinking parameter.")
            params["thinking_budget"] = budget
        out = server._simulate(model, chat, {**fields, **params}, got.sample_index)
    except (UserError, ValueError, TypeError) as exc:
        return error(400, "ValidationException", str(exc))
    await asyncio.sleep(out.latency_s * server.config.time_scale)
    reply = _reply(out, budget is not None)
    if got.fault == "empty":
        reply["output"]["message"]["content"] = []
    payload = json.dumps(reply).encode()
    if got.fault == "truncated_stream":
        return await server._cut(request, payload)
    return web.Response(body=payload, content_type="application/json")


def _reply(out: Any, thinking: bool) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if thinking and out.reasoning_tokens:
        summary = f"Worked through the problem step by step ({out.reasoning_tokens} tokens)."
        signature = hashlib.sha256(summary.encode()).hexdigest()
        content.append(
            {"reasoningContent": {"reasoningText": {"text": summary, "signature": signature}}}
        )
    content.append({"text": out.text})
    prompt = int(out.input_tokens)
    output = int(out.output_tokens) + int(out.reasoning_tokens)
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": _STOP.get(out.finish_reason, "end_turn"),
        "usage": {"inputTokens": prompt, "outputTokens": output, "totalTokens": prompt + output},
        "metrics": {"latencyMs": int(out.latency_s * 1000)},
    }


__all__ = ["PATH", "error", "handler", "parse"]
