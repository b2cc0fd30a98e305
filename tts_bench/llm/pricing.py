"""Prices in $ per million tokens and the cost of one call.

Resolution order, looked up once per model and kept in a dict (never per call):
suite `pricing:` override > simulator profile price (`sim/x`, and `openai/sim-x` or
`anthropic/sim-x` served by `tts-bench sim serve`) > litellm's bundled price map
> unknown (None). An unknown price gives `cost_usd = None`, never an invented 0.

A call's cost is what the provider's invoice charges for its tokens:
uncached input x `input` + cache reads x `cached_input` + cache writes x `cache_write`
+ visible output x `output` + reasoning x `reasoning`. A rate the table lacks falls back:
`cached_input` and `cache_write` to `input`, `reasoning` to `output`. Tiered prices
(litellm's `*_above_200k_tokens` and the like), batch and priority tiers are not applied:
the base rate is used whatever the prompt length.

`python -m tts_bench.llm.price_rows MODEL...` prints the rates tts-bench would use, one
markdown table row per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tts_bench.llm.types import Usage


@dataclass(frozen=True)
class Rate:
    """$ per million tokens. input: uncached prompt tokens; output: visible output tokens;
    cached_input: prompt tokens read from the cache (None: at `input`); cache_write: prompt
    tokens written to the cache, as Anthropic bills them (None: at `input`); reasoning:
    hidden thinking tokens (None: at `output`)."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None


def cost_usd(usage: Usage, rate: Rate | None) -> float | None:
    """Cost of one call, or None when the price is unknown. `usage.input_tokens` counts every
    prompt token, cache reads and writes included (as OpenAI and litellm report them)."""
    if rate is None:
        return None
    cached = min(usage.cached_tokens, usage.input_tokens)
    written = min(usage.cache_write_tokens, usage.input_tokens - cached)
    uncached = usage.input_tokens - cached - written
    total = (
        uncached * rate.input
        + cached * _or(rate.cached_input, rate.input)
        + written * _or(rate.cache_write, rate.input)
        + usage.output_tokens * rate.output
        + usage.reasoning_tokens * _or(rate.reasoning, rate.output)
    )
    return total / 1e6


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _per_mtok(entry: dict[str, Any], key: str) -> float | None:
    value = entry.get(key)
    return None if value is None else float(value) * 1e6


def _litellm_rate(model: str) -> Rate | None:
    """Look a model up in litellm's bundled price map (imports litellm: call once per model)."""
    from tts_bench.llm.offline import import_litellm

    litellm = import_litellm()
    table: dict[str, Any] = litellm.model_cost
    candidates = [model]
    if "/" in model:
        candidates.append(model.split("/", 1)[1])
    for name in candidates:
        entry = table.get(name)
        if not entry:
            continue
        inp, out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if inp is None or out is None:
            continue
        return Rate(
            input=float(inp) * 1e6,
            output=float(out) * 1e6,
            cached_input=_per_mtok(entry, "cache_read_input_token_cost"),
            cache_write=_per_mtok(entry, "cache_creation_input_token_cost"),
            reasoning=_per_mtok(entry, "output_cost_per_reasoning_token"),
        )
    return None


class PriceTable:
    """Per-model price resolution, memoised.

    overrides: the suite's `pricing:` ({model: Price}); sim_profiles: the suite's extra
    simulator profiles, passed to `tts_bench.sim.price`.
    """

    def __init__(
        self, overrides: dict[str, Any] | None = None, sim_profiles: dict[str, dict] | None = None
    ) -> None:
        self._overrides = dict(overrides or {})
        self._sim_profiles = sim_profiles
        self._memo: dict[str, tuple[Rate | None, str]] = {}

    def resolved(self, model: str) -> bool:
        """Whether `rate(model)` is memoised (so calling it cannot block)."""
        return model in self._memo

    def rate(self, model: str) -> Rate | None:
        return self.rate_and_source(model)[0]

    def rate_and_source(self, model: str) -> tuple[Rate | None, str]:
        """The rate and where it came from: "suite pricing", "simulator profile",
        "litellm price map" or "unknown" (rate None)."""
        if model not in self._memo:
            self._memo[model] = self._resolve(model)
        return self._memo[model]

    def _resolve(self, model: str) -> tuple[Rate | None, str]:
        override = self._overrides.get(model)
        if override is not None:
            fields = override if isinstance(override, dict) else vars(override)
            rate = Rate(
                fields["input"],
                fields["output"],
                fields.get("cached_input"),
                fields.get("cache_write"),
                fields.get("reasoning"),
            )
            return rate, "suite pricing"
        sim_name = _sim_name(model)
        if sim_name is not None:
            from tts_bench import sim
            from tts_bench.errors import UserError

            try:
                inp, out = sim.price(sim_name, self._sim_profiles)
                return Rate(float(inp), float(out)), "simulator profile"
            except (UserError, KeyError):
                if model.startswith("sim/"):
                    raise
        rate = _litellm_rate(model)
        return rate, "litellm price map" if rate is not None else "unknown"


def _sim_name(model: str) -> str | None:
    """`sim/x`, or `openai/sim-x` / `anthropic/sim-x` (the simulator served over HTTP by
    `sim serve`, on its chat and Messages endpoints)."""
    if model.startswith("sim/"):
        return model
    for prefix in ("openai/sim-", "anthropic/sim-"):
        if model.startswith(prefix):
            return "sim/" + model.removeprefix(prefix)
    return None


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def table_row(model: str, prices: PriceTable | None = None) -> str:
    """One markdown row: model | input | cached input | cache write | output | reasoning |
    source ($ per million tokens; "—" where the map has no such rate and the fallback applies)."""
    rate, source = (prices or PriceTable()).rate_and_source(model)
    if rate is None:
        return f"| `{model}` | — | — | — | — | — | unknown |"
    cells = (rate.input, rate.cached_input, rate.cache_write, rate.output, rate.reasoning)
    return f"| `{model}` | " + " | ".join(_fmt(v) for v in cells) + f" | {source} |"
