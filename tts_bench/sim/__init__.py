"""Simulated models (`sim/small`, `sim/large`, `sim/reasoner`, and suite-defined ones).

They read the prompt text, really solve the built-in tasks, make errors whose rates depend
on the profile, difficulty, chain-of-thought, examples, temperature and reasoning effort,
and report tokens, prices and a simulated latency. They never see the target.
Simulated results are not model results: they exist to demo and to test the harness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tts_bench.sim import profiles as _profiles

if TYPE_CHECKING:
    from tts_bench.sim.model import SimResult, simulate

__all__ = ["SIM_VERSION", "SimResult", "is_sim", "list_models", "price", "simulate"]

# bump when simulated behaviour changes: it is part of the response-cache key
SIM_VERSION = "2"


def is_sim(model: str) -> bool:
    return model.startswith("sim/")


def price(model: str, profiles: dict[str, dict] | None = None) -> tuple[float, float]:
    """($ per 1M input tokens, $ per 1M output tokens) of a simulated model."""
    _, prof = _profiles.get(model, profiles)
    return float(prof["price_input"]), float(prof["price_output"])


def list_models(profiles: dict[str, dict] | None = None) -> list[str]:
    return [f"sim/{name}" for name in _profiles.all_profiles(profiles)]


def __getattr__(name: str) -> Any:
    """`simulate` and `SimResult` load on first use: pricing a simulated model needs only
    its profile."""
    if name in ("simulate", "SimResult"):
        from tts_bench.sim import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
