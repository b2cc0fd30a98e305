"""`run --executor ray`: a run's pending pairs split into K shards, each on a Ray actor
(a worker process, anywhere on the cluster) with its own `Client`; the driver alone writes
the run directory.

The shards are stratified (`schedule.assignment`: every shard has every stratum in
proportion, and every config of an item lands on the same worker). The driver keeps each
shard's queue and admits its pairs one by one under the runner's rules (the budget, stopped
configs), so a Ray run stops where a local one would; each pair runs on its shard's actor
(the actor rebuilds the suite from its JSON form and runs up to twice `limits.concurrency`
pairs at once) and its `(calls, record)` comes back to `Sink.accept`. A worker lost
mid-shard costs only that shard's unfinished pairs: the others run on, the run ends
`failed` saying so, and `--resume` runs what is left.

The response cache is shared: every worker opens the run's SQLite cache (WAL mode, each
write committed at once), so a call a lost worker finished replays for free on resume and
no call is paid twice. That needs the cache path on a file system every worker sees (one
machine, or a shared volume); otherwise the workers refuse to start. Rate limits
(`limits.rpm`, `limits.tpm`) are account quotas, so each of the K workers gets 1/K of them;
`limits.concurrency` applies per worker.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.llm.types import CallRecord
from tts_bench.run.executors import Job, Meter, Pair, Sink, run_queue
from tts_bench.run.schedule import assignment

MISSING = "--executor ray needs Ray: pip install 'tts-bench[ray]'"


class _Lost(Exception):
    """The shard's actor died: its coroutines stop taking pairs."""


class PairWorker:
    """One worker process: the suite rebuilt from its JSON form, the shard's items, its
    own `Client` on the shared cache. cache_path: the run's SQLite cache, or None."""

    def __init__(
        self, suite_json: dict[str, Any], items: list[Any], where: str, cache_path: str | None
    ) -> None:
        from tts_bench.runner import Runner
        from tts_bench.suite import Suite

        cache = Path(cache_path) if cache_path else None
        if cache is not None and not cache.parent.is_dir():
            raise UserError(
                f"a Ray worker cannot see the response cache {cache}: run the cluster on "
                "one machine, put the results folder on a volume every node mounts, or "
                "--no-cache"
            )
        suite = Suite.model_validate(suite_json)
        self.runner = Runner.for_pairs(suite, items, where, cache)
        self.client: Any = None

    async def run_pair(
        self, item_id: str, config: str
    ) -> tuple[list[CallRecord], dict[str, Any], Meter]:
        from tts_bench import sim_coverage

        if self.client is None:
            self.client = self.runner._new_client()
        ctx, record = await self.runner._run_pair(self.client, item_id, config)
        c = self.client
        return ctx.calls, record, Meter(c.spent_usd, c.n_calls, c.n_cache_hits, sim_coverage.of(c))

    def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


def split(pairs: list[Pair], items: list[Any], k: int, seed: int) -> list[list[Pair]]:
    """The pending pairs in `k` stratified shards of their items, each in the run's order."""
    pending = {i for i, _ in pairs}
    where = assignment([it for it in items if it.id in pending], k, seed)
    shards: list[list[Pair]] = [[] for _ in range(k)]
    for item_id, config in pairs:
        shards[where[item_id] - 1].append((item_id, config))
    return shards


class RayExecutor:
    """Pairs on Ray actors. address: a Ray cluster (`ray://host:10001`, `auto`), or None /
    `local` for a local instance started here (and stopped at the end); workers: K, the
    number of shards and actors (default one per CPU of the cluster, at most one per
    pending item). An already initialised Ray (`ray.init` in the caller) is used as is."""

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserError(MISSING) from None
        if workers is not None and workers < 1:
            raise UserError(f"--workers must be at least 1, got {workers}")
        self.address = None if address in (None, "", "local") else address
        self.workers = workers
        self._actors: list[Any] = []
        self._meters: dict[int, Meter] = {}
        self._started = False
        self.startup_s = 0.0  # seconds until every worker had started (the last run's)
        self._k = 0  # the last run's workers

    def _connect(self) -> Any:
        import ray

        if not ray.is_initialized():
            ray.init(
                address=self.address,
                include_dashboard=False,
                logging_level=logging.WARNING,
                configure_logging=True,
            )
            self._started = True
        return ray

    async def execute(self, pairs: list[Pair], job: Job, sink: Sink) -> str | None:
        self._meters = {}
        if not pairs:
            return None
        ray = self._connect()
        n_items = len({i for i, _ in pairs})
        k = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        k = self._k = max(1, min(k, n_items))
        shards = split(pairs, job.items, k, job.suite.seed)
        suite_json = _shared_limits(job.suite.model_dump(mode="json"), k)
        width = job.suite.limits.concurrency * 2  # pairs at once per worker, as locally
        remote = ray.remote(PairWorker).options(
            num_cpus=0,  # I/O-bound: K may exceed the CPUs; SPREAD puts them on many nodes
            scheduling_strategy="SPREAD",
            max_concurrency=width + 2,
        )
        cache = str(job.cache_path) if job.cache_path is not None else None
        for shard in shards:
            ids = {i for i, _ in shard}
            items = [it for it in job.items if it.id in ids]
            self._actors.append(remote.remote(suite_json, items, job.where, cache))
        await self._ready(ray)
        queues = [deque(s) for s in shards]
        done = [0] * k
        lost: dict[int, str] = {}
        slots = itertools.cycle(range(k))

        async def worker() -> None:
            s = next(slots)

            async def run(item_id: str, config: str) -> tuple[list[CallRecord], dict[str, Any]]:
                if s in lost:
                    raise _Lost
                try:
                    calls, record, meter = await self._actors[s].run_pair.remote(item_id, config)
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as e:
                    lost.setdefault(s, type(e).__name__)
                    raise _Lost from None
                last = self._meters.get(s)
                if last is None or meter.n_calls >= last.n_calls:  # replies may cross
                    self._meters[s] = meter
                done[s] += 1
                return calls, record

            try:
                await run_queue(queues[s], sink, run)
            except _Lost:
                return

        await job.drive(worker, len(pairs), sink.stop, k * min(width, max(map(len, shards))))
        if not lost:
            return None
        parts = [
            f"worker {s + 1} of {k} lost ({why}) with {len(shards[s]) - done[s]} of its "
            f"{len(shards[s])} pairs unfinished"
            for s, why in sorted(lost.items())
        ]
        return "; ".join(parts) + "; --resume runs the remaining pairs (finished calls are cached)"

    async def _ready(self, ray: Any) -> None:
        """Wait for every worker to start (`startup_s`); one that cannot start (no Ray
        worker node, an unreachable cache) fails the run before any pair is admitted."""
        start = time.perf_counter()
        try:
            await asyncio.gather(*(a.ready.remote() for a in self._actors))
        except ray.exceptions.RayError as exc:
            cause = str(exc).strip().splitlines()
            why = next((x for x in reversed(cause) if "UserError" in x), cause[-1] if cause else "")
            why = why.split("UserError: ", 1)[-1].strip()  # the worker's own line
            raise UserError(f"Ray workers could not start: {why}") from None
        self.startup_s = time.perf_counter() - start

    def describe(self) -> dict[str, Any]:
        return {"name": "ray", "address": self.address or "local", "workers": self._k}

    def spent_usd(self) -> float:
        return sum(m.spent_usd for m in self._meters.values())

    def meter(self) -> Meter:
        total = Meter()
        for m in self._meters.values():
            total.spent_usd += m.spent_usd
            total.n_calls += m.n_calls
            total.n_cache_hits += m.n_cache_hits
            for model, c in m.coverage.items():
                kept = total.coverage.setdefault(model, {"recognised": 0, "seen": 0})
                kept["recognised"] += int(c["recognised"])
                kept["seen"] += int(c["seen"])
        return total

    async def aclose(self) -> None:
        if not self._actors:
            return
        import ray

        for actor in self._actors:
            try:  # its HTTP sessions and cache; a lost or stuck worker is killed all the same
                await asyncio.wait_for(actor.aclose.remote(), 10)
            except Exception:
                pass
            ray.kill(actor)
        self._actors = []
        if self._started:
            ray.shutdown()
            self._started = False


def _shared_limits(suite_json: dict[str, Any], k: int) -> dict[str, Any]:
    """The suite each worker runs: rpm and tpm (account quotas) split K ways."""
    limits = dict(suite_json.get("limits") or {})
    for name in ("rpm", "tpm"):
        if limits.get(name):
            limits[name] = max(1, int(limits[name]) // k)
    return {**suite_json, "limits": limits}
