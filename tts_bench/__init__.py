"""tts-bench: measure what inference-time scaling buys and costs."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def __getattr__(name: str) -> Any:
    # `tts_bench.load` imports pandas: only on first use, so `import tts_bench` (and the CLI's
    # --help) stays light
    if name == "load":
        from tts_bench.export import load

        return load
    raise AttributeError(f"module 'tts_bench' has no attribute {name!r}")
