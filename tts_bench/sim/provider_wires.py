"""The provider dialects `sim serve` speaks besides OpenAI's chat completions, and what they
share.

Each entry of `routes()` is (HTTP method, path, factory): the factory takes the `SimServer`
(its config, fault counters and request log) and returns the aiohttp handler for that route.
`intake` and `served_model` are the steps every dialect takes before simulating: the test
headers (`X-Sample-Index`, `X-Sim-Fault`, ...) read as on the chat endpoint, the fault drawn
and the request logged; an unknown model told apart from a known one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

    from tts_bench.sim.server import SimServer


def routes() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """Every extra route, imported on demand so `sim serve` starts without unused dialects."""
    from tts_bench.sim import anthropic_wire, azure_wire, bedrock_wire, gemini_wire, ollama_wire

    return [
        ("POST", "/v1/messages", anthropic_wire.handler),  # Anthropic's Messages API
        ("POST", azure_wire.PATH, azure_wire.handler),  # Azure OpenAI deployments
        ("POST", "/api/chat", ollama_wire.handler),  # Ollama's chat API
        ("POST", gemini_wire.PATH, gemini_wire.handler),  # Gemini's generateContent
        ("POST", bedrock_wire.PATH, bedrock_wire.handler),  # Amazon Bedrock's Converse API
        *batch_routes(),
    ]


def batch_routes() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """OpenAI's Batch API (files + batches) and Anthropic's Message Batches."""
    from tts_bench.sim import batch_anthropic, batch_openai

    return [*batch_openai.routes(), *batch_anthropic.routes()]


Answer = Callable[["SimServer", "web.Request"], Awaitable["web.StreamResponse"]]


def counted(
    server: SimServer, answer: Answer
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route's handler: `answer(server, request)`, counted in the server's in-flight
    gauge (`max_in_flight` is what the concurrency tests read)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        server.in_flight += 1
        server.max_in_flight = max(server.max_in_flight, server.in_flight)
        try:
            return await answer(server, request)
        finally:
            server.in_flight -= 1

    return handle


async def fault_response(
    server: SimServer,
    request: web.Request,
    got: Intake,
    faults: dict[str, tuple[int, str, str]],
    error: Callable[..., web.Response],
) -> web.StreamResponse | None:
    """The drawn fault's answer in a dialect's shape: `faults` maps a fault to (status, kind,
    message) for `error(status, kind, message, headers)` (a 429 carries Retry-After); `drop`
    and `malformed` as on the chat endpoint; `slow` stalls, then None (answer normally)."""
    if got.fault in faults:
        status, kind, message = faults[got.fault]
        after = {"Retry-After": retry_after(server, request)} if status == 429 else None
        return error(status, kind, message, after)
    if got.fault in ("drop", "malformed"):
        return await server._plain_fault(request, got.fault)
    if got.fault == "slow":
        import asyncio

        await asyncio.sleep(got.slow_s)
    return None


@dataclass
class Intake:
    """A request's test controls. sample_index: from `X-Sample-Index` (else `seed`, else
    0); fault: the fault to answer with (None: answer normally); slow_s: how long `slow`
    stalls (real seconds)."""

    sample_index: int
    fault: str | None
    slow_s: float


def intake(
    server: SimServer,
    request: web.Request,
    raw: bytes,
    body: dict[str, Any],
    model: str | None,
    has_auth: bool,
) -> Intake:
    """Read the test headers, draw the fault (from the seed, the request content and how
    often it was seen, as on the chat endpoint) and log the request. Raises
    server.BadRequest for a malformed header."""
    from tts_bench.sim import server as srv

    sample_index = server._sample_index(request, body)
    wanted = request.headers.get("X-Sim-Fault", "")
    if wanted and wanted not in srv.FAULT_KINDS:
        known = ", ".join(srv.FAULT_KINDS)
        raise srv.BadRequest(f"X-Sim-Fault: unknown fault {wanted!r} (known: {known})")
    srv._header_number(request, "X-Sim-Fault-Times", int)
    srv._header_number(request, "X-Sim-Retry-After", float)
    slow_s = srv._header_number(request, "X-Sim-Slow-S", float, server.config.slow_s)
    fingerprint = hashlib.sha256(raw + f"|{sample_index}".encode()).hexdigest()
    fault_key = fingerprint + "|" + wanted
    count = server._seen[fault_key] = server._seen.get(fault_key, 0) + 1
    fault = server._fault(request, fingerprint, count)
    hit = srv.Hit(time.monotonic(), fingerprint, fault, sample_index, str(model), has_auth)
    server.log.append(hit)
    return Intake(sample_index, fault, slow_s)


def served_model(server: SimServer, name: str) -> str | None:
    """The simulator model a requested name means (`sim-small`, `sim/small`), or None when
    the server has no such model."""
    from tts_bench import sim
    from tts_bench.sim.server import sim_model

    model = sim_model(name)
    return model if model in sim.list_models(server.config.profiles) else None


def reasons(server: SimServer, model: str) -> bool:
    """Whether a simulated model has hidden reasoning (accepts an effort or a budget)."""
    from tts_bench.sim import profiles

    return bool(profiles.get(model, server.config.profiles)[1].get("reasoning"))


def retry_after(server: SimServer, request: web.Request) -> str:
    """The Retry-After of an injected 429: the `X-Sim-Retry-After` header or the server's."""
    return request.headers.get("X-Sim-Retry-After", f"{server.config.retry_after_s:g}")
