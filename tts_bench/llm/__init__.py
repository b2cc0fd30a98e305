"""The LLM client: the only code that talks to models (see client.py).

`Client` is loaded on first use: a price look-up (llm.pricing) must not pay for aiohttp and
the transports before a run needs them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tts_bench.llm.client import Client

__all__ = ["Client"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from tts_bench.llm.client import Client

        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
