"""What every strategy sees: the item (without its target), a `Context` and the registry.

A strategy is a decorated factory that takes its knobs and returns an async closure
`solve(ctx) -> StrategyResult`:

    @strategy("self_consistency")
    def self_consistency(n: int | list[int] = 5) -> Solve:
        async def solve(ctx: Context) -> StrategyResult: ...
        return solve

Latency is tracked on a virtual clock: each `ctx.generate()` advances the clock of the task
that awaits it by the call's own latency, and `ctx.parallel()` advances the caller's clock by
the slowest branch. So sequential steps add and parallel branches count as their max, and
queueing inside the harness never inflates `latency_s`. Use `ctx.parallel`, not
`asyncio.gather`, for concurrent calls, or their latency is lost.
"""

from __future__ import annotations

import contextvars
import inspect
import math
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tts_bench.errors import UserError
from tts_bench.llm.types import FATAL_STATUSES, CallRecord, Completion, ModelSpec

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Item:
    """An evaluation item as strategies see it: inputs and strata, never the target."""

    id: str
    inputs: dict[str, Any]
    strata: dict[str, str] = field(default_factory=dict)
    cluster: str | None = None


@dataclass
class Sample:
    """One member of a parallel pool, kept in the record so analysis can derive any N."""

    text: str
    answer: str | None  # the extracted answer in canonical form (None: nothing extractable)
    score: float | None = None  # selector / judge score, higher is better
    cost_usd: float | None = None
    latency_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    finish_reason: str | None = None
    status: str = "ok"
    logprob: float | None = None


@dataclass
class StrategyResult:
    """What a strategy returns. `text` is the final raw output; `answer` its extracted form."""

    answer: str | None
    text: str = ""
    finish_reason: str | None = "stop"
    status: str = "ok"  # the worst infrastructure status when no answer could be produced
    confidence: float | None = None  # e.g. vote share, judge score
    samples: list[Sample] | None = None
    info: dict[str, Any] = field(default_factory=dict)  # route, nodes, stopped_at, ...


@dataclass(frozen=True)
class Failure:
    """A `Context.generate()` that came back failed (after the client's retries and the
    fallback model): its role, sample index and call status."""

    role: str
    sample_index: int
    status: str


class Solve(Protocol):
    def __call__(self, ctx: Context) -> Awaitable[StrategyResult]: ...


Factory = Callable[..., Solve]
_REGISTRY: dict[str, Factory] = {}


def strategy(name: str) -> Callable[[Factory], Factory]:
    """Register a strategy factory under the name a suite's `strategy:` uses."""

    def deco(fn: Factory) -> Factory:
        _REGISTRY[name] = fn
        return fn

    return deco


def registry() -> dict[str, Factory]:
    from tts_bench import strategies  # noqa: F401  (importing registers the built-ins)

    return dict(_REGISTRY)


def resolve(name: str, knobs: dict[str, Any], where: str) -> Solve:
    """Build a strategy from its name (or `pkg.module:function`) and knobs; UserError if bad."""
    factory: Factory | None = registry().get(name)
    if factory is None and ":" in name:
        mod_name, _, attr = name.partition(":")
        try:
            import importlib

            factory = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"{where}: cannot load strategy {name!r}: {exc}") from None
    if factory is None:
        known = ", ".join(sorted(registry()))
        raise UserError(f"{where}: unknown strategy {name!r} (known: {known})")
    params = inspect.signature(factory).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key in knobs:
        if key not in params and not takes_any:
            allowed = ", ".join(params) or "none"
            raise UserError(
                f"{where}: unknown key {key!r} for strategy {name!r} (knobs: {allowed})"
            )
    try:
        return factory(**knobs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: {exc}") from None


# The virtual clock of the current async task (see module docstring).
_clock: contextvars.ContextVar[float] = contextvars.ContextVar("tts_bench_clock", default=0.0)


class Generator(Protocol):
    async def generate(
        self, spec: ModelSpec, messages: Messages, *, sample_index: int = 0
    ) -> Completion: ...


class Answerer(Protocol):
    """The suite's answer extraction and answer identity (from `tts_bench.scoring`)."""

    def extract(self, text: str) -> str | None: ...

    def key(self, answer: str) -> str: ...


class Context:
    """Everything a strategy may use: the item, prompts, the model, and counted calls."""

    def __init__(
        self,
        *,
        item: Item,
        config: str,
        model: ModelSpec,
        client: Generator,
        answerer: Answerer,
        render: Callable[[Item], Messages],
        seed: int = 0,
        fallback: ModelSpec | None = None,
        delegate: Callable[[str, Context], Awaitable[StrategyResult]] | None = None,
        examples: list[tuple[str, str]] | None = None,
    ) -> None:
        self.item = item
        self.config = config
        self.model = model
        self.fallback = fallback
        self.calls: list[CallRecord] = []
        self.failures: list[Failure] = []  # generate() calls that returned a failure
        self.info: dict[str, Any] = {}
        self.examples = examples or []
        self.rng = random.Random(f"{seed}:{config}:{item.id}")
        self._client = client
        self._answerer = answerer
        self._render = render
        self._delegate = delegate

    # -- prompts and answers ------------------------------------------------------------
    def messages(self) -> Messages:
        """The suite's prompt (system + template) for this item."""
        return self._render(self.item)

    def question(self) -> str:
        """The rendered user prompt text."""
        return self.messages()[-1]["content"]

    def extract(self, text: str) -> str | None:
        return self._answerer.extract(text)

    def key(self, answer: str) -> str:
        """Canonical identity of an answer, for voting (e.g. 42 == 42.0)."""
        return self._answerer.key(answer)

    # -- calls --------------------------------------------------------------------------
    async def generate(
        self,
        messages: Messages,
        *,
        role: str = "sample",
        sample_index: int = 0,
        model: ModelSpec | None = None,
        **params: Any,
    ) -> Completion:
        """One counted model call. `params` override the config's model parameters
        (temperature, max_tokens, reasoning_effort, ...). Failures come back as data;
        when a `fallback` model is set and the primary fails, the fallback answers. A call
        that still fails is remembered in `failures`: it makes the whole record
        infrastructure-failed (unscored), whatever the strategy does with it."""
        spec = (model or self.model).with_(**params) if params else (model or self.model)
        done = await self._client.generate(spec, messages, sample_index=sample_index)
        self._log(done, role, sample_index)
        if not done.ok and self.fallback is not None and model is None:
            fb = self.fallback.with_(**params) if params else self.fallback
            second = await self._client.generate(fb, messages, sample_index=sample_index)
            self._log(second, role, sample_index)
            if second.ok:
                self.info["fallback_served"] = self.info.get("fallback_served", 0) + 1
            done = second
        if not done.ok:
            self.failures.append(Failure(role, sample_index, done.status))
        return done

    def infra_status(self) -> str | None:
        """The infrastructure status of this (item, config), or None when every call this
        context made succeeded (a primary failure the fallback answered counts as success).

        Several failures give one label independent of the order in which parallel calls
        finished: a fatal status (auth_error, not_found) first, then the lowest sample index."""
        if not self.failures:
            return None
        worst = min(
            self.failures,
            key=lambda f: (f.status not in FATAL_STATUSES, f.sample_index, f.role, f.status),
        )
        return worst.status

    def _log(self, c: Completion, role: str, sample_index: int) -> None:
        start = _clock.get()  # where the call sits on the critical path (for the record's TTFT)
        _clock.set(start + c.latency_s)
        self.calls.append(
            CallRecord.from_completion(
                c,
                item_id=self.item.id,
                config=self.config,
                role=role,
                sample_index=sample_index,
                started_s=start,
            )
        )

    async def parallel(self, tasks: Iterable[Awaitable[Any]]) -> list[Any]:
        """Run awaitables concurrently; the caller's clock advances by the slowest one."""
        import asyncio

        start = _clock.get()

        async def branch(aw: Awaitable[Any]) -> tuple[Any, float]:
            _clock.set(start)
            out = await aw
            return out, _clock.get()

        done = await asyncio.gather(*(branch(t) for t in tasks))
        _clock.set(max((end for _, end in done), default=start))
        return [out for out, _ in done]

    @property
    def elapsed(self) -> float:
        """Critical-path latency so far, in seconds."""
        return _clock.get()

    def timed(self) -> _Timer:
        """`with ctx.timed() as t: ...; t.seconds` -> the critical-path time of a block."""
        return _Timer()

    async def run_config(self, name: str) -> StrategyResult:
        """Run another config of the suite on this item (for routers)."""
        if self._delegate is None:
            raise UserError(f"config {self.config!r}: this context cannot delegate")
        return await self._delegate(name, self)

    def cost_of(self, calls: list[CallRecord]) -> float | None:
        """Summed cost, None if any call's price is unknown. `math.fsum` is exactly rounded,
        so the sum does not depend on the order in which parallel calls finished."""
        costs = [c.cost_usd for c in calls]
        return None if any(c is None for c in costs) else math.fsum(costs)  # type: ignore[arg-type]


class _Timer:
    def __enter__(self) -> _Timer:
        self._start = _clock.get()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = _clock.get() - self._start


def reset_clock() -> contextvars.Token[float]:
    return _clock.set(0.0)


def sample_from(c: Completion, answer: str | None, score: float | None = None) -> Sample:
    """A pool member from one completion."""
    return Sample(
        text=c.text,
        answer=answer,
        score=score,
        cost_usd=c.cost_usd,
        latency_s=c.latency_s,
        input_tokens=c.usage.input_tokens,
        output_tokens=c.usage.output_tokens,
        reasoning_tokens=c.usage.reasoning_tokens,
        finish_reason=c.finish_reason,
        status=c.status,
        logprob=c.logprob,
    )
