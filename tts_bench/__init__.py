"""tts-bench: measure what inference-time scaling buys and costs."""

__version__ = "0.1.0"
