"""Where a run's pairs execute. The runner hands an executor its pending (item, config)
pairs and a `Sink`, its own side of the seam; the executor runs the pairs and hands each
one's `(calls, record)` back to `Sink.accept`. Only the runner writes the run directory,
counts spend and progress, and stops configs, whatever executes the pairs.

`LocalExecutor` (the default): asyncio workers in this process sharing one `Client`.
`RayExecutor` (`tts_bench/run/ray_worker.py`): shards of the pairs on Ray actors, each with
its own `Client`; `make_executor` picks one by name (`run --executor`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from tts_bench.errors import UserError
from tts_bench.llm.types import CallRecord

Pair = tuple[str, str]  # (item id, config name)
Worker = Callable[[], Awaitable[None]]
# The runner's worker loop: runs `width` copies of a worker until they end or `stop` is set
# (signals, cancellation). width None: the runner's own width for one process.
Drive = Callable[[Worker, int, asyncio.Event, int | None], Awaitable[None]]

EXECUTORS = ("local", "ray")


class Admit(Enum):
    """The runner's answer when an executor is about to start a pair."""

    RUN = "run"  # start it (the runner counts it in flight until `release`)
    SKIP = "skip"  # its config was stopped: never run it this session
    WAIT = "wait"  # try again a moment later (the config's first pair is learning its cost)
    STOP = "stop"  # the budget is reached: start nothing more


class Sink(Protocol):
    """The runner's side of the seam."""

    stop: asyncio.Event

    def admit(self, config: str) -> Admit: ...

    def release(self, config: str) -> None: ...

    def accept(self, calls: list[CallRecord], record: dict[str, Any]) -> None: ...


@dataclass
class Meter:
    """What this session's calls cost and counted, for the budget and the manifest:
    live spend (USD), calls (cache hits included), cache hits, and the simulator's
    recognised-prompt counts ({model: {recognised, seen}})."""

    spent_usd: float = 0.0
    n_calls: int = 0
    n_cache_hits: int = 0
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class Job:
    """What an executor needs from the runner. new_client: a `Client` for the suite (the
    runner's, with its cache); run_pair(client, item_id, config) → (ctx, record); drive:
    the runner's worker loop; suite, items, where, cache_path: for executors that rebuild
    the run elsewhere (Ray workers)."""

    new_client: Callable[[], Any]
    run_pair: Callable[[Any, str, str], Awaitable[tuple[Any, dict[str, Any]]]]
    drive: Drive
    suite: Any
    items: list[Any]
    where: str
    cache_path: Any


class Executor(Protocol):
    async def execute(self, pairs: list[Pair], job: Job, sink: Sink) -> str | None:
        """Run `pairs`; None, or one line saying why some pairs could not run (a lost
        worker), which fails the run (`--resume` runs them)."""
        ...

    def spent_usd(self) -> float:
        """This session's live spend so far (the budget reads it after every pair)."""
        ...

    def meter(self) -> Meter: ...

    def describe(self) -> dict[str, Any]:
        """What ran the session, for its manifest entry: {"name": ..., ...}."""
        ...

    async def aclose(self) -> None: ...


async def run_queue(
    queue: deque[Pair], sink: Sink, run: Callable[[str, str], Awaitable[Any]]
) -> None:
    """One worker: take pairs off `queue` under the runner's admission until it is empty or
    the run stops; `run(item_id, config)` → (calls, record)."""
    while queue and not sink.stop.is_set():
        item_id, config = queue.popleft()
        verdict = sink.admit(config)
        if verdict is Admit.SKIP:
            continue
        if verdict is Admit.WAIT:
            queue.append((item_id, config))
            await asyncio.sleep(0.005)
            continue
        if verdict is Admit.STOP:
            return
        try:
            calls, record = await run(item_id, config)
        finally:
            sink.release(config)
        sink.accept(calls, record)


class LocalExecutor:
    """Today's asyncio workers: every pair in this process, one shared `Client`."""

    def __init__(self) -> None:
        self._client: Any = None

    async def execute(self, pairs: list[Pair], job: Job, sink: Sink) -> str | None:
        self._client = job.new_client()
        queue = deque(pairs)

        async def run(item_id: str, config: str) -> tuple[list[CallRecord], dict[str, Any]]:
            ctx, record = await job.run_pair(self._client, item_id, config)
            return ctx.calls, record

        await job.drive(lambda: run_queue(queue, sink, run), len(pairs), sink.stop, None)
        return None

    def spent_usd(self) -> float:
        return self._client.spent_usd if self._client is not None else 0.0

    def meter(self) -> Meter:
        from tts_bench import sim_coverage

        c = self._client
        if c is None:
            return Meter()
        return Meter(c.spent_usd, c.n_calls, c.n_cache_hits, sim_coverage.of(c))

    def describe(self) -> dict[str, Any]:
        return {"name": "local"}

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def make_executor(
    name: str = "local", *, address: str | None = None, workers: int | None = None
) -> Executor:
    """An executor by name: `local`, or `ray` (address: a Ray cluster, `auto`, or None for
    a local instance; workers: Ray actors, default one per CPU of the cluster)."""
    if name == "local":
        if address is not None or workers is not None:
            raise UserError("--ray-address and --workers need --executor ray")
        return LocalExecutor()
    if name == "ray":
        from tts_bench.run.ray_worker import RayExecutor

        return RayExecutor(address=address, workers=workers)
    raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, got {name!r}")
