"""The LLM client: the only code that talks to models (see client.py)."""

from tts_bench.llm.client import Client

__all__ = ["Client"]
