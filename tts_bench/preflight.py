"""`run`'s preflight: `check`'s cheap call per model target, before a run spends anything.

    result = preflight(suite, where, pending, run_pair, cache_path)
    result.spent_usd, result.n_calls  # counted in the run's spend
    # raises UserError with check's line for the first fatal target (run exits 2)

Which targets are called (`check.targets`, one per distinct model, transport, key variable,
temperature and parameters):
- none when no pair is left to run (a resume of a finished run);
- never a simulated `sim/...` model (in process, free; its profile was checked already);
- with a response cache, only the models the pending pairs would call live: a dry pass runs
  the pending pairs against the cache alone (simulated calls answered as usual, any other
  call that misses the cache fails at once and marks its model and every model of its
  config, whose later calls depend on the live answer), stopping as soon as every model is
  marked. A resume or a rerun whose calls are all cached calls nobody.

Fatal verdicts are check's (`check.FATAL`): a rejected key, an unknown model, a rejected
parameter (a `bad_request` on the check call), an unset key variable, an endpoint that cannot
be reached (for an `api_base` list of replicas: none of them; a dead one is taken out by the
run). Transient trouble (`rate_limited`, `timeout`, ...) lets the run go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.check import CheckLine, Target, check_targets, targets
from tts_bench.errors import UserError
from tts_bench.llm.types import Completion, ModelSpec, Usage
from tts_bench.suite import Suite

Pair = tuple[str, str]  # (item id, config)
RunPair = Callable[[Any, str, str], Awaitable[Any]]  # (client, item id, config) -> anything


@dataclass
class PreflightResult:
    """What the preflight did. lines: check's verdicts on the targets called; skipped: why
    nothing was called (None when something was); spent_usd / n_calls: the calls' cost and
    count."""

    lines: list[CheckLine] = field(default_factory=list)
    skipped: str | None = None
    spent_usd: float = 0.0
    n_calls: int = 0


def preflight(
    suite: Suite,
    where: str,
    pending: list[Pair],
    run_pair: RunPair,
    cache_path: Path | None,
) -> PreflightResult:
    """Call the targets the pending pairs need live (module docstring). pending: the pairs
    the run will execute, in order; run_pair: runs one pair with a given client (the
    runner's, so the dry pass makes the calls the run would); cache_path: the run's response
    cache, None without one. Raises UserError naming the first fatal target."""
    live = [t for t in targets(suite, where) if t.transport != "sim"]
    if not pending:
        return PreflightResult(skipped="no pair left to run")
    if not live:
        return PreflightResult(skipped="simulated models only")
    if cache_path is not None and cache_path.is_file():
        # a config with only simulated models calls nothing live, unless it delegates
        reach = {c for t in live for c in t.configs}
        reach |= {c.name for c in suite.configs if c.strategy == "router"}
        pending = [(item, config) for item, config in pending if config in reach]
        models, configs = asyncio.run(_dry_pass(suite, pending, run_pair, cache_path, live))
        live = [t for t in live if t.spec.model in models or configs & set(t.configs)]
        if not live:
            return PreflightResult(skipped="every call is in the response cache")
    report = check_targets(suite, live)
    result = PreflightResult(report.lines, None, report.spent_usd, report.n_calls)
    if report.failed:
        first = report.failed[0]
        more = len(report.failed) - 1
        also = f"; {more} more target(s) failed, `tts-bench check` lists them" if more else ""
        raise UserError(
            f"{where}: preflight: {first.text}{also} (nothing was run; --no-preflight skips "
            "this check)"
        )
    return result


def static_checks(suite: Suite, resolved: Any, max_cost: float | None, where: str) -> None:
    """What fails before any call, whether or not the preflight calls anything: a negative
    budget, bad simulator profiles or an unknown simulated model, an unset key variable.
    resolved: the suite's `ResolvedSuite`."""
    import os

    from tts_bench.sim import profiles

    if max_cost is not None and not max_cost >= 0:  # NaN too
        raise UserError(f"--max-cost must be >= 0, got {max_cost}")
    try:
        profiles.all_profiles(suite.sim_profiles)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    for name, spec in resolved.specs.items():
        for s in filter(None, (spec, resolved.fallbacks[name])):
            if s.model.startswith("sim/"):
                try:
                    profiles.get(s.model, suite.sim_profiles)
                except UserError as exc:
                    raise UserError(f"{where}: configs[{name}].model: {exc}") from None
            elif s.api_key_env and not os.environ.get(s.api_key_env):
                raise UserError(
                    f"{where}: configs[{name}]: api_key_env {s.api_key_env} is not set "
                    "in the environment"
                )


class _CacheOnly:
    """A client for the dry pass of one pair: simulated calls go to the real client (in
    process, and cached for the run), any other call is answered from the response cache or
    fails at once with its model added to `missed` (shared by every pair)."""

    def __init__(self, client: Any, missed: set[str]) -> None:
        self.client = client
        self.missed = missed
        self.missing = False  # this pair made a call that is not in the cache

    async def generate(
        self, spec: ModelSpec, messages: list[dict[str, str]], *, sample_index: int = 0
    ) -> Completion:
        from tts_bench.llm.backends import choose

        if choose(spec) == "sim":
            return await self.client.generate(spec, messages, sample_index=sample_index)
        hit = self.client.cached(spec, messages, sample_index=sample_index)
        if hit is not None:
            return hit
        self.missed.add(spec.model)
        self.missing = True
        return Completion(
            text="",
            finish_reason=None,
            usage=Usage(),
            cost_usd=0.0,
            latency_s=0.0,
            status="api_error",
            error="not in the response cache (preflight dry pass)",
            model=spec.model,
        )


async def _dry_pass(
    suite: Suite, pending: list[Pair], run_pair: RunPair, cache_path: Path, live: list[Target]
) -> tuple[set[str], set[str]]:
    """(models called with no cached answer, configs of the pairs that made such a call).
    A pair that misses the cache makes different calls once answered live (a judge after
    its samples, a fallback), so every model of its config counts as called live."""
    from tts_bench.llm import Client

    wanted = {t.spec.model for t in live}
    by_config: dict[str, set[str]] = {}
    for t in live:
        for config in t.configs:
            by_config.setdefault(config, set()).add(t.spec.model)
    client = Client(
        limits=suite.limits,
        pricing=suite.pricing,
        cache_path=cache_path,
        seed=suite.seed,
        sim_profiles=suite.sim_profiles,
    )
    missed: set[str] = set()
    configs: set[str] = set()
    width = max(1, suite.limits.concurrency * 2)
    try:
        for start in range(0, len(pending), width):
            batch = pending[start : start + width]
            probes = [_CacheOnly(client, missed) for _ in batch]
            await asyncio.gather(
                *(
                    run_pair(p, item, config)
                    for p, (item, config) in zip(probes, batch, strict=True)
                )
            )
            configs |= {config for p, (_, config) in zip(probes, batch, strict=True) if p.missing}
            covered = missed.union(*(by_config.get(c, set()) for c in configs))
            if wanted <= covered:
                break
    finally:
        await client.aclose()
    return missed & wanted, configs
