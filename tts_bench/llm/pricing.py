"""Prices in $ per million tokens and the cost of one call.

Resolution order, looked up once per model and kept in a dict (never per call):
suite `pricing:` override > simulator profile price (`sim/x`, and `openai/sim-x` or
`anthropic/sim-x` served by `tts-bench sim serve`) > litellm's bundled price map
> unknown (None). An unknown price gives `cost_usd = None`, never an invented 0.
The price map is read from the JSON file inside the installed litellm package, as litellm
itself reads it offline, without importing litellm (seconds): a run through the direct
transport never imports it.

A call's cost is what the provider's invoice charges for its tokens:
uncached input x `input` + cache reads x `cached_input` + cache writes x `cache_write`
+ visible output x `output` + reasoning x `reasoning`. A rate the table lacks falls back:
`cached_input` and `cache_write` to `input`, `reasoning` to `output`. Tiered prices
(litellm's `*_above_200k_tokens` and the like) and priority tiers are not applied: the base
rate is used whatever the prompt length. Calls sent in a provider batch use `batch_rate`.

`python -m tts_bench.llm.price_rows MODEL...` prints the rates tts-bench would use, one
markdown table row per model.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path
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


_RATE_KEYS = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cached_input": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "reasoning": "output_cost_per_reasoning_token",
}
_MAP_FILE = "model_prices_and_context_window_backup.json"
_map: dict[str, Any] | None = None
_map_lock = threading.Lock()


def price_map_path() -> Path | None:
    """litellm's bundled price table, found without importing litellm (seconds); None when
    litellm is not installed."""
    spec = importlib.util.find_spec("litellm")  # a top-level name: finds, never imports
    for folder in (spec and spec.submodule_search_locations) or ():
        path = Path(folder) / _MAP_FILE
        if path.is_file():
            return path
    return None


def price_map() -> dict[str, Any]:
    """litellm's bundled price table as `litellm.model_cost` holds it (aliases expanded, the
    non-model `fallback_generalizations` block dropped), parsed once per process (~40 ms)."""
    global _map
    with _map_lock:  # price look-ups run in worker threads, one per model
        if _map is None:
            path = price_map_path()
            raw = json.loads(path.read_bytes()) if path is not None else {}
            _map = _expand_aliases(raw if isinstance(raw, dict) else {})
        return _map


def _expand_aliases(raw: dict[str, Any]) -> dict[str, Any]:
    """Serve alias names as their owner's entry, with litellm's own precedence: an `aliases`
    list claims a name first (never over a real entry), then `alias_of` rows; a row pointing
    at nothing, or at another alias, is dropped."""
    raw.pop("fallback_generalizations", None)
    pointers = {
        name: entry["alias_of"]
        for name, entry in raw.items()
        if isinstance(entry, dict) and isinstance(entry.get("alias_of"), str)
    }
    owners: dict[str, str] = {}
    for name, entry in raw.items():
        aliases = entry.get("aliases") if isinstance(entry, dict) else None
        if name in pointers or not isinstance(aliases, list):
            continue
        for alias in aliases:
            if isinstance(alias, str) and alias not in owners:
                if alias not in raw or alias in pointers:
                    owners[alias] = name
    for alias, target in pointers.items():
        if target in raw and target not in pointers and alias not in owners:
            owners[alias] = target
    table = {name: entry for name, entry in raw.items() if name not in pointers}
    for alias, owner in owners.items():
        table[alias] = raw[owner]
    return table


def in_price_map(model: str) -> bool:
    """Whether litellm's price table has an entry for `model` (or for it without its
    `provider/` prefix): the models litellm knows, e.g. for its tokenizer."""
    table = price_map()
    return model in table or model.split("/", 1)[-1] in table


def _litellm_rate(model: str, tier: str = "") -> Rate | None:
    """Look a model up in litellm's bundled price table (read from its file: litellm itself is
    imported only when a call goes through it). tier: "" or "_batches" (every key suffixed)."""
    table = price_map()
    candidates = [model]
    if "/" in model:
        candidates.append(model.split("/", 1)[1])
    for name in candidates:
        entry = table.get(name)
        if not entry or not isinstance(entry, dict):
            continue
        keys = {name: key + tier for name, key in _RATE_KEYS.items()}
        inp, out = entry.get(keys["input"]), entry.get(keys["output"])
        if inp is None or out is None:
            continue
        return Rate(
            input=float(inp) * 1e6,
            output=float(out) * 1e6,
            cached_input=_per_mtok(entry, keys["cached_input"]),
            cache_write=_per_mtok(entry, keys["cache_write"]),
            reasoning=_per_mtok(entry, keys["reasoning"]),
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

    def batch_rate(self, model: str) -> Rate | None:
        return self.batch_rate_and_source(model)[0]

    def batch_rate_and_source(self, model: str) -> tuple[Rate | None, str]:
        """The rate of a call sent in a provider batch: for a model the suite's `pricing:`
        names, its `batch_input` / `batch_output` (unset: unknown, never the interactive
        price); else litellm's `*_batches` rates; else, for a model `sim serve` answers, half
        its profile price (the simulated provider's batch tier, as OpenAI's and Anthropic's);
        else unknown (None)."""
        override = self._overrides.get(model)
        if override is not None:
            fields = override if isinstance(override, dict) else vars(override)
            if fields.get("batch_input") is None or fields.get("batch_output") is None:
                return None, "unknown"
            return Rate(fields["batch_input"], fields["batch_output"]), "suite pricing"
        rate = _litellm_rate(model, "_batches")
        if rate is not None:
            return rate, "litellm price map"
        if _sim_name(model) is not None and not model.startswith("sim/"):
            base, _ = self.rate_and_source(model)
            if base is not None:
                return Rate(base.input / 2, base.output / 2), "simulator profile"
        return None, "unknown"

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
