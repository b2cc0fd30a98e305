"""`check`: one cheap call per distinct model target of a suite, before any money is spent.

A target is a distinct (model, transport, key variable, temperature, parameters) among the
configs' models, their fallbacks and the extra models their strategies name (`judge.model`,
`critic`, `classifier_model`). Each is called once through the same `Client` the runner uses,
with a short prompt, `max_tokens` small, no response cache, and the suite's limits (so its
retries and timeouts). Simulated models (`sim/...`) are checked locally: the profile exists.
A target whose `api_base` lists replicas is called once per replica: it passes when any
answers, each replica that failed named in a warning on its line.

    report = check_suite(suite)
    for line in report.lines: print(line.text)
    report.exit_code  # 2 when any target is fatal, else 0

`run` makes the same calls before it starts, for the targets its pending pairs need live
(`check_targets` on a subset; tts_bench/preflight.py).

Fatal (the run would fail on every call of that model): the key variable is unset, the key
is rejected (`auth_error`), the model is unknown (`not_found`), a parameter is rejected
(`bad_request`), the endpoint cannot be reached (`connection_error`), an unknown simulated
model, a transport that cannot be used. Not fatal, shown as a warning: an unknown price (costs
would read "unknown"), and transient trouble that outlasted the retries (`rate_limited`,
`timeout`, `server_error`, ...), which says nothing certain about the suite.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from typing import Any

from tts_bench.errors import UserError
from tts_bench.llm.types import ModelSpec
from tts_bench.suite import Suite

CHECK_MAX_TOKENS = 8  # enough for "OK"; a reasoning model may stop at "length", still accepted
PROMPT = [{"role": "user", "content": "Reply with the single word OK."}]
FATAL = frozenset({"auth_error", "not_found", "bad_request", "connection_error", "key_unset"})
_REASONS = {
    "auth_error": "key rejected",
    "not_found": "model not found",
    "bad_request": "parameter rejected",
    "connection_error": "endpoint unreachable",
    "key_unset": "key variable unset",
    "config": "configuration",
}


@dataclass
class Target:
    """One distinct model call to check; `uses` names where the suite uses it, e.g.
    `cot`, `cot (fallback)`, `best (judge)`."""

    spec: ModelSpec
    uses: list[str] = field(default_factory=list)
    transport: str = "?"
    configs: list[str] = field(default_factory=list)  # the configs behind `uses`


@dataclass
class CheckLine:
    """The verdict on one target. status: "ok", a call status, "key_unset" or "config";
    fatal: the suite should not be run as is; price_source: where its price comes from."""

    target: Target
    status: str
    fatal: bool
    message: str = ""
    price_source: str = "unknown"
    notes: list[str] = field(default_factory=list)  # replicas that failed when another answered

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def text(self) -> str:
        t = self.target
        head = f"{t.spec.model} ({t.transport}) [{', '.join(t.uses)}]"
        if self.ok:
            price = (
                f"price: {self.price_source}"
                if self.price_source != "unknown"
                else "warning: price unknown, costs will read unknown (add it under pricing:)"
            )
            return f"✓ {head} — {'; '.join([price, *self.notes])}"
        mark = "✗" if self.fatal else "!"
        reason = _REASONS.get(self.status, "could not verify")
        return f"{mark} {head} — {reason} ({self.status}): {_one_line(self.message)}"


@dataclass
class CheckReport:
    """lines: one verdict per target; spent_usd: what the check calls cost (0 when every
    price is unknown); n_calls: calls sent (simulated targets send none)."""

    lines: list[CheckLine]
    spent_usd: float = 0.0
    n_calls: int = 0

    @property
    def failed(self) -> list[CheckLine]:
        return [ln for ln in self.lines if ln.fatal]

    @property
    def exit_code(self) -> int:
        return 2 if self.failed else 0

    @property
    def summary(self) -> str:
        n, bad = len(self.lines), len(self.failed)
        if bad:
            return f"check: {bad} of {n} targets failed"
        return f"check: all {n} targets passed"


def targets(suite: Suite, where: str = "suite") -> list[Target]:
    """The suite's distinct model targets, in config order."""
    from tts_bench.llm.backends import choose
    from tts_bench.resolve import ResolvedSuite

    resolved = ResolvedSuite(suite, where)
    found: dict[str, Target] = {}

    def add(spec: ModelSpec, use: str, config: str) -> None:
        try:
            transport = choose(spec)
        except UserError:
            transport = "?"  # reported when the target is checked
        # a simulated model is checked by name only: nothing is sent, so no parameter matters
        parts = [spec.api_key_env, spec.temperature, spec.params] if transport != "sim" else []
        key = json.dumps(
            [spec.model, transport, *parts],
            sort_keys=True,
            default=str,
        )
        target = found.setdefault(key, Target(spec=spec, transport=transport))
        if use not in target.uses:
            target.uses.append(use)
        if config not in target.configs:
            target.configs.append(config)

    for cfg in suite.configs:
        spec = resolved.specs[cfg.name]
        add(spec, cfg.name, cfg.name)
        fallback = resolved.fallbacks[cfg.name]
        if fallback is not None:
            add(fallback, f"{cfg.name} (fallback)", cfg.name)
        for role, name in _role_models(cfg.knobs):
            add(spec.with_(model=name), f"{cfg.name} ({role})", cfg.name)  # as strategies.roles
    if suite.scorer.type == "judge":
        from tts_bench.scoring.judge import Judge

        # the judge scores every config's answers: a bad key there fails every record
        for judge_spec, _ in Judge(suite.scorer).panel:
            for cfg in suite.configs:
                add(judge_spec, "scorer (judge)", cfg.name)
    return list(found.values())


def _role_models(knobs: dict[str, Any]) -> list[tuple[str, str]]:
    """Other models a strategy's knobs name: judge.model, critic, classifier_model."""
    out = []
    judge = knobs.get("judge")
    if isinstance(judge, dict) and isinstance(judge.get("model"), str):
        out.append(("judge", judge["model"]))
    for knob, role in (("critic", "critic"), ("classifier_model", "classifier")):
        if isinstance(knobs.get(knob), str):
            out.append((role, knobs[knob]))
    return out


def check_suite(suite: Suite, where: str = "suite") -> CheckReport:
    """Check every target of `suite` (see the module docstring); never raises for a
    provider's answer, only for a suite that cannot be resolved (UserError)."""
    from tts_bench.llm.offline import setup_offline_env

    setup_offline_env(allow_hub=False)
    return check_targets(suite, targets(suite, where))


def check_targets(suite: Suite, found: list[Target]) -> CheckReport:
    """Check the given targets of `suite` (as `check_suite`, for a chosen subset)."""
    return asyncio.run(_check_all(suite, found))


async def _check_all(suite: Suite, found: list[Target]) -> CheckReport:
    from tts_bench.llm import Client

    client = Client(
        limits=suite.limits,
        pricing=suite.pricing,
        cache_path=None,
        seed=suite.seed,
        sim_profiles=suite.sim_profiles,
    )
    try:
        lines = list(await asyncio.gather(*(_check_one(client, suite, t) for t in found)))
        return CheckReport(lines, client.spent_usd, client.n_calls)
    finally:
        await client.aclose()


async def _check_one(client: Any, suite: Suite, target: Target) -> CheckLine:
    spec = target.spec
    if target.transport == "?":
        from tts_bench.llm.backends import choose

        try:
            choose(spec)
        except UserError as exc:
            return CheckLine(target, "config", True, str(exc))
    if target.transport == "sim":
        from tts_bench.sim import profiles

        try:
            profiles.get(spec.model, suite.sim_profiles)
        except UserError as exc:
            return CheckLine(target, "config", True, str(exc))
    elif spec.api_key_env and not os.environ.get(spec.api_key_env):
        msg = f"api_key_env {spec.api_key_env} is not set in the environment"
        return CheckLine(target, "key_unset", True, msg)
    _, source = await asyncio.to_thread(client.prices.rate_and_source, spec.model)
    if target.transport == "sim":
        return CheckLine(target, "ok", False, price_source=source)
    probe = spec.with_(max_tokens=_max_tokens(spec))
    done, notes = await _each_replica(client, probe)
    if done.ok:
        return CheckLine(target, "ok", False, price_source=source, notes=notes)
    message = done.error or ""
    if done.status == "auth_error" and not spec.api_key_env and target.transport == "litellm":
        message += _missing_default_key(spec)  # only litellm reads the provider's variable
    return CheckLine(target, done.status, done.status in FATAL, message, source)


async def _each_replica(client: Any, probe: ModelSpec) -> tuple[Any, list[str]]:
    """The check call, once per replica when `api_base` is a list (llm/replicas.py): the
    first success stands for the target, and each replica that failed is named in a warning
    (the run takes such a replica out and uses the others). No success: the first failure."""
    urls = probe.params.get("api_base")
    if not isinstance(urls, list):
        return await client.generate(probe, PROMPT), []
    from tts_bench.llm.replicas import public_url

    each = await asyncio.gather(*(client.generate(probe.with_(api_base=u), PROMPT) for u in urls))
    notes = [
        f"warning: replica {public_url(u)} {_REASONS.get(d.status, 'could not verify')} "
        f"({d.status})"
        for u, d in zip(urls, each, strict=True)
        if not d.ok
    ]
    return next((d for d in each if d.ok), each[0]), notes


def _max_tokens(spec: ModelSpec) -> int:
    """Small, but above a thinking budget: providers refuse max_tokens <= budget_tokens."""
    budget = spec.params.get("thinking_budget")
    if isinstance(budget, int) and budget > 0:
        return min(spec.max_tokens, budget + CHECK_MAX_TOKENS)
    return min(spec.max_tokens, CHECK_MAX_TOKENS)


def _missing_default_key(spec: ModelSpec) -> str:
    """Name the provider's own key variable(s) when none is set (litellm reads them)."""
    try:
        from tts_bench.llm.offline import import_litellm

        env = import_litellm().validate_environment(model=spec.model)
        missing = [str(k) for k in env.get("missing_keys") or []]
    except Exception:  # only a hint; the provider's message stands on its own
        return ""
    return f" ({', '.join(missing)} not set)" if missing else ""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
