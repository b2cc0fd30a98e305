"""Prices in $ per million tokens and the cost of one call.

Resolution order, looked up once per model and kept in a dict (never per call):
suite `pricing:` override > simulator profile price (`sim/x`, and `openai/sim-x` served by
`tts-bench sim serve`) > litellm's bundled price map
> unknown (None). An unknown price gives `cost_usd = None`, never an invented 0.
Reasoning tokens are billed at the output price; cached input tokens at `cached_input`
(the input price when the table has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tts_bench.llm.types import Usage


@dataclass(frozen=True)
class Rate:
    """$ per million tokens."""

    input: float
    output: float
    cached_input: float | None = None


def cost_usd(usage: Usage, rate: Rate | None) -> float | None:
    """Cost of one call, or None when the price is unknown."""
    if rate is None:
        return None
    cached = min(usage.cached_tokens, usage.input_tokens)
    cached_rate = rate.input if rate.cached_input is None else rate.cached_input
    total = (
        (usage.input_tokens - cached) * rate.input
        + cached * cached_rate
        + (usage.output_tokens + usage.reasoning_tokens) * rate.output
    )
    return total / 1e6


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
        cached = entry.get("cache_read_input_token_cost")
        return Rate(
            input=float(inp) * 1e6,
            output=float(out) * 1e6,
            cached_input=None if cached is None else float(cached) * 1e6,
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
        if isinstance(override, dict):
            rate = Rate(override["input"], override["output"], override.get("cached_input"))
            return rate, "suite pricing"
        if override is not None:
            return Rate(override.input, override.output, override.cached_input), "suite pricing"
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
    """`sim/x`, or `openai/sim-x` (the simulator served over HTTP by `sim serve`)."""
    if model.startswith("sim/"):
        return model
    if model.startswith("openai/sim-"):
        return "sim/" + model.removeprefix("openai/sim-")
    return None
