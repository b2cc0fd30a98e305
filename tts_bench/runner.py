"""Run a suite: every (item, config) pair through its strategy, scored and written as it lands.

Items are processed in a seeded shuffled order with every config of an item scheduled
together, so a partial run is still a representative, paired sample. The run survives
Ctrl-C (status `interrupted`), a budget stop (`budget_exceeded`) and SIGKILL: a resume skips
finished pairs and the cache replays the calls of unfinished ones without paying again.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.records import build_record
from tts_bench.resolve import ResolvedSuite
from tts_bench.store import RunWriter, new_run_id, now_iso, read_manifest, write_manifest
from tts_bench.strategies.base import Context, Item, StrategyResult, reset_clock
from tts_bench.suite import Suite

ProgressFn = Callable[[dict[str, Any]], None]


@dataclass
class RunResult:
    run_dir: Path
    status: str
    records: list[dict[str, Any]] = field(default_factory=list)
    spent_usd: float = 0.0
    warnings: list[str] = field(default_factory=list)


def _order(item_ids: list[str], seed: int) -> list[str]:
    ids = sorted(item_ids)
    random.Random(f"order:{seed}").shuffle(ids)
    return ids


def _stratified_subset(items: list[Any], limit: int, seed: int) -> list[Any]:
    """A quick look at `limit` items that keeps every stratum's share (`run --limit`)."""
    from tts_bench.data import stratified_sample

    if limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    if limit >= len(items):
        return items
    cols = sorted({c for it in items for c in it.strata})
    rows = [it.strata for it in items]
    keep = stratified_sample(rows, by=cols, size=limit, seed=seed, where="--limit")
    return [items[i] for i in keep]


class Runner:
    """Executes a resolved suite into a run directory. Use `run()` for the whole thing."""

    def __init__(
        self,
        suite: Suite,
        *,
        out_dir: Path,
        run_id: str | None = None,
        resume_dir: Path | None = None,
        use_cache: bool = True,
        cache_path: Path | None = None,
        max_cost: float | None = None,
        progress: ProgressFn | None = None,
        limit: int | None = None,
        where: str = "suite",
    ) -> None:
        from tts_bench.data import load_items
        from tts_bench.llm.offline import setup_offline_env
        from tts_bench.scoring import make_scorer

        # the Python API is offline by default too, not only the CLI
        setup_offline_env(allow_hub=suite.dataset.source.startswith("hf:"))
        self.suite = suite
        self.resolved = ResolvedSuite(suite, where)
        self.items, self.fingerprint = load_items(suite.dataset, where=f"{where}: dataset")
        if limit is not None:
            self.items = _stratified_subset(self.items, limit, suite.seed)
        self.scorer = make_scorer(suite.scorer)
        self.scorer.check_targets(self.items, where=f"{where}: dataset")
        first = self.items[0]
        self.resolved.render(Item(id=first.id, inputs=first.inputs, strata=first.strata))
        self.max_cost = max_cost if max_cost is not None else suite.limits.max_cost_usd
        self._preflight(where)
        self.progress = progress
        self.warnings: set[str] = set()
        self._first_errors: list[Any] = []  # a few failed calls, to explain a failing run
        if (
            resume_dir is None
            and run_id is not None
            and (out_dir / run_id / "manifest.json").exists()
        ):
            resume_dir = out_dir / run_id
        self.resuming = resume_dir is not None
        self.run_dir = resume_dir or out_dir / (run_id or new_run_id(suite.name))
        if self.resuming:
            old = read_manifest(self.run_dir)
            if old.get("dataset_fingerprint") != self.fingerprint:
                raise UserError(
                    f"{self.run_dir}: the dataset differs from the one this run started with"
                )
            self.manifest = old
            self.manifest["suite"] = suite.model_dump(mode="json")
        else:
            if self.run_dir.exists() and any(self.run_dir.iterdir()):
                raise UserError(f"{self.run_dir}: already exists and is not a run to resume")
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.manifest = self.resolved.manifest(self.run_dir.name, self.fingerprint, self.items)
        self.cache_path = None
        if use_cache:
            # beside the run directory, so `--resume DIR` finds it whatever --out says
            self.cache_path = cache_path or self.run_dir.parent / ".cache" / "llm-cache.sqlite"
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        self.manifest["limit"] = limit
        self.by_id = {it.id: it for it in self.items}

    def _preflight(self, where: str) -> None:
        """Problems that would otherwise surface at the first call: unknown simulated
        models or bad profiles, unset key variables, a negative budget."""
        import os

        from tts_bench.sim import profiles

        if self.max_cost is not None and self.max_cost < 0:
            raise UserError(f"--max-cost must be >= 0, got {self.max_cost}")
        try:
            profiles.all_profiles(self.suite.sim_profiles)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        for name, spec in self.resolved.specs.items():
            for s in filter(None, (spec, self.resolved.fallbacks[name])):
                if s.model.startswith("sim/"):
                    try:
                        profiles.get(s.model, self.suite.sim_profiles)
                    except UserError as exc:
                        raise UserError(f"{where}: configs[{name}].model: {exc}") from None
                elif s.api_key_env and not os.environ.get(s.api_key_env):
                    raise UserError(
                        f"{where}: configs[{name}]: api_key_env {s.api_key_env} is not set "
                        "in the environment"
                    )

    # -- one pair -------------------------------------------------------------------------
    async def _delegate(self, name: str, ctx: Context) -> StrategyResult:
        saved = (ctx.model, ctx.fallback)
        ctx.model, ctx.fallback = self.resolved.specs[name], self.resolved.fallbacks[name]
        try:
            return await self.resolved.solvers[name](ctx)
        finally:
            ctx.model, ctx.fallback = saved

    async def _run_pair(
        self, client: Any, item_id: str, config: str
    ) -> tuple[Context, dict[str, Any]]:
        loaded = self.by_id[item_id]
        item = Item(
            id=loaded.id, inputs=loaded.inputs, strata=loaded.strata, cluster=loaded.cluster
        )
        ctx = Context(
            item=item,
            config=config,
            model=self.resolved.specs[config],
            client=client,
            answerer=self.scorer,
            render=self.resolved.render,
            seed=self.suite.seed,
            fallback=self.resolved.fallbacks[config],
            delegate=self._delegate,
            examples=self.resolved.examples,
        )
        started = time.perf_counter()
        reset_clock()
        result = await self.resolved.solvers[config](ctx)
        latency = ctx.elapsed
        wall = time.perf_counter() - started
        record = build_record(
            suite=self.suite,
            scorer=self.scorer,
            spec=self.resolved.specs[config],
            loaded=loaded,
            config=config,
            ctx=ctx,
            res=result,
            latency=latency,
            wall=wall,
        )
        return ctx, record

    async def _run(self) -> RunResult:
        from tts_bench.llm import Client

        writer, done = RunWriter.open(self.run_dir, resume=self.resuming)
        prior_spend = float(self.manifest.get("spent_usd") or 0.0)
        self.manifest["status"] = "running"
        self.manifest["finished_at"] = None
        self.manifest.setdefault("sessions", []).append(
            {"started_at": now_iso(), "resumed": self.resuming}
        )
        write_manifest(self.run_dir, self.manifest)

        pairs = [
            (i, c.name)
            for i in _order(list(self.by_id), self.suite.seed)
            for c in self.suite.configs
            if (i, c.name) not in done
        ]
        total = len(pairs) + len(done)
        client = Client(
            limits=self.suite.limits,
            pricing=self.suite.pricing,
            cache_path=self.cache_path,
            seed=self.suite.seed,
            sim_profiles=self.suite.sim_profiles,
        )
        stop = asyncio.Event()
        status = {"value": "complete"}
        state = {"done": len(done), "errors": 0, "inflight": 0, "per_pair": {}}
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for p in pairs:
            queue.put_nowait(p)

        def spent() -> float:
            return prior_spend + client.spent_usd

        probing: set[str] = set()
        last_flush = [time.monotonic()]

        def flush_spend() -> None:
            # Keep the manifest's spend near-current so a SIGKILLed run still knows it.
            if time.monotonic() - last_flush[0] > 1.0:
                self.manifest["spent_usd"] = round(spent(), 10)
                write_manifest(self.run_dir, self.manifest)
                last_flush[0] = time.monotonic()

        def would_exceed(config: str) -> bool:
            if self.max_cost is None:
                return False
            est = state["per_pair"].get(config, 0.0)
            return spent() + est * (state["inflight"] + 1) > self.max_cost

        async def worker() -> None:
            while not stop.is_set():
                try:
                    item_id, config = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if self.max_cost is not None and config not in state["per_pair"]:
                    # No cost estimate for this config yet: run one pair alone to learn it.
                    if config in probing:
                        queue.put_nowait((item_id, config))
                        await asyncio.sleep(0.005)
                        continue
                    probing.add(config)
                if would_exceed(config):
                    status["value"] = "budget_exceeded"
                    stop.set()
                    return
                state["inflight"] += 1
                try:
                    ctx, record = await self._run_pair(client, item_id, config)
                finally:
                    state["inflight"] -= 1
                # What this pair would cost uncached (cache hits are free now, but a pair
                # with no cached calls may follow).
                live = sum(c.cost_usd or 0.0 for c in ctx.calls)
                if self.max_cost is not None and any(c.cost_usd is None for c in ctx.calls):
                    unpriced = sorted({c.model for c in ctx.calls if c.cost_usd is None})
                    self.warnings.add(
                        f"--max-cost cannot count calls to {', '.join(unpriced)}: no known "
                        "price (add `pricing:` to the suite)"
                    )
                prev = state["per_pair"].get(config)
                state["per_pair"][config] = (
                    live if prev is None else max(prev, live, 0.5 * (prev + live))
                )
                if record["status"] != "ok" and len(self._first_errors) < 3:
                    self._first_errors.extend(c for c in ctx.calls if c.status != "ok")
                writer.write_pair(ctx.calls, record)
                flush_spend()
                state["done"] += 1
                state["errors"] += record["status"] != "ok"
                if self.progress:
                    self.progress(
                        {
                            "done": state["done"],
                            "total": total,
                            "errors": state["errors"],
                            "spent_usd": spent(),
                        }
                    )

        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(
                    sig, lambda: (status.__setitem__("value", "interrupted"), stop.set())
                )
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        width = max(1, min(len(pairs), self.suite.limits.concurrency * 2))
        tasks = [asyncio.create_task(worker()) for _ in range(width)]
        stopper = asyncio.create_task(stop.wait())
        try:
            pending = set(tasks)
            while pending:
                finished, pending = await asyncio.wait(
                    pending | {stopper}, return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(stopper)
                for t in finished:
                    if t is not stopper and t.exception() is not None:
                        raise t.exception()  # type: ignore[misc]
                if stopper in finished:
                    if status["value"] == "interrupted":
                        for t in pending:
                            t.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    break
        except BaseException:
            if status["value"] == "complete":
                status["value"] = "failed"
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            stopper.cancel()
            for sig in installed:
                loop.remove_signal_handler(sig)
            writer.close()
            await client.aclose()
            if status["value"] == "complete" and state["done"] and state["errors"] == len(pairs):
                status["value"] = "failed"  # not one answer: a dead endpoint or a bad key
            self.manifest["status"] = status["value"]
            self.manifest["warnings"] = sorted(self.warnings)
            self.manifest["finished_at"] = now_iso()
            self.manifest["spent_usd"] = round(spent(), 10)
            self.manifest["sessions"][-1].update(
                finished_at=now_iso(),
                status=status["value"],
                live_calls=client.n_calls - client.n_cache_hits,
                cache_hits=client.n_cache_hits,
            )
            write_manifest(self.run_dir, self.manifest)
        from tts_bench.store import load_records

        records = load_records(self.run_dir)
        infra = [r for r in records if r.get("status", "ok") != "ok"]
        if infra and len(infra) * 2 >= len(records):
            first = next((c.error for c in self._first_errors if c.error), None)
            self.warnings.add(
                f"{len(infra)} of {len(records)} requests failed ({infra[0]['status']})"
                + (f": {first}" if first else "")
                + "; fix the cause, then --resume retries them"
            )
        return RunResult(self.run_dir, status["value"], records, spent(), sorted(self.warnings))

    def run(self) -> RunResult:
        try:
            return asyncio.run(self._run())
        except KeyboardInterrupt:
            self.manifest["status"] = "interrupted"
            self.manifest["finished_at"] = now_iso()
            write_manifest(self.run_dir, self.manifest)
            from tts_bench.store import load_records

            return RunResult(self.run_dir, "interrupted", load_records(self.run_dir))


def run(suite: Suite, *, out_dir: Path | str = "results", **kw: Any) -> RunResult:
    """Run a suite into `out_dir/<run_id>/` (or resume one); see `Runner` for the knobs."""
    return Runner(suite, out_dir=Path(out_dir), **kw).run()
