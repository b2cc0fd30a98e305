"""The state a run keeps while its pairs execute: spend and the `--max-cost` stop (`Budget`),
progress counts (`Progress`), which configs can still produce a scored record
(`ConfigHealth`), and the run's final status (`settle`).

Statuses: `complete` (every pair done, every config has at least one scored record),
`interrupted` (Ctrl-C / SIGTERM), `budget_exceeded` (stopped before `--max-cost`), `failed`
(a config met a fatal provider error, or has no scored record at all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tts_bench.llm.types import FATAL_STATUSES, CallRecord, ModelSpec

# The variable litellm reads a provider's key from, by model prefix (`openai/...`).
USUAL_KEY_VARS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "cohere": "COHERE_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "xai": "XAI_API_KEY",
    "azure": "AZURE_API_KEY",
}

SAME_400 = 3  # identical bad_request failures that stop a config with no scored record yet


class Budget:
    """Spend so far and the `--max-cost` stop. max_cost: the USD cap (None: no cap);
    prior: USD spent by earlier sessions of this run; live: a callable giving this
    session's live spend (the client's)."""

    def __init__(self, max_cost: float | None, prior: float, live: Callable[[], float]) -> None:
        self.max_cost = max_cost
        self.prior = prior
        self._live = live
        self.per_pair: dict[str, float] = {}  # a running estimate of one pair's cost
        self.inflight = 0
        self._probing: set[str] = set()

    def spent(self) -> float:
        return self.prior + self._live()

    def must_wait(self, config: str) -> bool:
        """True while another worker runs this config's first pair alone, to learn its cost
        (only under a cap: without one nothing needs estimating)."""
        if self.max_cost is None or config in self.per_pair:
            return False
        if config in self._probing:
            return True
        self._probing.add(config)
        return False

    def would_exceed(self, config: str) -> bool:
        if self.max_cost is None:
            return False
        est = self.per_pair.get(config, 0.0)
        return self.spent() + est * (self.inflight + 1) > self.max_cost

    def learn(self, config: str, calls: list[CallRecord]) -> str | None:
        """Update the config's per-pair estimate from a finished pair's calls (their cost
        uncached: a pair with no cached calls may follow); a warning when a call has no
        price under a cap."""
        live = sum(c.cost_usd or 0.0 for c in calls)
        prev = self.per_pair.get(config)
        self.per_pair[config] = live if prev is None else max(prev, live, 0.5 * (prev + live))
        if self.max_cost is not None and any(c.cost_usd is None for c in calls):
            unpriced = sorted({c.model for c in calls if c.cost_usd is None})
            return (
                f"--max-cost cannot count calls to {', '.join(unpriced)}: no known price "
                "(add `pricing:` to the suite)"
            )
        return None


@dataclass
class Progress:
    """Pairs done (earlier sessions included) out of `total`; `ran`/`failed` count this
    session's pairs. callback: called with {done, total, errors, spent_usd} once at the
    start and after each pair."""

    done: int
    total: int
    callback: Callable[[dict[str, Any]], None] | None = None
    ran: int = 0
    failed: int = 0
    spent: float = 0.0  # the spend when the session starts (earlier sessions, preflight)

    def __post_init__(self) -> None:
        self.notify(self.spent)  # a first frame with the total, before the first pair lands

    def advance(self, ok: bool, spent: float) -> None:
        self.done += 1
        self.ran += 1
        self.failed += not ok
        self.notify(spent)

    def drop(self, spent: float) -> None:
        """A pair that will not run this session (its config was stopped)."""
        self.total -= 1
        self.notify(spent)

    def notify(self, spent: float) -> None:
        if self.callback:
            self.callback(
                {"done": self.done, "total": self.total, "errors": self.failed, "spent_usd": spent}
            )


@dataclass
class ConfigHealth:
    """Which configs may still produce a scored record. A config stops after its first call
    with a fatal status (`FATAL_STATUSES`: missing or rejected key, unknown model) or after
    `SAME_400` bad_request failures with one error text while it has no scored record.
    scored: configs with a scored record from earlier sessions; specs: each config's model
    spec and fallback, to name the key variable; judges: the judge scorer's model specs (a
    fatal judge call names the scorer's key variable)."""

    specs: dict[str, tuple[ModelSpec, ModelSpec | None]]
    judges: list[ModelSpec] = field(default_factory=list)
    scored: set[str] = field(default_factory=set)
    stopped: dict[str, CallRecord] = field(default_factory=dict)
    first_error: dict[str, CallRecord] = field(default_factory=dict)
    _same_400: Counter = field(default_factory=Counter)

    def observe(self, config: str, calls: Iterable[CallRecord], ok: bool) -> None:
        if ok:
            self.scored.add(config)
        for c in calls:
            if c.status == "ok":
                continue
            self.first_error.setdefault(config, c)
            if config in self.stopped:
                continue
            if c.status in FATAL_STATUSES:
                self.stopped[config] = c
            elif c.status == "bad_request" and config not in self.scored:
                self._same_400[(config, c.error)] += 1
                if self._same_400[(config, c.error)] >= SAME_400:
                    self.stopped[config] = c

    def why(self, config: str) -> str:
        """One line: the config, its model, the key variable, the error."""
        call = self.stopped[config]
        judge = call.role == "eval_judge"
        known = self.judges if judge else [s for s in self.specs.get(config, ()) if s is not None]
        spec = next((s for s in known if s.model == call.model), ModelSpec(model=call.model))
        key = key_variable(spec)
        what = "judge model" if judge else "model"
        return (
            f"config {config} ({what} {call.model}, key variable {key}): "
            f"{call.status}: {call.error or 'no detail'}"
        )


def key_variable(spec: ModelSpec) -> str:
    """The variable the key of `spec` is read from: its `api_key_env`, else the provider's
    usual one when litellm makes the call."""
    from tts_bench.llm.backends import choose

    if spec.api_key_env:
        return spec.api_key_env
    if spec.model.startswith("sim/"):
        return "none (simulated)"
    try:
        kind = choose(spec)
    except Exception:  # a bad transport was reported at the first call already
        kind = "litellm"
    if kind == "direct":
        return "none (set api_key_env in the suite)"
    usual = USUAL_KEY_VARS.get(spec.model.split("/", 1)[0])
    return usual or "unknown (set api_key_env in the suite)"


def settle(
    status: str,
    health: ConfigHealth,
    progress: Progress,
    configs: list[str],
    records: list[dict[str, Any]],
) -> tuple[str, str | None]:
    """The run's final status and, when it failed, one self-contained line saying why.
    status: how the loop ended (complete, interrupted, budget_exceeded)."""
    if health.stopped:
        lines = [health.why(c) for c in configs if c in health.stopped]
        msg = "; ".join(lines) + "; fix it, then --resume runs the remaining pairs"
        return ("interrupted" if status == "interrupted" else "failed"), msg
    if status != "complete":
        return status, None
    unscored = [
        c
        for c in configs
        if not any(r.get("config") == c and r.get("status", "ok") == "ok" for r in records)
    ]
    every = bool(progress.ran) and progress.failed == progress.ran
    if not unscored and not every:
        return "complete", None
    named = unscored or configs
    first = next((health.first_error[c] for c in named if c in health.first_error), None)
    detail = f" ({first.status}: {first.error or 'no detail'})" if first else ""
    if every:  # a dead endpoint or a bad key, even when earlier sessions scored every config
        msg = f"every request failed: {progress.failed} of {progress.ran} requests failed{detail}"
    else:
        msg = f"no scored record for config {', '.join(unscored)}{detail}"
    return "failed", msg + "; fix the cause, then --resume retries them"
