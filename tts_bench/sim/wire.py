"""The OpenAI chat-completion wire format of simulated replies: the JSON body, the usage
block and the timed chunks of a server-sent event stream."""

from __future__ import annotations

import time
import uuid
from typing import Any


def schedule(outs: list) -> list[tuple[float, int, dict, str | None]]:
    """Every choice's stream chunks as (simulated time, choice index, delta, finish reason),
    in time order: choices are generated side by side, so their chunks interleave and the
    stream ends with the slowest choice. A choice's first chunk comes at its TTFT, the
    others evenly up to its latency, where its finish chunk is sent."""
    events = []
    for index, out in enumerate(outs):
        ttft = float(getattr(out, "ttft_s", None) or 0.2 * out.latency_s)
        pieces = _pieces(out.text)
        step = max(0.0, out.latency_s - ttft) / len(pieces)
        for j, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if j == 0 else {"content": piece}
            events.append((ttft + j * step, index, delta, None))
        events.append((max(out.latency_s, ttft), index, {}, out.finish_reason))
    return sorted(events, key=lambda e: e[:2])  # stable: a choice's own chunks keep order


def _pieces(text: str, size: int = 16) -> list[str]:
    """Split text into stream chunks of about `size` characters (at least one chunk)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def usage_of(outs: list) -> dict[str, Any]:
    reasoning = sum(int(o.reasoning_tokens) for o in outs)
    completion = sum(int(o.output_tokens) for o in outs) + reasoning
    prompt = int(outs[0].input_tokens)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def completion(requested: str, outs: list) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": requested,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": o.text},
                "finish_reason": o.finish_reason,
            }
            for i, o in enumerate(outs)
        ],
        "usage": usage_of(outs),
    }
