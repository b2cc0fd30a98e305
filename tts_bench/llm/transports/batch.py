"""The batch transport: calls of a batch-mode config are queued, submitted as one provider
batch per round, polled, and handed back as ordinary `Completion`s.

A round: calls for the same model and address collect in a queue; once the queue stops
growing for `linger_s` (every pair in flight is waiting on a call) or reaches `max_requests`,
its calls go out as one batch (batch_wire.py: OpenAI's Batch API or Anthropic's Message
Batches, both over direct HTTP; that module says why not litellm). A multi-step strategy's
next call exists only once the previous answer is back, so such strategies submit one round at
a time by themselves. The batch is recorded in the run directory (batch_journal.py) the moment
the provider accepts it, then polled every `poll_s` seconds.

A request that errors inside a batch is labelled like any call (llm.errors) and, when the
label is retryable and `limits.retries` allows, goes into the next round; otherwise it comes
back as a failed Completion. A batch the provider fails, expires or no longer knows errors all
its requests alike (`server_error`, retried). On resume a call whose cache key the journal
holds is answered by polling the batch it was sent in: nothing is submitted or paid twice.

A batched call's `cost_usd` is at the model's batch price (`PriceTable.batch_rate`: the
suite's `batch_input`/`batch_output`, else litellm's `*_batches` rates, else half the
simulator profile's price for `sim serve` models; unknown → None). Its `latency_s` is the
turnaround of the batch that answered it (submission to results, as polled), and `queue_s`
the whole wait from the call's entry into the queue (earlier rounds included): queue time,
not model latency, which no batch API reports per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tts_bench.llm.backends.base import CallError, Reply, clip
from tts_bench.llm.pricing import Rate, cost_usd
from tts_bench.llm.transports.batch_journal import BatchJournal, Ref
from tts_bench.llm.transports.batch_wire import BatchWire, Outcomes, dialect
from tts_bench.llm.types import Completion, ModelSpec, Usage

Messages = list[dict[str, str]]
DEFAULT_POLL_S = 10.0
DEFAULT_LINGER_S = 0.2
DEFAULT_MAX_REQUESTS = 5000  # OpenAI takes 50,000 per batch, Anthropic 100,000


@dataclass
class Pending:
    """One call waiting for its answer."""

    spec: ModelSpec
    messages: Messages
    sample_index: int
    key: str
    future: asyncio.Future
    since: float = field(default_factory=time.perf_counter)
    attempt: int = 0  # rounds it errored in


@dataclass
class Counts:
    """What the progress line shows."""

    pending: int = 0  # batches submitted and not yet answered
    done: int = 0  # batches answered
    succeeded: int = 0  # requests answered
    errored: int = 0  # requests that errored inside a batch

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class BatchTransport:
    """limits: the suite's Limits (retries, timeout_s; batch_poll_s and batch_max_requests
    are the defaults of poll_s and max_requests); batch_rate: model → batch Rate or None;
    api_key: spec → key or None; journal: the run directory's batch file; poll_s: seconds
    between polls; linger_s: how long a queue must stay unchanged to make a round;
    max_requests: the most requests in one batch; on_change: called with `counts` whenever
    they change (the progress line)."""

    def __init__(
        self,
        *,
        limits: Any,
        batch_rate: Callable[[str], Rate | None],
        api_key: Callable[[ModelSpec], str | None],
        journal: BatchJournal | None = None,
        poll_s: float | None = None,
        linger_s: float = DEFAULT_LINGER_S,
        max_requests: int | None = None,
        on_change: Callable[[Counts], None] | None = None,
    ) -> None:
        self.limits = limits
        self.journal = journal or BatchJournal(None)
        self.poll_s = poll_s or getattr(limits, "batch_poll_s", DEFAULT_POLL_S)
        self.max_requests = max_requests or getattr(
            limits, "batch_max_requests", DEFAULT_MAX_REQUESTS
        )
        self.linger_s = linger_s
        self.on_change = on_change
        self.counts = Counts()
        self._batch_rate = batch_rate
        self._api_key = api_key
        self._rates: dict[str, Rate | None] = {}
        self._queues: dict[tuple, list[Pending]] = {}
        self._flushers: dict[tuple, asyncio.Task] = {}
        self._watches: dict[str, asyncio.Task] = {}
        self._waiters: dict[str, list[tuple[str, Pending, float]]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None

    async def call(
        self, spec: ModelSpec, messages: Messages, sample_index: int, key: str
    ) -> Completion:
        """The answer to one call, from a batch (a recorded one first)."""
        dialect(spec)  # a model without a batch API fails here, before anything is queued
        if spec.model not in self._rates:
            self._rates[spec.model] = await asyncio.to_thread(self._batch_rate, spec.model)
        future = asyncio.get_running_loop().create_future()
        pending = Pending(spec, messages, sample_index, key, future)
        ref = self.journal.recorded(key)
        if ref is not None:
            self._spawn(self._resume(pending, ref), [pending])
        else:
            self._enqueue(pending)
        return await future

    async def aclose(self) -> None:
        for task in [*self._tasks, *self._flushers.values(), *self._watches.values()]:
            task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- rounds -------------------------------------------------------------------------------
    def _group(self, spec: ModelSpec) -> tuple:
        headers = sorted((spec.params.get("extra_headers") or {}).items())
        base = repr(spec.params.get("api_base"))  # a list of replicas too
        return (spec.model, base, spec.api_key_env, tuple(headers))

    def _enqueue(self, pending: Pending) -> None:
        group = self._group(pending.spec)
        self._queues.setdefault(group, []).append(pending)
        flusher = self._flushers.get(group)
        if flusher is None or flusher.done():
            self._flushers[group] = asyncio.ensure_future(self._flush(group))

    async def _flush(self, group: tuple) -> None:
        """Make rounds of the group's queue until it is empty."""
        queue = self._queues[group]
        while queue:
            size = -1
            while len(queue) != size and len(queue) < self.max_requests:
                size = len(queue)
                await asyncio.sleep(self.linger_s)
            batch = queue[: self.max_requests]
            del queue[: self.max_requests]
            self._spawn(self._round(batch), batch)

    async def _round(self, batch: list[Pending]) -> None:
        wire = self._wire(batch[0].spec)
        ids = {f"c{i}-s{p.sample_index}": p for i, p in enumerate(batch)}
        try:
            batch_id = await wire.submit(
                [(c, wire.body(p.spec, p.messages)) for c, p in ids.items()]
            )
        except CallError as exc:  # refused as a whole: every request gets the same label
            if exc.retryable:  # the next round after a pause (Retry-After when sent)
                await asyncio.sleep(min(exc.retry_after or self.poll_s, self.poll_s * 10))
            for p in batch:
                self._errored(p, exc, 0.0)
            return
        self.journal.append(
            batch_id, wire.kind, batch[0].spec.model, {c: p.key for c, p in ids.items()}
        )
        for custom_id, p in ids.items():
            self._wait_on(batch_id, wire, custom_id, p)

    async def _resume(self, pending: Pending, ref: Ref) -> None:
        """A call an earlier session submitted: read it from its batch."""
        self._wait_on(ref.batch_id, self._wire(pending.spec), ref.custom_id, pending)

    def _settle(self, p: Pending, outcome: Reply | CallError | None, turnaround: float) -> None:
        if outcome is None:
            outcome = CallError("server_error", "request missing from the batch's results")
        if isinstance(outcome, Reply):
            self.counts.succeeded += 1
            if not p.future.done():
                p.future.set_result(self._ok(p, outcome, turnaround))
            return
        self.counts.errored += 1
        self._errored(p, outcome, turnaround)

    def _errored(self, p: Pending, error: CallError, turnaround: float) -> None:
        """Retry in the next round, or answer with the failure."""
        p.attempt += 1
        if error.retryable and p.attempt <= self.limits.retries:
            self._enqueue(p)
        elif not p.future.done():
            p.future.set_result(self._failed(p, error, turnaround))

    # -- polling ------------------------------------------------------------------------------
    def _wait_on(self, batch_id: str, wire: BatchWire, custom_id: str, p: Pending) -> None:
        """Answer `p` from a batch: when its poll loop ends (one loop per batch, shared by
        every call waiting on it), or now if it has ended already."""
        task = self._watches.get(batch_id)
        if task is not None and task.done():
            self._settle(p, _pick(task.result(), custom_id), 0.0)
            return
        self._waiters.setdefault(batch_id, []).append((custom_id, p, time.perf_counter()))
        if task is None:
            self._watches[batch_id] = asyncio.ensure_future(self._poll(batch_id, wire))

    async def _poll(self, batch_id: str, wire: BatchWire) -> Outcomes | CallError:
        """Poll until the batch ends, then answer every call waiting on it."""
        self.counts.pending += 1
        self._changed()
        try:
            outcomes = await self._outcomes(batch_id, wire)
        except Exception as exc:  # a bug, not the provider: fail the calls, never hang them
            outcomes = CallError("api_error", f"batch {batch_id}: {type(exc).__name__}: {exc}")
        now = time.perf_counter()
        for custom_id, p, since in self._waiters.pop(batch_id, []):
            self._settle(p, _pick(outcomes, custom_id), now - since)
        self.counts.pending -= 1
        self.counts.done += 1
        self._changed()
        return outcomes

    async def _outcomes(self, batch_id: str, wire: BatchWire) -> Outcomes | CallError:
        failures = 0
        while True:
            try:
                status, polled = await wire.poll(batch_id)
                if status.failed:
                    return _all_failed(batch_id, status.error)
                if status.ended:
                    return await wire.results(batch_id, polled)
                failures = 0
            except CallError as exc:
                failures += 1
                if not exc.retryable or failures > self.limits.retries:
                    return _all_failed(batch_id, exc.message)
            await asyncio.sleep(self.poll_s)

    # -- completions --------------------------------------------------------------------------
    def _ok(self, p: Pending, reply: Reply, turnaround: float) -> Completion:
        rate = self._rates.get(p.spec.model)
        filtered = reply.finish_reason == "content_filter"
        return Completion(
            text=reply.text,
            finish_reason=reply.finish_reason,
            usage=reply.usage,
            cost_usd=cost_usd(reply.usage, rate) if reply.usage_known else None,
            latency_s=turnaround,
            status="content_filter" if filtered else "ok",
            retries=p.attempt,
            model=p.spec.model,
            logprob=reply.logprob,
            queue_s=time.perf_counter() - p.since,
        )

    def _failed(self, p: Pending, error: CallError, turnaround: float) -> Completion:
        return Completion(
            text="",
            finish_reason=None,
            usage=Usage(),
            cost_usd=cost_usd(Usage(), self._rates.get(p.spec.model)),
            latency_s=turnaround,
            status=error.status,
            retries=max(p.attempt - 1, 0),
            error=clip(error.message, 500),
            model=p.spec.model,
            queue_s=time.perf_counter() - p.since,
        )

    # -- plumbing -----------------------------------------------------------------------------
    def _wire(self, spec: ModelSpec) -> BatchWire:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.limits.timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return BatchWire(self._session, spec, self._api_key(spec))

    def _spawn(self, coro: Any, waiting: list[Pending]) -> None:
        task = asyncio.ensure_future(self._guard(coro, waiting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Any, waiting: list[Pending]) -> None:
        """Run a round; if it breaks (anything but a provider error, which is handled
        inside), its calls fail as `api_error` instead of waiting for ever."""
        try:
            await coro
        except Exception as exc:
            error = CallError("api_error", f"batch transport: {type(exc).__name__}: {exc}")
            for p in waiting:
                if not p.future.done():
                    p.future.set_result(self._failed(p, error, 0.0))

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.counts)


def _all_failed(batch_id: str, why: str) -> CallError:
    """A batch that will give no answers: every request errors alike (retried next round)."""
    return CallError("server_error", f"batch {batch_id} gave no answers: {clip(why)}")


def _pick(outcomes: Outcomes | CallError, custom_id: str) -> Reply | CallError | None:
    return outcomes if isinstance(outcomes, CallError) else outcomes.get(custom_id)
