"""Scaling strategies, one module per family; importing this package registers them."""

from tts_bench.strategies import (  # noqa: F401
    adaptive,
    internal,
    mcts,
    parallel,
    routing,
    search,
    set_vote,
)
from tts_bench.strategies.base import Context, StrategyResult, registry, resolve, strategy

__all__ = ["Context", "StrategyResult", "registry", "resolve", "strategy"]
