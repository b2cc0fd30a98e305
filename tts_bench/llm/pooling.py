"""A pool in one request: concurrent `Client.generate()` calls for the same model spec and
messages that differ only by sample index are sent as one request with `n` choices.

Strategies do not change: `draw_pool` still awaits one `ctx.generate()` per sample. The client
hands each call that missed the cache to `Pooler.join`, which holds it for `TURNS` turns of
the event loop (the calls of one `ctx.parallel` all arrive within them), then sends the
gathered sample indices as runs of consecutive indices, each run one request of
`n = len(run)` starting at its first index (the simulator answers choice i of a request
starting at s exactly as a request of its own for sample index s + i; a real provider ignores
the index). Each choice stays its own cached sample under its own index.

Usage of an `n` request, split so that the record totals are exact:
- prompt tokens (cache reads and writes included) are counted once, on the request's first
  choice (the lowest sample index); the other choices carry 0 prompt tokens;
- completion tokens are each choice's own where the transport reports them per choice (the
  in-process simulator); an OpenAI-style response reports only the total, which is split
  over the choices in proportion to their text length (largest remainder, so the sum is
  the response's);
- cost is each choice's share priced at the model's rates; latency is the request's (the
  slowest choice: all choices arrive with one response), time to first token stays each
  choice's own.
A failed request fails all its choices alike (`Client._attempts`).

Knob `pool_request` (a config's or the defaults'; `ModelSpec.pool_request`, which is
`separate` for a spec built by hand): `auto` (a suite's default:
`n` where it is known to work — the simulator in-process, `openai/...` models, OpenAI-
compatible `api_base` servers such as vLLM and `sim serve`; `separate` elsewhere), `n`
(ask for it on any transport except the APIs that have no `n`, e.g. Anthropic, Gemini,
Bedrock, which fall back to `separate`), `separate` (one request per sample, as before).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from tts_bench.llm.types import Completion, ModelSpec, Usage

POOL_MODES = ("auto", "n", "separate")
MAX_N = 128  # OpenAI's limit on `n`; a longer run is split into several requests
TURNS = 2  # event-loop turns a call waits for the rest of its pool
# Model prefixes whose APIs have no `n`: a pool is always drawn one request per sample.
NO_N = ("anthropic/", "bedrock/", "gemini/", "vertex_ai/", "cohere/", "ollama/", "ollama_chat/")
# Prefixes whose chat APIs accept `n` (litellm passes it through).
HAS_N = ("openai/", "azure/", "hosted_vllm/", "text-completion-openai/")

Messages = list[dict[str, str]]
Send = Callable[[str, ModelSpec, Messages, int, int], Any]  # -> awaitable list[Completion]


def pool_mode(spec: ModelSpec, kind: str | None = None) -> str:
    """ "n" or "separate": how a pool of `spec` travels on transport `kind`
    ("sim", "direct" or "litellm"; default backends.choose(spec))."""
    if kind is None:
        from tts_bench.llm.backends import choose

        kind = choose(spec)
    mode = spec.pool_request
    # a batch-mode call travels in a provider batch (llm/transports/batch.py), one entry each
    if mode == "separate" or spec.model.startswith(NO_N) or spec.batch:
        return "separate"
    if mode == "n" or kind in ("sim", "direct"):
        return "n"
    return "n" if spec.model.startswith(HAS_N) else "separate"


def runs(indices: list[int], limit: int = MAX_N) -> list[list[int]]:
    """Sample indices as runs of consecutive distinct indices of at most `limit`; a repeated
    index (two callers asking for the same sample at once) goes into a later run, so every
    caller gets a response of its own, as without pooling."""
    left = sorted(indices)
    out: list[list[int]] = []
    while left:
        distinct, rest = [], []
        for i in left:
            (rest if distinct and distinct[-1] == i else distinct).append(i)
        run: list[int] = []
        for i in distinct:
            if run and (i != run[-1] + 1 or len(run) == limit):
                out.append(run)
                run = []
            run.append(i)
        out.append(run)
        left = rest
    return out


def shares(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder; equal shares when every
    weight is 0); the shares sum to `total` exactly."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    base = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda k: (-(exact[k] - base[k]), k))
    for k in order[: total - sum(base)]:
        base[k] += 1
    return base


def split_usage(completions: list[Completion], per_choice: bool) -> list[Usage]:
    """Each choice's usage in one `n` request (module docstring). per_choice: the completions
    carry their own completion tokens (the simulator); else each carries the response's
    total, split here in proportion to text length."""
    first = completions[0].usage
    prompt = {
        "input_tokens": first.input_tokens,
        "cached_tokens": first.cached_tokens,
        "cache_write_tokens": first.cache_write_tokens,
    }
    if per_choice:
        outs = [c.usage.output_tokens for c in completions]
        thinks = [c.usage.reasoning_tokens for c in completions]
    else:
        weights = [len(c.text) for c in completions]
        outs = shares(first.output_tokens, weights)
        thinks = shares(first.reasoning_tokens, weights)
    return [
        Usage(
            **(prompt if k == 0 else dict.fromkeys(prompt, 0)),
            output_tokens=outs[k],
            reasoning_tokens=thinks[k],
        )
        for k in range(len(completions))
    ]


@dataclass
class _Wait:
    sample_index: int
    future: asyncio.Future = field(repr=False)


@dataclass
class _Group:
    kind: str
    spec: ModelSpec
    messages: Messages
    waits: list[_Wait] = field(default_factory=list)


class Pooler:
    """Gathers concurrent calls into `n` requests. send(kind, spec, messages, first_index, n)
    makes one request (with the client's retries) and returns its n completions; price(spec,
    usage) prices one choice's usage (None when the price is unknown)."""

    def __init__(self, send: Send, price: Callable[[ModelSpec, Usage], float | None]) -> None:
        self._send = send
        self._price = price
        self._groups: dict[tuple, _Group] = {}
        self._tasks: set[asyncio.Task] = set()
        self.requests = 0  # requests sent by the pooler (each of n choices)
        self.no_n: set[tuple[str, str, str]] = set()  # endpoints that answered fewer choices

    async def join(
        self, kind: str, spec: ModelSpec, messages: Messages, sample_index: int
    ) -> Completion:
        """The completion of `sample_index`, drawn in one request with the other indices of
        the same spec and messages that arrive within `TURNS` loop turns."""
        key = _group_key(kind, spec, messages)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(kind, spec, messages)
            asyncio.get_running_loop().call_soon(self._later, key, TURNS - 1)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        group.waits.append(_Wait(sample_index, future))
        return await future

    def _later(self, key: tuple, turns: int) -> None:
        if turns > 0:
            asyncio.get_running_loop().call_soon(self._later, key, turns - 1)
            return
        group = self._groups.pop(key)
        task = asyncio.ensure_future(self._flush(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, group: _Group) -> None:
        pending = list(group.waits)  # each request takes its callers from here
        try:
            await asyncio.gather(
                *(
                    self._request(group, run, pending)
                    for run in runs([w.sample_index for w in pending])
                )
            )
        except BaseException as exc:
            # a configuration error (UserError) or a simulator bug: every caller sees it
            for w in group.waits:
                if not w.future.done():
                    if isinstance(exc, asyncio.CancelledError):
                        w.future.cancel()
                    else:
                        w.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def _request(self, group: _Group, run: list[int], pending: list[_Wait]) -> None:
        # Each index of the run takes the first still-waiting caller of that index.
        waits = []
        for i in run:
            w = next(w for w in pending if w.sample_index == i)
            pending.remove(w)
            waits.append(w)
        target = _target(group.kind, group.spec)
        if target in self.no_n:
            done = await self._one_by_one(group, run)
        else:
            self.requests += 1
            done = await self._send(group.kind, group.spec, group.messages, run[0], len(run))
            if len(done) < len(run):
                # A server that ignores `n` answers with fewer choices: keep what it sent,
                # draw the rest one request each, and never ask this endpoint for `n` again.
                self.no_n.add(target)
                got = self._split(group, done) if len(done) > 1 else done
                done = got + await self._one_by_one(group, run[len(done) :])
            elif len(run) > 1:
                done = self._split(group, done)
        for w, c in zip(waits, done, strict=True):
            if not w.future.done():
                w.future.set_result(c)

    async def _one_by_one(self, group: _Group, run: list[int]) -> list[Completion]:
        self.requests += len(run)
        sent = await asyncio.gather(
            *(self._send(group.kind, group.spec, group.messages, i, 1) for i in run)
        )
        return [c for one in sent for c in one[:1]]

    def _split(self, group: _Group, done: list[Completion]) -> list[Completion]:
        """One `n` response's completions with the usage, cost and latency of each choice."""
        rid = uuid.uuid4().hex[:16]
        n = len(done)
        # A failed request's choices carry no tokens: the split leaves them at 0, cost 0.
        usages = split_usage(done, per_choice=group.kind == "sim")
        latency = max(c.latency_s for c in done)
        out = []
        for c, usage in zip(done, usages, strict=True):
            cost = None if c.cost_usd is None else self._price(group.spec, usage)
            out.append(
                replace(
                    c, usage=usage, cost_usd=cost, latency_s=latency, request_n=n, request_id=rid
                )
            )
        return out

    async def aclose(self) -> None:
        """Cancel requests still in flight (an interrupted run)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _target(kind: str, spec: ModelSpec) -> tuple[str, str, str]:
    """The endpoint an `n` request goes to: transport, model and base URL."""
    return (kind, spec.model, str(spec.params.get("api_base") or ""))


_SCALARS = tuple(f.name for f in fields(ModelSpec) if f.name != "params")


def _group_key(kind: str, spec: ModelSpec, messages: Messages) -> tuple:
    """Calls that may share one request: the same transport, spec and messages. Every call
    to a pooled model passes here, so the spec's scalar fields are taken as they are and only
    its params and the messages are serialised (a quarter of `asdict` + one dump's cost)."""
    text = json.dumps([spec.params, messages], sort_keys=True, default=str)
    return (kind, *(getattr(spec, name) for name in _SCALARS), text)
