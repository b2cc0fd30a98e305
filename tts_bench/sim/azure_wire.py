"""Azure OpenAI's chat completions on the simulator server:
`POST /openai/deployments/{deployment}/chat/completions?api-version=...`.

A deployment is named after a served simulator model (`sim-small`, `sim-reasoner`; litellm's
`azure/sim-small` with `api_base` at the server's root). The key comes in the `api-key`
header (or `Authorization: Bearer`, as for Entra ID tokens). Checked in this order, with
Azure's answers: no key, or a key the server does not accept (one containing `invalid`, or
not among `--api-key-env`'s), 401 "Access denied"; no `api-version` query, 404 "Resource not
found"; an unknown deployment, 404 `DeploymentNotFound`; `reasoning_effort` for a deployment
whose model has no reasoning, 400 `unsupported_parameter`. The rest is the chat endpoint's
(`SimServer.chat`, the same faults, rate limit, prompt cache and usage) with the deployment's
model in the body, as Azure ignores the body's `model`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from tts_bench.sim import provider_wires as wires

if TYPE_CHECKING:
    from tts_bench.sim.server import SimServer

PATH = "/openai/deployments/{deployment}/chat/completions"


def error(status: int, code: str, message: str, **extra: str) -> web.Response:
    """An error in Azure OpenAI's shape: `{"error": {"code", "message", ...}}`."""
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


def denied() -> web.Response:
    return error(
        401,
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    )


def handler(server: SimServer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The deployments route's handler on `server`'s state."""

    async def chat(request: web.Request) -> web.StreamResponse:
        key = request.headers.get("api-key", "").strip()
        key = key or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not key or "invalid" in key or not server.key_accepted(key):
            return denied()
        if not request.query.get("api-version"):
            return error(404, "404", "Resource not found")
        deployment = request.match_info["deployment"]
        model = wires.served_model(server, deployment)
        if model is None:
            return error(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the "
                "deployment within the last 5 minutes, please wait a moment and try again.",
            )
        # the chat endpoint reads the key from Authorization and the model from the body
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        forward = request.clone(headers={**headers, "Authorization": f"Bearer {key}"})
        raw = await forward.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return error(400, "BadRequest", "The request body must be a JSON object.")
        if body.get("reasoning_effort") is not None and not wires.reasons(server, model):
            return error(
                400,
                "unsupported_parameter",
                "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                type="invalid_request_error",
                param="reasoning_effort",
            )
        if body.get("model") != deployment:
            body["model"] = deployment
            # what read() caches; the forwarded request is read once more by the chat handler
            forward._read_bytes = json.dumps(body).encode()
        return await server.chat(forward)

    return chat


__all__ = ["PATH", "denied", "error", "handler"]
