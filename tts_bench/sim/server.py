"""`tts-bench sim serve`: the simulator behind an OpenAI-compatible HTTP server.

Endpoints: POST /v1/messages (Anthropic's Messages API, see sim/anthropic_wire.py),
POST /v1/chat/completions (incl. `n` and `stream: true` server-sent events), GET /v1/models,
GET /health; the batch APIs of OpenAI (/v1/files, /v1/batches) and Anthropic
(/v1/messages/batches), answered after `batch_delay_s` (sim/batch_openai.py,
sim/batch_anthropic.py). `sim-small`, `sim/small` and `openai/sim-small` all mean `sim/small`.

The server sleeps the simulated latency times `time_scale` of real time (0 = answer at once);
`n` > 1 choices are generated side by side (a response takes the slowest one's latency). The
sample index comes from the `X-Sample-Index` header, else the body's `seed`, else 0. Without
`max_tokens` (or `max_completion_tokens`) a request gets `DEFAULT_MAX_TOKENS`. A malformed
header is a 400 naming it.

As OpenAI answers (sim/openai_errors.py), checked in this order: 401 (`api_keys` set and the
bearer key missing or not one of them), 404 `model_not_found`, 400 `context_length_exceeded`
(prompt + `max_tokens` above the profile's `context_window`), 429 `rate_limit_exceeded` from
the server's own limit (`rpm`, `tpm`: sim/ratelimit.py; every admitted reply carries the
`x-ratelimit-*` headers too). Usage reports `cached_tokens` (wire.PromptCache) and
`reasoning_tokens`.

Faults, by rate (`fault_rates={"429": 0.1, ...}`, drawn deterministically from the seed, the
request content and how often that content was seen) or per request with headers:
- `X-Sim-Fault: 429|500|503|slow|drop|malformed|empty|truncated_stream|content_filter`
- `X-Sim-Fault-Times: N`: only the first N requests with this body and fault get it;
- `X-Sim-Retry-After: S`: the Retry-After of a 429 (default `retry_after_s`);
- `X-Sim-Slow-S: S`: how long a `slow` response stalls (default `slow_s`), real seconds.
`drop` closes the connection; `malformed` sends invalid JSON; `empty` no choices;
`truncated_stream` cuts the body (or event stream) half way; `content_filter` answers every
choice with empty content and `finish_reason: "content_filter"` (its tokens still billed).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tts_bench.errors import UserError
from tts_bench.sim import openai_errors as oai
from tts_bench.sim.ratelimit import ServerRateLimit, openai_headers
from tts_bench.sim.text import input_tokens
from tts_bench.sim.wire import Filtered, PromptCache, completion, stream, usage_of

FAULT_KINDS = ("429", "500", "503", "slow", "drop", "malformed", "empty", "truncated_stream")
FAULT_KINDS += ("content_filter",)  # appended: the seeded draws of the others stay as they were
_PLAIN_FAULTS = frozenset({"429", "500", "503", "drop", "malformed", "empty"})
DEFAULT_MAX_TOKENS = 8192  # as the suites give reasoners: high effort fits, nothing is cut
_STANDARD = {"model", "messages", "temperature", "max_tokens", "n", "stream", "stream_options"}
_STANDARD |= {"seed", "max_completion_tokens", "user"}


@dataclass
class ServerConfig:
    """time_scale: real seconds slept per simulated second; fault_rates: probability per
    fault kind; seed: simulator and fault seed; retry_after_s: Retry-After (seconds) sent with
    429; slow_s: real seconds a `slow` fault stalls (not scaled by time_scale); profiles: extra
    simulator profiles, as a suite's `sim_profiles:`; rpm, tpm: the server's own rate limit
    per model (None: none; see sim/ratelimit.py), burst: requests its bucket holds (default
    min(5, max(1, rpm // 12))); api_keys: the only keys accepted (None: any key or none);
    batch_delay_s: seconds from a batch's submission to its answers (the batch APIs)."""

    time_scale: float = 1.0
    fault_rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    retry_after_s: float = 1.0
    slow_s: float = 30.0
    profiles: dict[str, dict] | None = None
    rpm: int | None = None
    tpm: int | None = None
    burst: int | None = None
    api_keys: tuple[str, ...] | None = None
    batch_delay_s: float = 1.0  # a batch's wait for its answers (sim/batch_jobs.py)

    def __post_init__(self) -> None:
        if self.batch_delay_s < 0:
            raise UserError(f"--batch-delay must be >= 0, got {self.batch_delay_s}")
        if self.time_scale < 0:
            raise UserError(f"--time-scale must be >= 0, got {self.time_scale}")
        for kind, rate in self.fault_rates.items():
            if kind not in FAULT_KINDS:
                raise UserError(f"unknown fault {kind!r} (known: {', '.join(FAULT_KINDS)})")
            if not 0 <= rate <= 1:
                raise UserError(f"fault rate for {kind} must be in [0, 1], got {rate}")
        if sum(self.fault_rates.values()) > 1:
            raise UserError("fault rates add up to more than 1")
        if self.retry_after_s < 0:
            raise UserError(f"--retry-after must be >= 0, got {self.retry_after_s}")
        if self.slow_s < 0:
            raise UserError(f"--slow-s must be >= 0, got {self.slow_s}")
        from tts_bench.sim import profiles as _profiles

        _profiles.all_profiles(self.profiles)  # a bad profile fails at start, not per request
        ServerRateLimit(self.rpm, self.tpm, self.burst)  # bad limits fail here too
        if self.api_keys is not None:
            self.api_keys = tuple(self.api_keys)
            if not self.api_keys or not all(self.api_keys):
                raise UserError("api_keys: give at least one non-empty key")


@dataclass
class Hit:
    """One request as the server saw it (for tests and soak checks)."""

    at: float  # time.monotonic() on arrival
    fingerprint: str
    fault: str | None
    sample_index: int
    model: str
    has_auth: bool = False  # an Authorization header was sent (its value is never kept)


def sim_model(name: str) -> str | None:
    """Map a requested model name to a simulator model, or None."""
    name = name.removeprefix("openai/")
    if name.startswith("sim-"):
        name = "sim/" + name[4:]
    return name if name.startswith("sim/") else None


class BadRequest(ValueError):
    """A header or body field the server cannot use (answered with 400)."""


def _header_number(request: web.Request, name: str, kind: type, default: Any = None) -> Any:
    """The header as a non-negative int/float, `default` when absent; BadRequest otherwise."""
    raw = request.headers.get(name)
    if raw is None:
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        value = None
    if value is None or value < 0 or value != value:
        what = "integer" if kind is int else "number"
        raise BadRequest(f"{name}: expected a non-negative {what}, got {raw!r}")
    return value


class SimServer:
    """The request handlers and their state (fault counters, request log)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.log: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat requests handled at once
        self._seen: dict[str, int] = {}
        self.limiter = ServerRateLimit(config.rpm, config.tpm, config.burst)
        self.prompt_cache = PromptCache()

    def key_accepted(self, key: str) -> bool:
        """Whether `key` may call (any key, or none, when the server requires none)."""
        return self.config.api_keys is None or key in self.config.api_keys

    def _refuse_key(self, request: web.Request) -> web.Response | None:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return None if self.key_accepted(sent) else oai.bad_key(sent)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024**2)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        from tts_bench.sim.provider_wires import routes  # Anthropic's Messages API, ...

        for method, path, factory in routes():
            app.router.add_route(method, path, factory(self))
        app.router.add_get("/health", self.health)
        return app

    async def health(self, request: web.Request) -> web.Response:
        # `requests`: chat requests received so far (benchmarks count what a run sent)
        return web.json_response({"status": "ok", "requests": len(self.log)})

    async def models(self, request: web.Request) -> web.Response:
        from tts_bench import sim

        if (refused := self._refuse_key(request)) is not None:
            return refused

        names = sim.list_models(self.config.profiles)
        data = [
            {"id": m.replace("/", "-"), "object": "model", "owned_by": "tts-bench"} for m in names
        ]
        return web.json_response({"object": "list", "data": data})

    def _fault(self, request: web.Request, fingerprint: str, count: int) -> str | None:
        wanted = request.headers.get("X-Sim-Fault")
        if wanted:
            times = _header_number(request, "X-Sim-Fault-Times", int)
            if times is None or count <= times:
                return wanted
            return None
        rates = self.config.fault_rates
        if not rates:
            return None
        digest = hashlib.sha256(f"{self.config.seed}:{fingerprint}:{count}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        for kind in FAULT_KINDS:
            u -= rates.get(kind, 0.0)
            if u < 0:
                return kind
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._chat(request)
        finally:
            self.in_flight -= 1

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse_key(request)) is not None:
            return refused
        raw = await request.read()
        try:
            body = json.loads(raw)
            messages = body["messages"]
            requested = str(body["model"])
        except (ValueError, KeyError, TypeError):
            return oai.error(400, "body must be JSON with model and messages")
        try:
            sample_index = self._sample_index(request, body)
            wanted = request.headers.get("X-Sim-Fault", "")
            if wanted and wanted not in FAULT_KINDS:
                raise BadRequest(
                    f"X-Sim-Fault: unknown fault {wanted!r} (known: {', '.join(FAULT_KINDS)})"
                )
            _header_number(request, "X-Sim-Fault-Times", int)
            _header_number(request, "X-Sim-Retry-After", float)
            slow_s = _header_number(request, "X-Sim-Slow-S", float, self.config.slow_s)
        except BadRequest as exc:
            return oai.error(400, str(exc))
        fingerprint = hashlib.sha256(raw + f"|{sample_index}".encode()).hexdigest()
        fault_key = fingerprint + "|" + wanted
        count = self._seen[fault_key] = self._seen.get(fault_key, 0) + 1
        fault = self._fault(request, fingerprint, count)
        model = sim_model(requested)
        auth = "Authorization" in request.headers
        self.log.append(Hit(time.monotonic(), fingerprint, fault, sample_index, str(model), auth))
        if fault in _PLAIN_FAULTS:
            return await self._plain_fault(request, fault)
        if fault == "slow":
            await asyncio.sleep(slow_s)
        window = self.context_window(model)
        if model is None or window is None:
            return oai.model_not_found(requested)
        if body.get("reasoning_effort") is not None and not self.reasons(model):
            return oai.unsupported("reasoning_effort")
        try:
            n = int(body.get("n") or 1)
            asked = body.get("max_tokens") or body.get("max_completion_tokens")
            prompt = input_tokens(messages)
            if prompt + int(asked or 0) > window:
                return oai.context_exceeded(window, prompt, None if asked is None else int(asked))
            outs = [self._simulate(model, messages, body, sample_index + i) for i in range(n)]
        except (UserError, ValueError, TypeError, AttributeError) as exc:  # a bad request
            return oai.error(400, str(exc))
        if fault == "content_filter":
            outs = [Filtered(o) for o in outs]
        verdict = self.limiter.admit(model, usage_of(outs)["total_tokens"])
        if verdict.refused is not None:
            return oai.rate_limited(verdict, requested)
        # Only an admitted request reaches the model, so only it leaves a cached prefix.
        usage = usage_of(outs, self.prompt_cache.cached(model, messages, outs[0].input_tokens))
        headers = openai_headers(verdict)
        if body.get("stream"):
            cut = fault == "truncated_stream"
            scale = self.config.time_scale
            return await stream(request, requested, outs, body, usage, headers, scale, cut)
        await asyncio.sleep(max(o.latency_s for o in outs) * self.config.time_scale)
        payload = json.dumps(completion(requested, outs, usage)).encode()
        if fault == "truncated_stream":
            return await self._cut(request, payload)
        return web.Response(body=payload, content_type="application/json", headers=headers)

    def reasons(self, model: str) -> bool:
        """Whether a simulated model has hidden reasoning (so accepts an effort)."""
        from tts_bench.sim import profiles as _profiles

        return bool(_profiles.get(model, self.config.profiles)[1].get("reasoning"))

    def context_window(self, model: str | None) -> int | None:
        """The context window (tokens) of a simulated model; None for an unknown model."""
        from tts_bench.sim import profiles as _profiles

        if model is None:
            return None
        try:
            return int(_profiles.get(model, self.config.profiles)[1]["context_window"])
        except UserError:
            return None

    @staticmethod
    def _sample_index(request: web.Request, body: dict) -> int:
        index = _header_number(request, "X-Sample-Index", int)
        if index is not None:
            return index
        seed = body.get("seed") or 0
        try:
            return int(seed)
        except (TypeError, ValueError):
            raise BadRequest(f"seed: expected an integer, got {seed!r}") from None

    def _simulate(self, model: str, messages: Any, body: dict, sample_index: int) -> Any:
        from tts_bench import sim

        params = {k: v for k, v in body.items() if k not in _STANDARD}
        limit = body.get("max_tokens") or body.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
        return sim.simulate(
            model,
            messages,
            temperature=float(body.get("temperature", 1.0)),
            max_tokens=int(limit),
            sample_index=sample_index,
            seed=self.config.seed,
            params=params,
            profiles=self.config.profiles,
        )

    async def _plain_fault(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault == "429":
            after = request.headers.get("X-Sim-Retry-After", f"{self.config.retry_after_s:g}")
            return oai.fault_429(after)
        if fault in ("500", "503"):
            return oai.server_error(int(fault))
        if fault == "malformed":
            return web.Response(body=b'{"choices": [ {"mess', content_type="application/json")
        if fault == "empty":
            return web.json_response({"id": "x", "object": "chat.completion", "choices": []})
        # drop: close the socket without any response
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    async def _cut(self, request: web.Request, payload: bytes) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(payload)
        await resp.prepare(request)
        await resp.write(payload[: len(payload) // 2])
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError


async def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    time_scale: float = 1.0,
    faults: dict[str, float] | None = None,
    seed: int = 0,
    *,
    ready: Any = None,
    stop: asyncio.Event | None = None,
    **options: Any,
) -> None:
    """Serve until cancelled (or `stop` is set). ready(server, port) is called once bound;
    options: retry_after_s, slow_s, profiles, rpm, tpm, burst, api_keys (see ServerConfig)."""
    server = SimServer(ServerConfig(time_scale, dict(faults or {}), seed, **options))
    runner = web.AppRunner(server.app(), handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    if ready is not None:
        ready(server, bound)
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await runner.cleanup()


def run_server(
    host: str = "127.0.0.1",
    port: int = 8000,
    time_scale: float = 1.0,
    fault_rates: dict[str, float] | None = None,
    seed: int = 0,
    *,
    retry_after_s: float = 1.0,
    slow_s: float = 30.0,
    profiles: dict[str, dict] | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    api_keys: tuple[str, ...] | None = None,
    batch_delay_s: float = 1.0,
) -> None:
    """Blocking entry point for the CLI: serve until Ctrl-C. The options are ServerConfig's."""
    options = {"retry_after_s": retry_after_s, "slow_s": slow_s, "profiles": profiles}
    options |= {"rpm": rpm, "tpm": tpm, "api_keys": api_keys, "batch_delay_s": batch_delay_s}

    limits = [f"{v} {k} per model" for k, v in (("rpm", rpm), ("tpm", tpm)) if v]
    limits += ["only the --api-key-env key accepted"] if api_keys else []
    extra = f"; {', '.join(limits)}" if limits else ""

    def ready(_: SimServer, bound: int) -> None:
        print(f"simulator serving on http://{host}:{bound}/v1{extra} (Ctrl-C to stop)", flush=True)

    try:
        asyncio.run(serve(host, port, time_scale, fault_rates, seed, ready=ready, **options))
    except KeyboardInterrupt:
        pass


# Kept importable from here: tests, notebooks and the import docs use it this way.
from tts_bench.sim.server_thread import ServerThread  # noqa: E402

__all__ = ["ServerConfig", "ServerThread", "SimServer", "run_server", "serve"]
