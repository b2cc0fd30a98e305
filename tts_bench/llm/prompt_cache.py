"""Prompt caching for providers that need the prefix marked: Anthropic's `cache_control`.

OpenAI caches long prompts by itself; Anthropic caches only up to a block marked
`cache_control: {type: ephemeral}`, bills that write at its `cache_write` rate (1.25x input)
and later reads at its `cached_input` rate (0.1x). `PrefixMarks.mark` marks, for models that
speak Anthropic's API (`anthropic/...`, Claude on `bedrock/` and `vertex_ai/`), the prefix a
suite's calls share:
- the system prompt (the suite's `prompt.system`, or a role prompt: the same for every item);
- the longest prefix ending with an assistant turn (few-shot examples) once it has been sent
  with two different continuations: a prefix of one item's own turns (a reflection's first
  answer) is never marked, so no write is paid for a prefix nobody reads.
Anthropic ignores marks on prefixes below its minimum length (1024 or 2048 tokens), without
charge. The response cache's key is made from the unmarked messages, so marking never changes
which responses are replayed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

Messages = list[dict[str, Any]]
MAX_PREFIXES = 100_000  # prefixes remembered before starting over (memory bound)
_MARK = {"type": "ephemeral"}


def speaks_anthropic(model: str) -> bool:
    """Whether `model` goes to Anthropic's Messages API (directly or on a cloud)."""
    m = model.lower()
    if m.startswith("anthropic/"):
        return True
    return m.startswith(("bedrock/", "vertex_ai/")) and ("anthropic" in m or "claude" in m)


def marked(message: dict[str, Any]) -> dict[str, Any]:
    """`message` with its content as one text block carrying `cache_control`."""
    content = message.get("content")
    if isinstance(content, list):  # already blocks: mark the last one
        blocks = [dict(b) for b in content]
        if blocks:
            blocks[-1]["cache_control"] = dict(_MARK)
        return {**message, "content": blocks}
    block = {"type": "text", "text": str(content or ""), "cache_control": dict(_MARK)}
    return {**message, "content": [block]}


def _digest(messages: Messages) -> str:
    blob = json.dumps(messages, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class PrefixMarks:
    """Which prefixes of a client's requests are shared (module docstring)."""

    def __init__(self) -> None:
        self._tails: dict[str, set[str]] = {}  # prefix -> continuations seen (at most 2)

    def mark(self, model: str, messages: Messages) -> Messages:
        """`messages` as sent to `model`: unchanged unless it speaks Anthropic."""
        if not speaks_anthropic(model) or len(messages) < 2:
            return messages
        marks = {0} if messages[0].get("role") == "system" else set()
        shared = None
        for end in range(len(messages) - 2, 0, -1):
            if messages[end].get("role") == "assistant" and self._seen_twice(messages, end):
                shared = end if shared is None else shared
        if shared is not None:
            marks.add(shared)
        if not marks:
            return messages
        return [marked(m) if i in marks else m for i, m in enumerate(messages)]

    def _seen_twice(self, messages: Messages, end: int) -> bool:
        """Record this continuation of messages[: end + 1]; True once it has two."""
        if len(self._tails) > MAX_PREFIXES:
            self._tails.clear()
        tails = self._tails.setdefault(_digest(messages[: end + 1]), set())
        if len(tails) < 2:
            tails.add(_digest(messages[end + 1 :]))
        return len(tails) >= 2
