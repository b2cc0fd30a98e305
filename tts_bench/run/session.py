"""The runner's side of the executor seam for one session (`executors.Sink`)."""

from __future__ import annotations

import asyncio
from typing import Any

from tts_bench.llm.types import CallRecord
from tts_bench.run.executors import Admit
from tts_bench.run_state import Budget, ConfigHealth, Progress
from tts_bench.store import RunWriter


class Session:
    """The runner's side of the executor seam for one session (`executors.Sink`): which
    pairs may start (config health, the budget) and the one writer of those that finish."""

    def __init__(
        self,
        runner: Any,  # the Runner: its warnings, _ended and _flush_spend
        writer: RunWriter,
        budget: Budget,
        progress: Progress,
        health: ConfigHealth,
    ) -> None:
        self.runner, self.writer, self.budget = runner, writer, budget
        self.progress, self.health = progress, health
        self.stop = asyncio.Event()

    def admit(self, config: str) -> Admit:
        if config in self.health.stopped:  # a fatal error: its other pairs would fail alike
            self.progress.drop(self.budget.spent())
            return Admit.SKIP
        if self.budget.must_wait(config):
            return Admit.WAIT
        if self.budget.would_exceed(config):
            self.runner._ended = "budget_exceeded"
            self.stop.set()
            return Admit.STOP
        self.budget.inflight += 1
        return Admit.RUN

    def release(self, config: str) -> None:
        self.budget.inflight -= 1

    def accept(self, calls: list[CallRecord], record: dict[str, Any]) -> None:
        config = record["config"]
        warning = self.budget.learn(config, calls)
        if warning:
            self.runner.warnings.add(warning)
        ok = record["status"] == "ok"
        self.health.observe(config, calls, ok)
        self.writer.write_pair(calls, record)
        self.runner._flush_spend(self.budget)
        self.progress.advance(ok, self.budget.spent())
