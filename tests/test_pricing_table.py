"""litellm's price table read from its bundled file: the same rates `litellm.model_cost` gives
for every model (cache and reasoning rates included), alias rows served as litellm serves them,
and no litellm import for a look-up."""

from __future__ import annotations

import copy
import subprocess
import sys

from tts_bench.llm import pricing
from tts_bench.llm.offline import import_litellm
from tts_bench.llm.pricing import PriceTable, Rate, in_price_map


def rate_via_litellm(model_cost: dict, model: str) -> Rate | None:
    """The look-up as it was done through `litellm.model_cost` (the reference)."""
    for name in [model, *([model.split("/", 1)[1]] if "/" in model else [])]:
        entry = model_cost.get(name)
        if not entry:
            continue
        inp, out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if inp is None or out is None:
            continue

        def per_mtok(key: str, entry: dict = entry) -> float | None:
            value = entry.get(key)
            return None if value is None else float(value) * 1e6

        return Rate(
            float(inp) * 1e6,
            float(out) * 1e6,
            per_mtok("cache_read_input_token_cost"),
            per_mtok("cache_creation_input_token_cost"),
            per_mtok("output_cost_per_reasoning_token"),
        )
    return None


def test_every_model_has_litellms_rates():
    model_cost = import_litellm().model_cost
    table = pricing.price_map()
    assert set(table) == set(model_cost)
    prices = PriceTable()
    models = list(model_cost)
    # Prefixed names resolve through the bare name, as before; a sample is enough for those.
    models += [f"openai/{m}" for m in models[::25]] + ["openai/no-such-model-xyz"]
    compared = {"cached_input": 0, "cache_write": 0, "reasoning": 0}
    for model in models:
        assert prices.rate(model) == rate_via_litellm(model_cost, model), model
        rate = prices.rate(model)
        for field in ("cached_input", "cache_write", "reasoning"):
            compared[field] += rate is not None and getattr(rate, field) is not None
    assert min(compared.values()) > 0, compared  # every kind of rate exercised
    assert prices.rate_and_source("openai/gpt-4o-mini")[1] == "litellm price map"
    assert prices.rate_and_source("openai/no-such-model-xyz") == (None, "unknown")


RAW = {
    "owner": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "aliases": ["a1"]},
    "other": {"input_cost_per_token": 3e-6, "output_cost_per_token": 4e-6, "aliases": ["owner"]},
    "p_ok": {"alias_of": "other"},
    "p_dangling": {"alias_of": "nothing"},
    "p_chain": {"alias_of": "p_ok"},
    "a1": {"alias_of": "other"},  # claimed first by owner's `aliases` list
    "fallback_generalizations": {"rules": []},
}


def test_alias_rules_follow_litellms_precedence():
    table = pricing._expand_aliases(copy.deepcopy(RAW))
    assert set(table) == {"owner", "other", "p_ok", "a1"}
    assert table["p_ok"]["input_cost_per_token"] == 3e-6
    assert table["a1"]["input_cost_per_token"] == 1e-6  # an `aliases` list wins
    assert table["owner"]["input_cost_per_token"] == 1e-6  # a real entry is never shadowed
    import_litellm()
    from litellm.litellm_core_utils import get_model_cost_map as lib

    raw = {k: v for k, v in copy.deepcopy(RAW).items() if k != "fallback_generalizations"}
    theirs = lib._expand_model_aliases(raw)
    assert {k: v.get("input_cost_per_token") for k, v in table.items()} == {
        k: v.get("input_cost_per_token") for k, v in theirs.items()
    }


def test_look_up_does_not_import_litellm():
    code = (
        "import sys\n"
        "from tts_bench.llm.pricing import PriceTable, in_price_map\n"
        "assert PriceTable().rate('openai/gpt-4o-mini') is not None\n"
        "assert in_price_map('openai/gpt-4o-mini') and not in_price_map('openai/nope-xyz')\n"
        "print(sorted(m for m in ('litellm', 'openai') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert in_price_map("anthropic/claude-sonnet-4-5")
