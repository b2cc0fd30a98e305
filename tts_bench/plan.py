"""`plan`: what a suite will cost and how long it will take, before any call is made.

Per config: calls per item from the strategy's knobs (pools, judges, search nodes, routes,
reflection rounds), input tokens counted on the real rendered prompts (the simulator's own
count for `sim/*`, litellm's tokenizer where litellm knows the model, else chars/4), output
and reasoning tokens from the strategy and `max_tokens` (or observed means per call from a
prior run with `from_run`), cost from the price table (suite `pricing:` > simulator profile >
litellm's bundled price map > unknown) and wall time under the suite's limits.

Static output estimates (documented in docs/plan.md): a plain answer is ~16 tokens; a worked
(chain-of-thought) solution is about as long as the problem it restates, + 16 tokens, capped
at `max_tokens`; reasoning models add overhead + tokens per step by effort. Search strategies
are costed at their knob limits (an upper bound; they stop when a solution finishes).
"""

from __future__ import annotations

import inspect
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench import prompts
from tts_bench.errors import UserError
from tts_bench.suite import Suite

PLAIN_OUT = 16  # a short answer line ("That gives 42. Final answer: 42")
COT_EXTRA = 16  # a worked solution ~ restates the problem plus the final-answer line
STEP_OUT = 24  # one step line (search expansions and rollouts)
ROLE_OUT = {"classify": 4, "value": 12, "critique": 40}
CANDIDATE_TOKENS_PER_LINE = 15  # for the reasoning-step estimate of a worked solution
REASONING = {"overhead": 80, "low": 40, "medium": 120, "high": 320}  # tokens (per step)
TYPICAL_TTFT_S, TYPICAL_TPS = 0.5, 60.0  # assumed for non-simulated models
MIN_STRATUM = 100
UNKNOWN_VAR_D = 0.2


@dataclass
class ConfigPlan:
    config: str
    calls: float
    input_tokens: float
    output_tokens: float
    reasoning_tokens: float
    cost_usd: float | None
    price_source: str
    wall_s: float
    notes: list[str] = field(default_factory=list)


@dataclass
class PlanReport:
    configs: list[ConfigPlan]
    total_cost_usd: float | None
    total_calls: float
    wall_s: float
    warnings: list[str]
    tokenizer_note: str


@dataclass
class Use:
    """One kind of call a config makes per item: `count` calls of `kind` on `model`."""

    kind: str  # plain | cot | judge | critique | refine | classify | expand | value | rollout
    model: str
    count: float
    spec: Any  # ModelSpec


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

    def add(self, other: Tally, w: float = 1.0) -> None:
        self.calls += w * other.calls
        self.inp += w * other.inp
        self.out += w * other.out
        self.reasoning += w * other.reasoning
        self.call_s += w * other.call_s
        self.cost = None if self.cost is None or other.cost is None else self.cost + w * other.cost


# -- strategy call patterns ----------------------------------------------------------------
def knobs_of(strategy: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """The strategy's knobs with its own defaults filled in."""
    from tts_bench.strategies.base import registry

    factory = registry().get(strategy)
    full: dict[str, Any] = {}
    if factory is not None:
        for name, p in inspect.signature(factory).parameters.items():
            if p.default is not inspect.Parameter.empty:
                full[name] = p.default
    full.update(knobs)
    return full


def _pool(n: Any) -> int:
    return max(n) if isinstance(n, list) else int(n)


def call_pattern(strategy: str, k: dict[str, Any], spec: Any) -> tuple[list[Use], list[str]]:
    """Calls per item by kind, and notes saying where the figure is a bound or an assumption."""
    m = spec.model
    sample = "cot" if k.get("cot", strategy == "cot") else "plain"

    def other(name: str | None) -> tuple[str, Any]:
        return (m, spec) if name is None else (name, spec.with_(model=name))

    if strategy == "single":
        return [Use("plain", m, 1, spec)], []
    if strategy == "cot":
        return [Use("cot", m, 1, spec)], []
    if strategy == "reflection":
        r = int(k["rounds"])
        cm, cspec = other(k.get("critic"))
        return [
            Use(sample, m, 1, spec),
            Use("critique", cm, r, cspec),
            Use("refine", m, r, spec),
        ], [f"reflection: at most {2 * r + 1} calls (stops when the critic finds no error)"]
    if strategy in ("self_consistency", "best_of_n"):
        n = _pool(k["n"])
        uses = [Use(sample, m, n, spec)]
        judged = (
            k.get("weighted") == "judge"
            if strategy == "self_consistency"
            else k["selector"] == "judge"
        )
        if judged:
            jm, jspec = other((k.get("judge") or {}).get("model"))
            uses.append(Use("judge", jm, n, jspec))
        notes = [f"one pool of max(n) = {n} samples" + (", each judged" if judged else "")]
        if strategy == "best_of_n" and k["selector"] not in ("judge", "scorer"):
            notes.append("custom selector: calls it makes are not counted here")
        return uses, notes
    if strategy == "adaptive_consistency":
        n = int(k["n_max"])
        return [Use(sample, m, n, spec)], [
            f"at most n_max = {n} samples (stops when the vote settles)"
        ]
    if strategy == "beam_search" or (strategy == "tree_of_thoughts" and k.get("method") == "bfs"):
        w, e, d = (
            (k["beam_width"], k["expand"], k["max_depth"])
            if strategy == "beam_search"
            else (k["breadth"], k["propose"], k["depth"])
        )
        n_eval = 1 if strategy == "beam_search" else int(k["n_evaluate"])
        kids = e + (d - 1) * w * e  # level 1 grows the root only
        return [Use("expand", m, kids, spec), Use("value", m, kids * n_eval, spec)], [
            f"search: at most {kids} nodes ({w} beams × {e} children × {d} levels; fewer when beams finish)"
        ]
    if strategy == "tree_of_thoughts":  # dfs
        nodes = int(k["max_nodes"])
        return [
            Use("expand", m, nodes, spec),
            Use("value", m, nodes * int(k["n_evaluate"]), spec),
        ], [f"tree-of-thoughts dfs: at most max_nodes = {nodes} nodes"]
    if strategy == "mcts":
        it, e, d = int(k["iterations"]), int(k["expand"]), int(k["depth"])
        roll = 0 if k["rollout"] == "value" else d
        return [
            Use("expand", m, it * e, spec),
            Use("rollout", m, it * roll, spec),
            Use("value", m, it, spec),
        ], [f"mcts: at most {it} × ({e} expansions + {roll} rollout steps + 1 value) calls"]
    return [Use("plain", m, 1, spec)], [
        f"strategy {strategy!r}: call pattern unknown, assumed one call per item (use --from RUN_DIR)"
    ]


# -- tokens ---------------------------------------------------------------------------------
class Counter:
    """Input-token counting per model: the simulator's own count, litellm's tokenizer where
    litellm knows the model, else chars/4 (and the note says so)."""

    def __init__(self) -> None:
        self.how: dict[str, str] = {}
        self._litellm: Any = None

    def method(self, model: str) -> str:
        if model not in self.how:
            if model.startswith("sim/"):
                self.how[model] = "simulator"
            else:
                from tts_bench.llm.offline import import_litellm

                self._litellm = self._litellm or import_litellm()
                known = (
                    model in self._litellm.model_cost
                    or model.split("/", 1)[-1] in self._litellm.model_cost
                )
                self.how[model] = "litellm" if known else "chars/4"
        return self.how[model]

    def count(self, model: str, messages: list[dict[str, str]]) -> int:
        how = self.method(model)
        if how == "simulator":
            from tts_bench.sim.text import input_tokens

            return input_tokens(messages)
        if how == "litellm":
            return int(self._litellm.token_counter(model=model, messages=messages))
        return sum(math.ceil(len(str(x.get("content", ""))) / 4) + 4 for x in messages) + 2

    def note(self) -> str:
        names = {
            "simulator": "the simulator's own count",
            "litellm": "litellm's tokenizer",
            "chars/4": "an estimate of 4 characters per token (tokenizer unknown)",
        }
        return "; ".join(f"{m}: {names[h]}" for m, h in sorted(self.how.items())) or "no models"


class _Shim:
    """What `cot_messages` reads from a Context: the rendered prompt and the examples."""

    def __init__(self, msgs: list[dict[str, str]], examples: list[tuple[str, str]]) -> None:
        self._msgs, self.examples = msgs, examples

    def messages(self) -> list[dict[str, str]]:
        return self._msgs


def _reasoner(spec: Any, sim_profiles: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    if spec.model.startswith("sim/"):
        from tts_bench.sim import profiles

        prof = profiles.get(spec.model, sim_profiles)[1]
        per = dict(prof["reasoning_tokens_per_step"], overhead=prof["reasoning_overhead_tokens"])
        return bool(prof["reasoning"]), per
    explicit = "reasoning_effort" in spec.params or "thinking_budget" in spec.params
    return explicit, REASONING


# -- prices and latency ---------------------------------------------------------------------
def price_of(suite: Suite, model: str) -> tuple[Any, str]:
    """(Rate or None, source) in the client's resolution order."""
    from tts_bench.llm.pricing import Rate, _litellm_rate

    if model in suite.pricing:
        p = suite.pricing[model]
        return Rate(p.input, p.output, p.cached_input), "suite pricing"
    if model.startswith("sim/"):
        from tts_bench import sim

        inp, out = sim.price(model, suite.sim_profiles)
        return Rate(inp, out), "simulator profile"
    rate = _litellm_rate(model)
    return (rate, "litellm price map") if rate is not None else (None, "unknown")


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
        bounds.append(60.0 * t.calls / limits.rpm)
    if limits.tpm:
        bounds.append(60.0 * (t.inp + t.out + t.reasoning) / limits.tpm)
    return max(bounds)


# -- estimates --------------------------------------------------------------------------------
class Estimator:
    """Static per-item estimates for a suite's configs (see the module docstring)."""

    def __init__(self, suite: Suite, resolved: Any, items: list[Any]) -> None:
        self.suite, self.resolved, self.items = suite, resolved, items
        self.counter = Counter()
        self.unpriced: set[str] = set()
        self.sources: dict[str, str] = {}
        self._rates: dict[str, Any] = {}

    def rate(self, model: str) -> Any:
        if model not in self._rates:
            self._rates[model], self.sources[model] = price_of(self.suite, model)
            if self._rates[model] is None:
                self.unpriced.add(model)
        return self._rates[model]

    def _input(self, use: Use, msgs: list[dict[str, str]], question: str, cot_out: int) -> float:
        ex = self.resolved.examples
        k = use.kind
        if k == "plain":
            return self.counter.count(use.model, msgs)
        if k == "cot":
            from tts_bench.strategies.internal import cot_messages

            return self.counter.count(use.model, cot_messages(_Shim(msgs, ex), True))  # type: ignore[arg-type]
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

    def per_item(self, use: Use, item: Any) -> Tally:
        spec = use.spec
        msgs = self.resolved.render(item)
        question = msgs[-1]["content"]
        cot_out = min(math.ceil(len(question) / 4) + COT_EXTRA, spec.max_tokens)
        out = {
            "plain": PLAIN_OUT,
            "cot": cot_out,
            "judge": cot_out,
            "refine": cot_out,
            "expand": STEP_OUT,
            "rollout": STEP_OUT,
        }.get(use.kind) or ROLE_OUT[use.kind]
        out = min(out, spec.max_tokens)
        reasoning = 0.0
        is_reasoner, per = _reasoner(spec, self.suite.sim_profiles)
        if is_reasoner:
            worked = use.kind in ("plain", "cot", "judge", "refine")
            steps = max(1.0, cot_out / CANDIDATE_TOKENS_PER_LINE) if worked else 1.0
            effort = spec.params.get("reasoning_effort") or "medium"
            reasoning = per["overhead"] + per[effort] * steps
            cap = spec.params.get("thinking_budget") or spec.max_tokens
            reasoning = min(reasoning, cap, spec.max_tokens)
            out = min(out, max(spec.max_tokens - reasoning, 0))
        inp = self._input(use, msgs, question, cot_out)
        rate = self.rate(use.model)
        cost = None if rate is None else (inp * rate.input + (out + reasoning) * rate.output) / 1e6
        c = use.count
        return Tally(
            calls=c,
            inp=c * inp,
            out=c * out,
            reasoning=c * reasoning,
            cost=None if cost is None else c * cost,
            call_s=c * call_seconds(use.model, inp, out + reasoning, self.suite.sim_profiles),
        )

    def config(self, uses: list[Use]) -> Tally:
        total = Tally()
        for item in self.items:
            for use in uses:
                if use.count:
                    total.add(self.per_item(use, item))
        return total


def observed(
    run_dir: Path, suite: Suite, n_items: int, est: Estimator
) -> tuple[dict[str, Tally], dict]:
    """Per-config tallies scaled to `n_items` from a prior run's calls (observed calls per
    item and tokens per call, priced at today's prices), and its records by config."""
    from tts_bench.store import load_calls, load_records, read_manifest

    read_manifest(run_dir)  # a clear error when it is not a run directory
    records: dict[str, dict[str, dict]] = defaultdict(dict)
    for r in load_records(run_dir):
        records[r["config"]][str(r["item_id"])] = r
    sums: dict[str, Tally] = defaultdict(Tally)
    for c in load_calls(run_dir):
        if c.get("config") not in records:
            continue
        t = Tally(
            calls=1,
            inp=c.get("input_tokens") or 0,
            out=c.get("output_tokens") or 0,
            reasoning=c.get("reasoning_tokens") or 0,
            call_s=c.get("latency_s") or 0.0,
        )
        rate = est.rate(c["model"])
        t.cost = (
            None
            if rate is None
            else (t.inp * rate.input + (t.out + t.reasoning) * rate.output) / 1e6
        )
        sums[c["config"]].add(t)
    out: dict[str, Tally] = {}
    for name, t in sums.items():
        if name in {c.name for c in suite.configs}:
            scaled = Tally(cost=0.0)
            scaled.add(t, n_items / len(records[name]))
            out[name] = scaled
    return out, records


def paired_var(records: dict[str, dict[str, dict]], baseline: str) -> float | None:
    """The largest per-item variance of (correct_config − correct_baseline) in a prior run."""
    import numpy as np

    base = records.get(baseline, {})
    best: float | None = None
    for name, recs in records.items():
        if name == baseline:
            continue
        d = [
            float(r["correct"]) - float(base[i]["correct"])
            for i, r in recs.items()
            if i in base and r.get("correct") is not None and base[i].get("correct") is not None
        ]
        if len(d) > 1:
            v = float(np.var(d, ddof=1))
            best = v if best is None else max(best, v)
    return best


def _strata_warnings(items: list[Any], var_d: float | None, source: str) -> list[str]:
    groups: dict[str, int] = defaultdict(int)
    for it in items:
        key = ", ".join(f"{k}={v}" for k, v in sorted(it.strata.items()))
        if key:
            groups[key] += 1
    v = UNKNOWN_VAR_D if var_d is None else var_d
    how = (
        f"Var(d) = {v:.3f} {source}" if var_d is not None else f"Var(d) assumed {v} (no prior run)"
    )

    def mde(n: int) -> str:
        return f"±{100 * 2.8 * math.sqrt(v / n):.1f} pts"

    out = []
    if len(items) < MIN_STRATUM:
        out.append(
            f"only {len(items)} items: minimum detectable paired accuracy delta ≈ {mde(len(items))} "
            f"(80% power, α 0.05, {how})"
        )
    small = {k: n for k, n in groups.items() if n < MIN_STRATUM}
    if small:
        parts = ", ".join(f"{k}: {n} items (MDE ≈ {mde(n)})" for k, n in sorted(small.items()))
        out.append(f"strata below {MIN_STRATUM} items: {parts}; MDE = 2.8·sqrt(Var(d)/n), {how}")
    return out


def _route_weights(
    cfg: Any, k: dict[str, Any], records: dict[str, dict[str, dict]] | None
) -> tuple[dict[str, float], str]:
    targets = [str(t) for t in k["routes"].values()]
    seen = [
        ((r.get("info") or {}).get("routed_to")) for r in (records or {}).get(cfg.name, {}).values()
    ]
    seen = [s for s in seen if s in targets]
    if seen:
        return {t: seen.count(t) / len(seen) for t in set(seen)}, "observed route mix"
    w: dict[str, float] = defaultdict(float)
    for t in targets:
        w[t] += 1 / len(targets)
    return dict(w), "uniform route mix assumed (" + ", ".join(
        f"{t} {v:.0%}" for t, v in w.items()
    ) + ")"


def plan_suite(suite: Suite, *, from_run: Path | None = None, where: str = "suite") -> PlanReport:
    """Estimate calls, tokens, cost and wall time of running `suite` on a cold cache.

    from_run: a prior run directory whose observed calls per item and tokens per call
    replace the static estimates for the configs it ran (prices are today's)."""
    from tts_bench.data import load_items
    from tts_bench.resolve import Plan

    resolved = Plan(suite, where)
    items, _ = load_items(suite.dataset, where=f"{where}: dataset")
    if not items:
        raise UserError(f"{where}: dataset: no items")
    est = Estimator(suite, resolved, items)
    prior: dict[str, Tally] = {}
    records: dict[str, dict[str, dict]] | None = None
    if from_run is not None:
        prior, records = observed(Path(from_run), suite, len(items), est)
    tallies: dict[str, Tally] = {}
    notes: dict[str, list[str]] = {}

    def tally(name: str, depth: int = 0) -> Tally:
        if name in tallies:
            return tallies[name]
        cfg = suite.config(name)
        spec = resolved.specs[name]
        k = knobs_of(cfg.strategy, cfg.knobs)
        if name in prior:
            tallies[name] = prior[name]
            notes[name] = [
                f"observed in {from_run}: {prior[name].calls / len(items):.2f} calls per item"
            ]
        elif cfg.strategy == "router" and depth < 4:
            t = Tally()
            mine: list[str] = []
            if k.get("classifier") == "llm":
                cm = k.get("classifier_model") or spec.model
                cspec = spec if cm == spec.model else spec.with_(model=cm)
                t.add(est.config([Use("classify", cm, 1, cspec)]))
                mine.append("1 classify call per item")
            weights, how = _route_weights(cfg, k, records)
            for target, w in weights.items():
                t.add(tally(target, depth + 1), w)
            tallies[name], notes[name] = t, [*mine, how]
        else:
            uses, why = call_pattern(cfg.strategy, k, spec)
            tallies[name], notes[name] = est.config(uses), why
        if cfg.fallback:
            notes[name].append(f"fallback {cfg.fallback} calls (only on failures) not counted")
        return tallies[name]

    plans = []
    for cfg in suite.configs:
        t = tally(cfg.name)
        models = sorted({resolved.specs[cfg.name].model})
        for m in models:
            est.rate(m)
        plans.append(
            ConfigPlan(
                config=cfg.name,
                calls=t.calls,
                input_tokens=t.inp,
                output_tokens=t.out,
                reasoning_tokens=t.reasoning,
                cost_usd=t.cost,
                price_source=", ".join(f"{m}: {est.sources[m]}" for m in models),
                wall_s=wall_seconds(t, suite.limits),
                notes=notes[cfg.name],
            )
        )
    total = Tally()
    for p in plans:
        total.add(tallies[p.config])
    warnings: list[str] = []
    for m in sorted(est.unpriced):
        warnings.append(
            f"{m}: no known price (add it under `pricing:`); its cost is unknown, not 0"
        )
    cap = suite.limits.max_cost_usd
    if cap is not None and total.cost is not None and total.cost > cap:
        warnings.append(f"estimated cost ${total.cost:.4f} exceeds limits.max_cost_usd ${cap:.4f}")
    var_d = paired_var(records, suite.baseline) if records else None
    warnings += _strata_warnings(items, var_d, f"observed in {from_run}")
    if any(m.startswith("sim/") for m in (s.model for s in resolved.specs.values())):
        warnings.append(
            "simulated models: wall time is what the simulated latencies would take; "
            "the simulator itself does not sleep"
        )
    if any(not m.startswith("sim/") for m in (s.model for s in resolved.specs.values())):
        warnings.append(
            f"non-simulated models: latency assumed {TYPICAL_TTFT_S} s to first token + "
            f"{TYPICAL_TPS:.0f} tokens/s"
        )
    return PlanReport(
        configs=plans,
        total_cost_usd=total.cost,
        total_calls=total.calls,
        wall_s=wall_seconds(total, suite.limits),
        warnings=warnings,
        tokenizer_note=est.counter.note(),
    )
