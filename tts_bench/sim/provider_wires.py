"""The provider dialects `sim serve` speaks besides OpenAI's chat completions.

Each entry is (HTTP method, path, factory): the factory takes the `SimServer` (its config,
fault counters and request log) and returns the aiohttp handler for that route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def routes() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """Every extra route, imported on demand so `sim serve` starts without unused dialects."""
    from tts_bench.sim import anthropic_wire

    return [
        ("POST", "/v1/messages", anthropic_wire.handler),  # Anthropic's Messages API
    ]
