"""The OpenAI chat-completion wire format of simulated replies: the JSON body, the usage
block (with OpenAI's automatic prompt caching, `PromptCache`), content-filtered choices and
the timed chunks of a server-sent event stream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiohttp import web

CACHE_MIN_TOKENS = 1024  # OpenAI caches prompts of at least this many tokens
CACHE_STEP_TOKENS = 128  # ... in increments of this many
CACHE_IDLE_S = 300.0  # a prefix unused this long is forgotten (OpenAI: 5 to 10 minutes)
CACHE_MAX_PREFIXES = 200_000  # beyond this the least recently used prefix is forgotten
_CHARS_PER_TOKEN = 4  # the simulator's token count is about characters / 4


class PromptCache:
    """OpenAI's automatic prompt caching, modelled deterministically per server and model.

    A prompt of P >= 1024 tokens has cacheable prefixes of 1024, 1152, ... tokens (steps of
    128, up to P); prefix b is the first 4*b characters of the messages as sent (roles
    included). `cached_tokens` is the longest such prefix a request of the same model sent
    within the last `idle_s` seconds (each use refreshes it); every admitted request then
    records its own prefixes. clock: seconds, monotonic (tests pass a fake one)."""

    def __init__(
        self, idle_s: float = CACHE_IDLE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_s = idle_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def cached(self, model: str, messages: Any, prompt_tokens: int) -> int:
        """The cached tokens of this prompt, recording its prefixes for later requests."""
        if prompt_tokens < CACHE_MIN_TOKENS:
            return 0
        now = self._clock()
        text = "".join(
            f"<|{m.get('role', '')}|>{m.get('content', '')}" if isinstance(m, dict) else str(m)
            for m in messages
        ).encode("utf-8", "surrogatepass")
        digest = hashlib.sha256(json.dumps(model).encode())
        done, hit = 0, 0
        for size in range(CACHE_MIN_TOKENS, prompt_tokens + 1, CACHE_STEP_TOKENS):
            # One running hash over the text: each prefix costs only its new characters.
            end = min(len(text), size * _CHARS_PER_TOKEN)
            digest.update(text[done:end])
            done = end
            key = f"{size}:{digest.hexdigest()}"
            seen = self._seen.pop(key, None)
            if seen is not None and now - seen <= self.idle_s:
                hit = size
            self._seen[key] = now
        while len(self._seen) > CACHE_MAX_PREFIXES:
            self._seen.popitem(last=False)
        return hit


class Filtered:
    """A choice stopped by the content filter: no text, `finish_reason` "content_filter",
    the tokens it generated still billed (everything else is the wrapped reply's)."""

    text = ""
    finish_reason = "content_filter"

    def __init__(self, out: Any) -> None:
        self._out = out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


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


def usage_of(outs: list, cached: int = 0) -> dict[str, Any]:
    """OpenAI's usage block of one response: the prompt once, every choice's completion
    (reasoning tokens included, as OpenAI counts them) summed; cached: prompt tokens read
    from the prompt cache."""
    reasoning = sum(int(o.reasoning_tokens) for o in outs)
    completion = sum(int(o.output_tokens) for o in outs) + reasoning
    prompt = int(outs[0].input_tokens)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
        "prompt_tokens_details": {"cached_tokens": min(cached, prompt)},
    }


def completion(requested: str, outs: list, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chat.completion body of `outs` (one choice each); usage: as `usage_of` (default
    without cached tokens)."""
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
        "usage": usage if usage is not None else usage_of(outs),
    }


async def stream(
    request: web.Request,
    requested: str,
    outs: list,
    body: dict,
    usage: dict[str, Any],
    headers: dict[str, str],
    time_scale: float,
    cut: bool = False,
) -> web.StreamResponse:
    """Send `outs` as a server-sent event stream, each chunk at its simulated time times
    `time_scale`; usage: sent last when `stream_options.include_usage` asks; headers: extra
    response headers (rate limits); cut: abort the connection half way (`truncated_stream`)."""
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", **headers}
    )
    await resp.prepare(request)
    cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
    created = int(time.time())

    async def send(obj: Any) -> None:
        data = obj if isinstance(obj, str) else json.dumps(obj)
        await resp.write(f"data: {data}\n\n".encode())

    def chunk(choices: list[dict], **extra: Any) -> dict:
        return {"id": cid, "object": "chat.completion.chunk", "created": created,
                "model": requested, "choices": choices, **extra}  # fmt: skip

    events = schedule(outs)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for sent, (at, index, delta, finish) in enumerate(events):
        await asyncio.sleep(max(0.0, start + at * time_scale - loop.time()))
        await send(chunk([{"index": index, "delta": delta, "finish_reason": finish}]))
        if cut and sent >= len(events) // 2:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
    if (body.get("stream_options") or {}).get("include_usage"):
        await send(chunk([], usage=usage))
    await send("[DONE]")
    await resp.write_eof()
    return resp
