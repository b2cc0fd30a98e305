"""`Client`: the one place that calls models. Cache, limits, retries, usage and cost.

    client = Client(limits=suite.limits, pricing=suite.pricing, cache_path=path, seed=suite.seed,
                    sim_profiles=suite.sim_profiles)
    completion = await client.generate(spec, messages, sample_index=3)
    await client.aclose()

`generate` never raises for provider or network trouble: it returns a Completion whose
`status` labels the failure (see types.CALL_STATUSES), with `retries` and `error`. It raises
UserError only for configuration mistakes (e.g. `api_key_env` names an unset variable).

Errors are labelled by llm.errors (docs/providers.md). Retries (limits.retries at most)
cover 429, 5xx, timeouts, connection errors and malformed responses; credential, not-found
and other 4xx errors are final, and `auth_error` / `not_found` are fatal for a config
(types.FATAL_STATUSES). Error messages are stored with every API key masked (llm.redact).
Waits grow as `backoff_s * 2**attempt` with jitter, or follow Retry-After when the provider
sends one; any single wait is capped at limits.max_retry_wait_s.
Each attempt has limits.timeout_s. A Completion's latency_s is what a user would have waited:
the successful attempt plus earlier failed attempts and waits, excluding harness queueing
(the concurrency semaphore, RPM/TPM buckets and adaptive concurrency).

With limits.adaptive (the default) each remote model's in-flight calls follow llm.concurrency:
halved on a 429, grown back by successes, paced by the provider's rate-limit headers; the
global semaphore (limits.concurrency) stays the cap over all models. The in-process
simulator has no quota and is never throttled. A reply the provider's content filter cut
(finish_reason "content_filter") comes back with status "content_filter", its text kept; it
is neither retried nor cached.

An `api_base` given as a list names replicas of one model (llm/replicas.py): each attempt
goes to one replica, with the model's adaptive slot at that replica; a retry moves to a
replica the call has not failed on, without a back-off pause, and counts against
limits.retries. The completion's `endpoint` names the replica that answered.
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
import time
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.llm.backends import choose
from tts_bench.llm.backends.base import CallError, Reply, clip
from tts_bench.llm.backends.litellm_backend import LiteLLMBackend
from tts_bench.llm.backends.openai_http import DEFAULT_MAX_RESPONSE_BYTES, OpenAIHTTPBackend
from tts_bench.llm.backends.sim import SimBackend
from tts_bench.llm.cache import ResponseCache, cache_key
from tts_bench.llm.concurrency import AdaptiveConcurrency, AdaptiveLimit
from tts_bench.llm.limits import RateLimiter, estimate_tokens, read_quota
from tts_bench.llm.pooling import Pooler, pool_mode
from tts_bench.llm.pricing import PriceTable, cost_usd
from tts_bench.llm.prompt_cache import PrefixMarks
from tts_bench.llm.redact import register_key_env
from tts_bench.llm.replicas import Replicas, Route, cache_params
from tts_bench.llm.types import Completion, ModelSpec, Usage

Messages = list[dict[str, str]]


class Client:
    """limits: suite Limits (concurrency, rpm, tpm, timeout_s, retries, max_retry_wait_s,
    max_response_bytes, adaptive, replica_failures, replica_cooldown_s,
    replica_max_cooldown_s);
    pricing: {model: Price} overrides; cache_path: SQLite file or None (no cache);
    seed: the simulator seed (part of sim cache keys); sim_profiles: extra simulator profiles;
    backoff_s: base of the exponential backoff between retries."""

    def __init__(
        self,
        *,
        limits: Any,
        pricing: dict[str, Any] | None = None,
        cache_path: Path | None = None,
        seed: int = 0,
        sim_profiles: dict[str, dict] | None = None,
        backoff_s: float = 0.5,
    ) -> None:
        self.limits = limits
        self.seed = seed
        self.sim_profiles = sim_profiles or None
        self.backoff_s = backoff_s
        self.prices = PriceTable(pricing, self.sim_profiles)
        self.cache = ResponseCache(cache_path) if cache_path is not None else None
        self._sem = asyncio.Semaphore(limits.concurrency)
        self._rate = RateLimiter(limits.rpm, limits.tpm)
        # per-model AIMD below the global cap; None when limits.adaptive is off
        self.adaptive = (
            AdaptiveConcurrency(limits.concurrency, max_hold_s=limits.max_retry_wait_s)
            if getattr(limits, "adaptive", True)
            else None
        )
        self._backends: dict[str, Any] = {
            "sim": SimBackend(seed, self.sim_profiles),
            "direct": OpenAIHTTPBackend(
                getattr(limits, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)
            ),
            "litellm": LiteLLMBackend(),
        }
        self._jitter = random.Random(seed)
        self._sim_keys: dict[str, Any] = {}
        self._warming: dict[str, asyncio.Future] = {}
        self.spent_usd = 0.0  # live spend; cache hits cost nothing now
        self.n_calls = 0  # generate() calls, cache hits included
        self.n_errors = 0  # calls that ended with status != "ok"
        self.n_cache_hits = 0
        # concurrent samples of one prompt drawn as one request of `n` (llm/pooling.py)
        self._pooler = Pooler(self._pooled_request, self._price)
        self._prefixes = PrefixMarks()  # Anthropic's cache_control (llm/prompt_cache.py)
        # api_base as a list: health and load per replica
        self.replicas = Replicas(
            max_failures=getattr(limits, "replica_failures", 3),
            cooldown_s=getattr(limits, "replica_cooldown_s", 5.0),
            max_cooldown_s=getattr(limits, "replica_max_cooldown_s", 300.0),
        )
        self.batch: Any = None  # llm/transports/batch.py for spec.batch calls (use_batches)

    async def generate(
        self, spec: ModelSpec, messages: Messages, *, sample_index: int = 0
    ) -> Completion:
        """One completion for `messages`; `sample_index` tells samples of one prompt apart."""
        kind = choose(spec)
        key = None
        if self.cache is not None:
            key = self._cache_key(kind, spec, messages, sample_index)
            hit = self._cached(key)
            if hit is not None:
                self.n_calls += 1
                self.n_cache_hits += 1
                return hit
        if spec.batch:
            completion = await self._batched(kind, spec, messages, sample_index, key)
        elif pool_mode(spec, kind) == "n":
            completion = await self._pooler.join(kind, spec, messages, sample_index)
        else:
            completion = (await self._attempts(kind, spec, messages, sample_index, n=1))[0]
        self.n_calls += 1
        if not completion.ok:
            self.n_errors += 1
        if completion.cost_usd is not None:
            self.spent_usd += completion.cost_usd
        if self.cache is not None and key is not None and completion.ok:
            self.cache.put(key, completion)
        return completion

    def cached(
        self, spec: ModelSpec, messages: Messages, *, sample_index: int = 0
    ) -> Completion | None:
        """The cached completion `generate` would replay for this call, or None; makes no
        call and counts nothing (a dry pass over a run's pending calls)."""
        if self.cache is None:
            return None
        return self._cached(self._cache_key(choose(spec), spec, messages, sample_index))

    @property
    def n_requests(self) -> int:
        """Requests the pooler sent (each drew several samples when they arrived together)."""
        return self._pooler.requests

    async def _pooled_request(
        self, kind: str, spec: ModelSpec, messages: Messages, first: int, n: int
    ) -> list[Completion]:
        return await self._attempts(kind, spec, messages, first, n=n)

    def _price(self, spec: ModelSpec, usage: Usage) -> float | None:
        return cost_usd(usage, self.prices.rate(spec.model))

    def use_batches(self, **knobs: Any) -> Any:
        """Send `spec.batch` calls through a BatchTransport (llm/transports/batch.py) with
        these knobs (journal, poll_s, linger_s, max_requests, on_change); returns it."""
        from tts_bench.llm.transports.batch import BatchTransport

        self.batch = BatchTransport(
            limits=self.limits, batch_rate=self.prices.batch_rate, api_key=self._api_key, **knobs
        )
        return self.batch

    async def _batched(
        self, kind: str, spec: ModelSpec, messages: Messages, sample_index: int, key: str | None
    ) -> Completion:
        if self.batch is None:
            self.use_batches()
        key = key or self._cache_key(kind, spec, messages, sample_index)
        return await self.batch.call(spec, messages, sample_index, key)

    async def aclose(self) -> None:
        """Close HTTP sessions and the cache."""
        await self._pooler.aclose()
        if self.batch is not None:
            await self.batch.aclose()
        for backend in self._backends.values():
            await backend.aclose()
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    # -- internals -------------------------------------------------------------------------

    def _cache_key(self, kind: str, spec: ModelSpec, messages: Messages, sample_index: int) -> str:
        return cache_key(
            spec.model,
            messages,
            spec.temperature,
            spec.max_tokens,
            # whichever replica serves it; a batched answer is billed and timed apart
            cache_params({**spec.params, "batch": True} if spec.batch else spec.params),
            sample_index,
            self._sim_inputs(spec) if kind == "sim" else None,
        )

    def _cached(self, key: str) -> Completion | None:
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            hit.cache_hit = True
            hit.endpoint = None  # served by the cache, not a replica
        return hit

    def _sim_inputs(self, spec: ModelSpec) -> Any:
        """What else decides a simulated answer: the seed, the resolved profile and the
        simulator's version, so a changed profile or simulator never replays stale answers."""
        inputs = self._sim_keys.get(spec.model)
        if inputs is None:
            from tts_bench import sim
            from tts_bench.sim import profiles

            _, profile = profiles.get(spec.model, self.sim_profiles)
            version = getattr(sim, "SIM_VERSION", "0")
            inputs = self._sim_keys[spec.model] = {
                "seed": self.seed,
                "sim": version,
                "profile": profile,
            }
        return inputs

    def _api_key(self, spec: ModelSpec) -> str | None:
        name = spec.api_key_env
        if not name:
            return None
        register_key_env(name)  # its value is masked in every error message from now on
        value = os.environ.get(name)
        if not value:
            raise UserError(f"model {spec.model}: api_key_env {name} is not set in the environment")
        return value

    async def _attempts(
        self, kind: str, spec: ModelSpec, messages: Messages, sample_index: int, *, n: int
    ) -> list[Completion]:
        """Call with retries; return n completions (all failed alike when the call fails).
        n > 1 asks the backend for n choices in one request (sample indices sample_index..+n)."""
        backend = self._backends[kind]
        api_key = self._api_key(spec) if kind != "sim" else None
        limits = self.limits
        gate = self.adaptive.model(spec.model) if self.adaptive and kind != "sim" else None
        # Token estimates are only worth computing when a TPM limit or a pace needs them.
        need_est = kind != "sim" and (self._rate.tpm or gate is not None)
        est = estimate_tokens(messages, spec.max_tokens) * n if need_est else 0
        waited = 0.0  # seconds a user would have waited before the successful attempt
        error: CallError | None = None
        if kind != "sim":
            await self._warm(kind, spec.model)
        route = self.replicas.route(spec) if kind != "sim" else None  # api_base as a list
        target = spec
        # the suite's shared prefix marked for providers that cache only marked prefixes
        sent = self._prefixes.mark(spec.model, messages) if kind == "litellm" else messages
        for attempt in range(limits.retries + 1):
            if kind != "sim" and self._rate.active:
                await self._rate.acquire(spec.model, est)
            if route is not None:  # this attempt's replica, with its own adaptive slot
                target = route.next()
                gate = self.adaptive.model(route.slot) if self.adaptive else None
            call = functools.partial(
                backend.call,
                target,
                sent,
                sample_index=sample_index,
                n=n,
                timeout_s=limits.timeout_s,
                api_key=api_key,
            )
            sending = self._send(call, kind, gate, est)
            replies, error, elapsed = await (route.track(sending) if route else sending)
            if replies is not None:
                if est and self._rate.tpm:
                    self._rate.settle(spec.model, est, _used(replies))
                done = [self._ok(spec, kind, r, waited, elapsed, attempt) for r in replies]
                return _served_by(done, route)
            assert error is not None
            waited += elapsed
            if not error.retryable or attempt == limits.retries:
                break
            if route is not None and route.failover:
                continue  # another replica has not failed: no back-off before it
            pause = self._pause(attempt, error.retry_after)
            await asyncio.sleep(pause)
            waited += pause
        assert error is not None
        failed = self._failed(spec, kind, error, waited, attempt)
        return _served_by([failed] * n, route)

    async def _send(
        self, call: Any, kind: str, gate: AdaptiveLimit | None, est: int
    ) -> tuple[list[Reply] | None, CallError | None, float]:
        """Run one attempt (`call()`, a backend call) under the caps: the model's adaptive
        slot, then the global semaphore. Returns (replies, None, seconds) or (None, error,
        seconds); the slot learns the outcome and the quota headers either way."""
        ticket = await gate.acquire(est) if gate is not None else None
        outcome, headers, used = "other", None, None
        try:
            async with self._sem:
                if gate is not None and ticket is not None:
                    gate.sent(ticket)
                started = time.perf_counter()
                try:
                    replies = await call()
                except CallError as exc:
                    outcome, headers = exc.status, exc.headers
                    return None, exc, time.perf_counter() - started
                except (UserError, asyncio.CancelledError):
                    raise
                except Exception as exc:
                    if kind == "sim":
                        raise  # a simulator bug, not a provider problem
                    error = CallError("api_error", f"{type(exc).__name__}: {clip(str(exc))}")
                    return None, error, time.perf_counter() - started
                outcome, used = "ok", _used(replies)
                headers = replies[0].headers if replies else None
                return replies, None, time.perf_counter() - started
        finally:
            if gate is not None and ticket is not None:
                gate.release(ticket, outcome, quota=read_quota(headers), used_tokens=used)

    async def _warm(self, kind: str, model: str) -> None:
        """First use of a model: import litellm and look up its price in a worker thread.
        Both take seconds; done on the event loop they would stall every call in flight
        (and fire their timeouts)."""
        if kind == "litellm":
            await self._once("litellm", self._backends["litellm"].prepare)
        if not self.prices.resolved(model):
            await self._once(f"price:{model}", self.prices.rate, model)

    async def _once(self, name: str, fn: Any, *args: Any) -> None:
        """Run fn(*args) in a thread once; concurrent callers share the same run."""
        task = self._warming.get(name)
        if task is None:
            task = self._warming[name] = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        await asyncio.shield(task)

    def _pause(self, attempt: int, retry_after: float | None) -> float:
        cap = self.limits.max_retry_wait_s
        if retry_after is not None:
            return min(retry_after, cap)
        # "equal jitter": half fixed, half random, so waits still grow but spread out.
        base = self.backoff_s * (2**attempt)
        return min(cap, base * (0.5 + 0.5 * self._jitter.random()))

    def _ok(
        self, spec: ModelSpec, kind: str, reply: Reply, waited: float, elapsed: float, attempt: int
    ) -> Completion:
        latency = reply.latency_s if reply.latency_s is not None else elapsed
        rate = self.prices.rate(spec.model)
        # A filtered reply is billed like any other but is no answer: a failed call
        # (not cached, never retried: the same prompt would be filtered again).
        filtered = reply.finish_reason == "content_filter"
        return Completion(
            text=reply.text,
            finish_reason=reply.finish_reason,
            usage=reply.usage,
            cost_usd=cost_usd(reply.usage, rate) if reply.usage_known else None,
            latency_s=waited + latency,
            status="content_filter" if filtered else "ok",
            retries=attempt,
            model=spec.model,
            simulated=kind == "sim",
            logprob=reply.logprob,
            ttft_s=None if reply.ttft_s is None else waited + reply.ttft_s,
        )

    def _failed(
        self, spec: ModelSpec, kind: str, error: CallError, waited: float, attempt: int
    ) -> Completion:
        # Error responses carry no tokens, so they cost 0 at a known price (None if unknown).
        return Completion(
            text="",
            finish_reason=None,
            usage=Usage(),
            cost_usd=cost_usd(Usage(), self.prices.rate(spec.model)),
            latency_s=waited,
            status=error.status,
            retries=attempt,
            error=clip(error.message, 500),
            model=spec.model,
            simulated=kind == "sim",
        )


def _served_by(done: list[Completion], route: Route | None) -> list[Completion]:
    """Completions stamped with the replica of the last attempt (api_base as a list)."""
    if route is not None:
        for c in done:
            c.endpoint = route.endpoint
    return done


def _used(replies: list[Reply]) -> int:
    """Total tokens of one response (every reply of it carries the response's usage)."""
    return sum(_tokens(r.usage) for r in replies[:1])


def _tokens(usage: Usage) -> int:
    return usage.input_tokens + usage.output_tokens + usage.reasoning_tokens
