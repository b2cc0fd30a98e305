"""Per-item estimates for `plan`: tokens, cost and latency of each call (`Estimator`), the
price table lookup, and wall time under the suite's limits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tts_bench import prompts
from tts_bench.llm.pooling import MAX_N
from tts_bench.plan.calls import Use
from tts_bench.plan.tokens import (
    CANDIDATE_TOKENS_PER_LINE,
    COT_EXTRA,
    PLAIN_OUT,
    ROLE_OUT,
    STEP_OUT,
    Counter,
    Shim,
    reasoner,
)
from tts_bench.suite import Suite

TYPICAL_TTFT_S, TYPICAL_TPS = 0.5, 60.0  # assumed for non-simulated models


@dataclass
class Tally:
    """Totals over the items for one config (or one routed share of it)."""

    calls: float = 0.0
    inp: float = 0.0
    out: float = 0.0
    reasoning: float = 0.0
    cost: float | None = 0.0
    call_s: float = 0.0
    tokens: float = 0.0
    # requests sent, when fewer than calls (a pool drawn as one request of n); None: = calls
    requests: float | None = None

    @property
    def sent(self) -> float:
        """Requests sent: `requests`, or one per call."""
        return self.calls if self.requests is None else self.requests

    def add(self, other: Tally, w: float = 1.0) -> None:
        self.requests = self.sent + w * other.sent
        self.calls += w * other.calls
        self.inp += w * other.inp
        self.out += w * other.out
        self.reasoning += w * other.reasoning
        self.call_s += w * other.call_s
        self.cost = None if self.cost is None or other.cost is None else self.cost + w * other.cost


def price_of(suite: Suite, model: str) -> tuple[Any, str]:
    """(Rate or None, source) in the client's resolution order (`PriceTable.rate_and_source`)."""
    from tts_bench.llm.pricing import PriceTable

    return PriceTable(suite.pricing, suite.sim_profiles).rate_and_source(model)


def call_seconds(model: str, inp: float, gen: float, sim_profiles: dict[str, Any]) -> float:
    """Expected latency of one call: the simulated profile for sim models, else a typical
    0.5 s to first token + 60 tokens/s."""
    if model.startswith("sim/"):
        from tts_bench.sim import profiles

        p = profiles.get(model, sim_profiles)[1]
        ttft = (
            p["ttft_median_s"] * math.exp(p["ttft_sigma"] ** 2 / 2)
            + inp / p["prefill_tokens_per_s"]
        )
        return ttft + gen / (p["tokens_per_s"] * math.exp(p["tps_sigma"] ** 2 / 2))
    return TYPICAL_TTFT_S + gen / TYPICAL_TPS


def wall_seconds(t: Tally, limits: Any) -> float:
    """The slowest of: call time shared by `concurrency` slots, the RPM and the TPM limit."""
    bounds = [t.call_s / limits.concurrency]
    if limits.rpm:
        bounds.append(60.0 * t.sent / limits.rpm)
    if limits.tpm:
        bounds.append(60.0 * (t.inp + t.out + t.reasoning) / limits.tpm)
    return max(bounds)


class Estimator:
    """Static per-item estimates for a suite's configs (see the `tts_bench.plan` docstring)."""

    def __init__(self, suite: Suite, resolved: Any, items: list[Any]) -> None:
        self.suite, self.resolved, self.items = suite, resolved, items
        self.counter = Counter()
        self.unpriced: set[str] = set()
        self.sources: dict[str, str] = {}
        self._prices: Any = None  # a PriceTable, built on first use (imports litellm lazily)

    def prices(self) -> Any:
        """The suite's PriceTable, built on first use."""
        if self._prices is None:
            from tts_bench.llm.pricing import PriceTable

            self._prices = PriceTable(self.suite.pricing, self.suite.sim_profiles)
        return self._prices

    def rate(self, model: str) -> Any:
        rate, self.sources[model] = self.prices().rate_and_source(model)
        if rate is None:
            self.unpriced.add(model)
        return rate

    def _input(self, use: Use, msgs: list[dict[str, str]], question: str, cot_out: int) -> float:
        ex = self.resolved.examples
        k = use.kind
        if k == "plain":
            return self.counter.count(use.model, msgs)
        if k == "cot":
            from tts_bench.strategies.internal import cot_messages

            return self.counter.count(use.model, cot_messages(Shim(msgs, ex), True))  # type: ignore[arg-type]
        text = {
            "judge": lambda: prompts.judge(question, ""),
            "critique": lambda: prompts.critique(question, ""),
            "refine": lambda: prompts.refine(question, "", ""),
            "classify": lambda: prompts.classify(question, ("easy", "hard")),
            "expand": lambda: prompts.next_step(question, ""),
            "rollout": lambda: prompts.next_step(question, ""),
            "value": lambda: prompts.value(question, ""),
        }[k]()
        extra = {
            "judge": cot_out,
            "critique": cot_out,
            "refine": cot_out + ROLE_OUT["critique"],
            "expand": cot_out / 2,
            "rollout": cot_out / 2,
            "value": cot_out / 2,
        }.get(k, 0)
        return self.counter.count(use.model, [{"role": "user", "content": text}]) + extra

    def _wanted(self, use: Use, question: str) -> tuple[float, float, float]:
        """(output, reasoning, worked-solution length) one call of `use` would generate
        without the `max_tokens` cap (reasoning still capped at `thinking_budget`)."""
        spec = use.spec
        cot_out = math.ceil(len(question) / 4) + COT_EXTRA
        out = {
            "plain": PLAIN_OUT,
            "cot": cot_out,
            "judge": cot_out,
            "refine": cot_out,
            "expand": STEP_OUT,
            "rollout": STEP_OUT,
        }.get(use.kind) or ROLE_OUT[use.kind]
        reasoning = 0.0
        is_reasoner, per = reasoner(spec, self.suite.sim_profiles)
        if is_reasoner:
            worked = use.kind in ("plain", "cot", "judge", "refine")
            steps = max(1.0, cot_out / CANDIDATE_TOKENS_PER_LINE) if worked else 1.0
            effort = spec.params.get("reasoning_effort") or "medium"
            reasoning = per["overhead"] + per[effort] * steps
            budget = spec.params.get("thinking_budget")
            reasoning = min(reasoning, budget) if budget else reasoning
        return out, reasoning, cot_out

    def truncation(self, uses: list[Use]) -> str | None:
        """Why answers will be cut off: the first kind of call whose expected reasoning +
        output tokens (means over the items) reach its `max_tokens`; None when none does."""
        for use in uses:
            if not use.count:
                continue
            wants = [
                self._wanted(use, self.resolved.render(it)[-1]["content"]) for it in self.items
            ]
            out = sum(w[0] for w in wants) / len(wants)
            reasoning = sum(w[1] for w in wants) / len(wants)
            cap = use.spec.max_tokens
            if out + reasoning >= cap:
                what = (
                    f"~{reasoning:.0f} reasoning + {out:.0f} output"
                    if reasoning
                    else f"~{out:.0f} output"
                )
                calls = "" if use.kind in ("plain", "cot") else f" per {use.kind} call"
                return (
                    f"expected {what} tokens{calls} exceed max_tokens {cap}: "
                    "answers will be truncated (raise max_tokens)"
                )
        return None

    def per_item(self, use: Use, item: Any, pooled: bool = False) -> Tally:
        """One item's calls of `use`; pooled: a pool drawn as requests of `n` choices
        (llm/pooling.py): the prompt is paid once per request, and a request takes about
        one call's latency (its slowest choice: a little longer)."""
        spec = use.spec
        msgs = self.resolved.render(item)
        question = msgs[-1]["content"]
        out, reasoning, cot_out = self._wanted(use, question)
        cot_out = min(cot_out, spec.max_tokens)
        # the model stops at max_tokens: reasoning first, then whatever room is left
        reasoning = min(reasoning, spec.max_tokens)
        out = min(out, max(spec.max_tokens - reasoning, 0))
        inp = self._input(use, msgs, question, cot_out)
        rate = self.rate(use.model)
        # priced as the invoice will price it, but with no cache hits: an upper bound
        cost = call_cost(rate, inp, out, reasoning)
        c = use.count
        if pooled and use.pool and c > 1:
            sent = math.ceil(c / MAX_N)  # requests of at most MAX_N choices
            cost = call_cost(rate, sent * inp, c * out, c * reasoning)
            seconds = call_seconds(use.model, inp, out + reasoning, self.suite.sim_profiles)
            return Tally(c, sent * inp, c * out, c * reasoning, cost, sent * seconds, requests=sent)
        return Tally(
            calls=c,
            inp=c * inp,
            out=c * out,
            reasoning=c * reasoning,
            cost=None if cost is None else c * cost,
            call_s=c * call_seconds(use.model, inp, out + reasoning, self.suite.sim_profiles),
        )

    def config(self, uses: list[Use], pooled: bool = False) -> Tally:
        """The config's calls over every item; pooled: pools as requests of `n`."""
        total = Tally()
        for item in self.items:
            for use in uses:
                if use.count:
                    total.add(self.per_item(use, item, pooled))
        return total


# A batch's turnaround is the provider's, not the model's: OpenAI and Anthropic promise
# 24 hours and small batches usually finish well within one. An assumption, said in the
# note; `sim serve` answers after its --batch-delay.
BATCH_TURNAROUND_S = 3600.0


def batch_rounds(uses: list[Use]) -> int:
    """Batches an item waits for in turn: one per kind of call, the samples of a pool in
    one round, other repeated calls (refinement, search steps) one round each."""
    return sum(1 if u.pool else max(1, math.ceil(u.count)) for u in uses if u.count)


def batch_figures(est: Estimator, uses: list[Use], on_demand: Tally) -> Tally | None:
    """The same calls sent in provider batches (`batch: true`): the on-demand tokens priced
    at each model's batch rate (`PriceTable.batch_rate`: the suite's `batch_input` /
    `batch_output`, litellm's batch prices; unknown → cost None, never the interactive
    price); `call_s` is the expected wall time: the rounds an item waits for in turn times
    `BATCH_TURNAROUND_S` (items wait side by side)."""
    prices = est.prices()
    total = Tally()
    for item in est.items:
        for use in uses:
            if use.count:
                t = est.per_item(use, item)
                rate = prices.batch_rate(use.model)
                t.cost = call_cost(rate, t.inp, t.out, t.reasoning) if rate is not None else None
                t.call_s = 0.0
                total.add(t)
    total.call_s = batch_rounds(uses) * BATCH_TURNAROUND_S
    return total


def call_cost(rate: Any, inp: int, out: int, reasoning: int) -> float | None:
    """One call's cost by `tts_bench.llm.pricing.cost_usd` (None when the price is unknown)."""
    from tts_bench.llm.pricing import cost_usd
    from tts_bench.llm.types import Usage

    usage = Usage(input_tokens=inp, output_tokens=out, reasoning_tokens=reasoning)
    return cost_usd(usage, rate)
