"""Run a suite: every (item, config) pair through its strategy, scored and written as it lands.

Items are processed in a seeded shuffled order with every config of an item scheduled
together, so a partial run is still a representative, paired sample. One process writes a
run directory at a time (`fsutil.RunLock`, held for the whole run). The manifest is written
before any call, so a run survives Ctrl-C (status `interrupted`), a budget stop
(`budget_exceeded`) and SIGKILL at any point: a resume skips finished pairs and the cache
replays the calls of unfinished ones without paying again; resuming a complete run changes
nothing. A config whose calls fail fatally (a missing key, an unknown model) stops early and
the run ends `failed` (see run_state.py for every status).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench import sim_coverage
from tts_bench.errors import UserError
from tts_bench.fsutil import LOCK, RunLock
from tts_bench.preflight import preflight, static_checks
from tts_bench.records import build_record
from tts_bench.resolve import ResolvedSuite
from tts_bench.run.executors import Executor, Job, LocalExecutor, make_executor
from tts_bench.run.schedule import item_order, limit_items, pairs, select_shard
from tts_bench.run.session import Session
from tts_bench.run_open import check_not_foreign, open_run
from tts_bench.run_state import Budget, ConfigHealth, Progress, settle
from tts_bench.scoring.judge import check_references, judge_specs
from tts_bench.store import (
    CALLS,
    MANIFEST,
    RunWriter,
    check_run_id,
    load_records,
    new_run_id,
    now_iso,
    read_manifest,
    write_manifest,
)
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
    error: str | None = None  # why a `failed` run failed, one self-contained line
    already_complete: bool = False  # a resume that found nothing to do (nothing written)


_order = item_order  # the seeded item order (tts_bench/run/schedule.py)


class Runner:
    """Executes a resolved suite into a run directory. Use `run()` for the whole thing.

    out_dir: parent of run directories; run_id: the run's name (one path component; an
    existing run of that name is resumed); resume_dir: a run directory to finish; use_cache /
    cache_path: the response cache (default `<out>/.cache/llm-cache.sqlite`); max_cost: USD
    cap (default the suite's `limits.max_cost_usd`); progress: called after every pair;
    limit: a stratified subset of that many items; where: the suite's name in messages;
    preflight: one cheap call per model target before anything is written, a fatal answer
    stops the run (tts_bench/preflight.py); shard: (i, n), run only shard i of n (numbered
    from 1; tts_bench/run/schedule.py), taken after `limit`; a resume keeps the shard its
    run started with; executor: where the pairs run, `local` (this process) or `ray`, or
    one from `tts_bench.run.executors.make_executor`. Nothing is written before `run()`,
    which takes the run directory's lock first."""

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
        preflight: bool = True,
        shard: tuple[int, int] | None = None,
        batch: bool = False,
        executor: Executor | str = "local",
    ) -> None:
        from tts_bench.data import load_items
        from tts_bench.llm.offline import setup_offline_env
        from tts_bench.scoring import make_scorer

        if run_id is not None:
            check_run_id(run_id)
        # the Python API is offline by default too, not only the CLI
        setup_offline_env(allow_hub=suite.dataset.source.startswith("hf:"))
        self.suite = suite
        self.resolved = ResolvedSuite(suite, where)
        self.items, self.fingerprint = load_items(suite.dataset, where=f"{where}: dataset")
        if limit is not None:
            self.items = limit_items(self.items, limit, suite.seed)
        self.limit = limit
        self.scorer = make_scorer(suite.scorer)
        self.scorer.check_targets(self.items, where=f"{where}: dataset")
        check_references(suite.scorer, self.items, suite.dataset.fields.target, where)
        first = self.items[0]
        self.resolved.render(Item(id=first.id, inputs=first.inputs, strata=first.strata))
        self.max_cost = max_cost if max_cost is not None else suite.limits.max_cost_usd
        static_checks(suite, self.resolved, self.max_cost, where)
        self.progress = progress
        self.warnings: set[str] = set()
        if resume_dir is not None:
            if not any((resume_dir / n).is_file() for n in (CALLS, LOCK)):
                read_manifest(resume_dir)  # "not a run directory" unless it is one
            self.run_dir = resume_dir
        else:
            self.run_dir = out_dir / (run_id or new_run_id(suite.name))
        check_not_foreign(self.run_dir)
        self._select_shard(shard)
        self.resuming = False
        self.manifest: dict[str, Any] = {}
        self.cache_path = None
        if use_cache:
            # beside the run directory, so `--resume DIR` finds it whatever --out says
            self.cache_path = cache_path or self.run_dir.parent / ".cache" / "llm-cache.sqlite"
        self.by_id = {it.id: it for it in self.items}
        self.where = where
        self.preflight = preflight
        self.executor = make_executor(executor) if isinstance(executor, str) else executor
        self.preflight_spent, self.preflight_calls = 0.0, 0
        # batch mode (llm/transports/batch.py): every config with `batch`, or all of them
        self.batch = {c.name for c in suite.configs if batch or c.batch}
        if self.batch:
            from tts_bench.llm.transports.batch_wire import dialect

            for name in sorted(self.batch):  # a model without a batch API: a UserError now
                dialect(self.resolved.specs[name])
        self.on_batch: Callable[[Any], None] | None = None  # batch counts, as they change
        if self.batch and not isinstance(self.executor, LocalExecutor):
            # the batch journal lives in the run directory, which only this process writes
            raise UserError("batch mode runs with the local executor only (drop --executor)")
        self._ended = "complete"
        self._last_flush = 0.0

    @classmethod
    def for_pairs(
        cls, suite: Suite, items: list[Any], where: str, cache_path: Path | None
    ) -> Runner:
        """A runner that only runs pairs (`_run_pair` with `_new_client`'s client), for a
        worker process of another executor: no run directory, no dataset read (items: the
        loaded items it runs), no batch mode."""
        from tts_bench.scoring import make_scorer

        self = cls.__new__(cls)
        self.suite, self.where, self.cache_path = suite, where, cache_path
        self.resolved = ResolvedSuite(suite, where)
        self.scorer = make_scorer(suite.scorer)
        self.items = list(items)
        self.by_id = {it.id: it for it in self.items}
        self.batch, self.on_batch = set(), None
        return self

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
        if config in self.batch:  # its latency is queue time: latency gates leave it out
            ctx.info["batch"] = True
            if getattr(client, "batch", False) is None:
                # provider batches, recorded in the run directory (a resume polls them)
                from tts_bench.llm.transports.batch_journal import BATCHES, BatchJournal

                journal = BatchJournal(self.run_dir / BATCHES)
                client.use_batches(journal=journal, on_change=self.on_batch)
        started = time.perf_counter()
        reset_clock()
        result = await self.resolved.solvers[config](ctx)
        wall = time.perf_counter() - started
        record = build_record(
            suite=self.suite,
            scorer=self.scorer,
            spec=self.resolved.specs[config],
            loaded=loaded,
            config=config,
            ctx=ctx,
            res=result,
            latency=ctx.elapsed,
            wall=wall,
        )
        if self.suite.scorer.type == "judge":  # evaluation calls, after the serving ones
            from tts_bench.scoring.judge import judge_record

            # the judge reads what the model was asked: the suite's system and user prompt
            asked = "\n\n".join(str(m["content"]) for m in ctx.messages())
            ctx.calls += await judge_record(
                record, suite=self.suite, loaded=loaded, question=asked, client=client
            )
        return ctx, record

    def _pairs(self, done: set[tuple[str, str]]) -> list[tuple[str, str]]:
        # a shard's pairs in the unsplit run's order (the order of every item, restricted)
        ordered = [i for i in self._order if i in self.by_id]
        return pairs(ordered, [c.name for c in self.suite.configs], done)

    def _select_shard(self, shard: tuple[int, int] | None) -> None:
        """Keep only shard (i, n) of the items; a resume keeps its run's shard."""
        self._order = _order([it.id for it in self.items], self.suite.seed)
        old = read_manifest(self.run_dir) if (self.run_dir / MANIFEST).is_file() else None
        self.items, self.resolved.shard = select_shard(
            self.items, shard, self.suite.seed, old, str(self.run_dir)
        )

    # -- the loop -------------------------------------------------------------------------
    def _new_client(self) -> Any:
        """A `Client` for the suite and its response cache, the simulator's cache hits
        counted (sim_coverage): the local executor's, and each Ray worker's."""
        from tts_bench.llm import Client

        client = Client(
            limits=self.suite.limits,
            pricing=self.suite.pricing,
            cache_path=self.cache_path,
            seed=self.suite.seed,
            sim_profiles=self.suite.sim_profiles,
        )
        return sim_coverage.watch(client)

    def _batch_configs(self) -> None:
        """The configs in batch mode: this session's and a resumed run's (its manifest's
        `batch`), their model specs marked; the manifest says which before any call."""
        self.batch |= set(self.manifest.get("batch") or [])
        for name in self.batch:
            self.resolved.specs[name] = self.resolved.specs[name].with_(batch=True)
        if self.batch:
            self.manifest["batch"] = sorted(self.batch)

    async def _run(self) -> RunResult:
        writer, done = RunWriter.open(self.run_dir, resume=self.resuming)
        self.manifest.update(status="running", finished_at=None)
        self._batch_configs()
        self.manifest.setdefault("sessions", []).append(
            {"started_at": now_iso(), "resumed": self.resuming}
        )
        write_manifest(self.run_dir, self.manifest)
        pairs = self._pairs(done)
        executor = self.executor
        prior = float(self.manifest.get("spent_usd") or 0.0) + self.preflight_spent
        budget = Budget(self.max_cost, prior, executor.spent_usd)
        progress = Progress(len(done), len(pairs) + len(done), self.progress, spent=prior)
        configs = [c.name for c in self.suite.configs]
        health = ConfigHealth(
            {n: (self.resolved.specs[n], self.resolved.fallbacks[n]) for n in configs},
            judges=judge_specs(self.suite.scorer),
            scored={c for _, c in done},
        )
        session = Session(self, writer, budget, progress, health)
        job = Job(
            self._new_client,
            self._run_pair,
            self._drive,
            self.suite,
            self.items,
            self.where,
            self.cache_path,
        )
        error: str | None = None
        try:
            lost = await executor.execute(pairs, job, session)
            if lost and self._ended != "interrupted":
                self._ended, error = "failed", lost
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError):
                self._ended = "interrupted"
            elif self._ended == "complete":
                self._ended = "failed"
                error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            writer.close()
            await executor.aclose()
            meter = executor.meter()
            records = load_records(self.run_dir)
            self.warnings.update(sim_coverage.record(self.manifest, meter.coverage))
            status = self._ended
            if status != "failed":
                status, error = settle(status, health, progress, configs, records)
            self.manifest.update(
                status=status,
                error=error,
                warnings=sorted(self.warnings),
                finished_at=now_iso(),
                spent_usd=round(budget.spent(), 10),
            )
            self.manifest["sessions"][-1].update(
                finished_at=now_iso(),
                status=status,
                live_calls=meter.n_calls - meter.n_cache_hits,
                cache_hits=meter.n_cache_hits,
                preflight_calls=self.preflight_calls,
                executor=executor.describe(),
            )
            write_manifest(self.run_dir, self.manifest)
        self._warn_failures(records, status)
        return RunResult(
            self.run_dir, status, records, budget.spent(), sorted(self.warnings), error
        )

    async def _drive(
        self,
        worker: Callable[[], Any],
        n_pairs: int,
        stop: asyncio.Event,
        width: int | None = None,
    ) -> None:
        """Run `width` workers (default: twice the suite's concurrency, at most one per
        pair) until they end or `stop` is set; Ctrl-C / SIGTERM set it (status
        `interrupted`, in-flight pairs cancelled), a budget stop lets them end."""
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            self._ended = "interrupted"
            stop.set()

        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, interrupt)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        if width is None:
            width = max(1, min(n_pairs, self.suite.limits.concurrency * 2))
            if self.batch:  # a round is every pair waiting on a call: admit enough of them
                width = max(1, min(n_pairs, self.suite.limits.batch_max_requests))
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
                    if self._ended == "interrupted":
                        for t in pending:
                            t.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    break
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            stopper.cancel()
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _flush_spend(self, budget: Budget) -> None:
        # Keep the manifest's spend near-current so a SIGKILLed run still knows it.
        if time.monotonic() - self._last_flush > 1.0:
            self.manifest["spent_usd"] = round(budget.spent(), 10)
            write_manifest(self.run_dir, self.manifest)
            self._last_flush = time.monotonic()

    def _warn_failures(self, records: list[dict[str, Any]], status: str) -> None:
        """A warning when half the records failed or more (a failed run has its error line)."""
        infra = [r for r in records if r.get("status", "ok") != "ok"]
        if status != "failed" and infra and len(infra) * 2 >= len(records):
            self.warnings.add(
                f"{len(infra)} of {len(records)} requests failed ({infra[0]['status']}); "
                "fix the cause, then --resume retries them"
            )

    def _call_preflight(self, resuming: bool) -> None:
        """check's call per model target the pending pairs need live; UserError if fatal."""
        done = RunWriter.finished(self.run_dir) if resuming else set()
        result = preflight(
            self.suite, self.where, self._pairs(done), self._run_pair, self.cache_path
        )
        self.preflight_spent, self.preflight_calls = result.spent_usd, result.n_calls

    # -- entry point ----------------------------------------------------------------------
    def run(self) -> RunResult:
        """Take the run directory's lock, then run (or resume) to the end; the lock is held
        until the manifest's final status is written."""
        lock = RunLock(self.run_dir).acquire()
        try:
            self.manifest, self.resuming, warning = open_run(
                self.run_dir,
                self.resolved,
                self.fingerprint,
                self.items,
                self.limit,
                self._call_preflight if self.preflight else None,
            )
            self.warnings.update([warning] if warning else [])
            if self.cache_path is not None:
                self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            if self.resuming and not self._pairs(RunWriter.finished(self.run_dir)):
                if self.manifest.get("status") == "complete":
                    records = load_records(self.run_dir)
                    return RunResult(self.run_dir, "complete", records, already_complete=True)
            try:
                return asyncio.run(self._run())
            except KeyboardInterrupt:
                self.manifest.update(status="interrupted", finished_at=now_iso())
                write_manifest(self.run_dir, self.manifest)
                return RunResult(self.run_dir, "interrupted", load_records(self.run_dir))
        finally:
            lock.release()


def run(suite: Suite, *, out_dir: Path | str = "results", **kw: Any) -> RunResult:
    """Run a suite into `out_dir/<run_id>/` (or resume one); see `Runner` for the knobs."""
    return Runner(suite, out_dir=Path(out_dir), **kw).run()
