"""Transports behind `Client`: the in-process simulator, a direct OpenAI-compatible HTTP
transport (aiohttp) for `openai/...` models with `api_base`, and litellm for everything else.

`choose(spec)` picks one. `spec.params["transport"]` forces a choice: `auto` (default),
`direct` (needs `api_base`) or `litellm` (e.g. to exercise litellm's own HTTP path).
"""

from __future__ import annotations

from tts_bench.errors import UserError
from tts_bench.llm.types import ModelSpec

TRANSPORTS = ("auto", "direct", "litellm")


def choose(spec: ModelSpec) -> str:
    """Return "sim", "direct" or "litellm" for a model spec."""
    if spec.model.startswith("sim/"):
        return "sim"
    transport = spec.params.get("transport", "auto")
    if transport not in TRANSPORTS:
        raise UserError(
            f"model {spec.model}: transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}"
        )
    has_base = bool(spec.params.get("api_base"))
    if transport == "direct":
        if not has_base:
            raise UserError(f"model {spec.model}: transport 'direct' needs api_base")
        return "direct"
    if transport == "auto" and has_base and spec.model.startswith("openai/"):
        return "direct"
    return "litellm"
