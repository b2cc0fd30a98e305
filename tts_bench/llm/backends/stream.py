"""Streamed chat completions (`stream: true`): server-sent events in, one `Reply` per choice out.

`SSEParser` turns the bytes of an event stream into the `data:` payloads of its events.
`StreamAssembler` joins the choice deltas of OpenAI-style chunks (dicts: as sent on the wire,
or litellm's chunk objects dumped) into replies, with each choice's time to first token and
the usage of the final chunk (`stream_options.include_usage`; no usage chunk: usage unknown,
so cost unknown, as for a plain response without usage).

Time to first token is the time from the start of the request to the first chunk that carries
visible text or reasoning for that choice (the opening chunk most servers send with the role
and empty content does not count). A choice that never produced any text counts its finish
chunk instead: the answer was complete, and empty, by then.

A broken stream is `malformed` (retried, as a 200 whose body is not JSON): a chunk that is not
a JSON object or has choices of another shape, text that is not UTF-8, or, from a transport
that checks it (`strict`), a stream that ends before every choice has its finish reason (the
connection dropped, the server stopped). An `error` object inside the stream is labelled as an
HTTP error body would be (llm.errors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tts_bench.llm.backends.base import CallError, Reply, clip, usage_from_openai
from tts_bench.llm.errors import body_text, classify_http


class SSEParser:
    """Incremental server-sent events parser: `feed(bytes)` returns the `data` of every event
    completed by those bytes (several `data:` lines of one event are joined with newlines);
    comments (`: keep-alive`) and other fields (`event:`, `id:`) are skipped."""

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []

    def feed(self, raw: bytes) -> list[str]:
        self._buf += raw
        if b"\n" not in raw:
            return []
        *lines, self._buf = self._buf.split(b"\n")
        return [event for line in lines if (event := self._line(line)) is not None]

    def close(self) -> list[str]:
        """Events left when the stream ends (a last event without its blank line)."""
        out = [e for e in (self._line(self._buf), self._line(b"")) if e is not None]
        self._buf = b""
        return out

    def _line(self, line: bytes) -> str | None:
        line = line.rstrip(b"\r")
        if not line:
            if not self._data:
                return None
            data, self._data = b"\n".join(self._data), []
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise CallError("malformed", "stream event is not UTF-8 text") from None
        name, _, value = line.partition(b":")
        if name == b"data":
            self._data.append(value[1:] if value.startswith(b" ") else value)
        return None


@dataclass
class _Choice:
    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    first_at: float | None = None  # first visible text or reasoning
    finished_at: float | None = None
    logprobs: list[float] = field(default_factory=list)


class StreamAssembler:
    """Joins the chunks of one streamed response. started: `time.perf_counter()` when the
    request was sent; every `feed` passes the arrival time of its chunk on the same clock."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.done = False  # `data: [DONE]` was seen
        self.usage: dict | None = None
        self._choices: dict[int, _Choice] = {}
        self._last = started

    def feed_data(self, data: str, now: float) -> None:
        """One SSE `data` payload: a JSON chunk, or `[DONE]`."""
        if data.strip() == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            raise CallError("malformed", f"stream chunk is not JSON: {clip(data, 80)!r}") from None
        self.feed(chunk, now)

    def feed(self, chunk: Any, now: float) -> None:
        """One chunk as a dict (`chat.completion.chunk`)."""
        if not isinstance(chunk, dict):
            raise CallError("malformed", "stream chunk is not a JSON object")
        if chunk.get("error") is not None:
            raise _stream_error(chunk)
        self._last = now
        if chunk.get("usage"):
            if not isinstance(chunk["usage"], dict):
                raise CallError("malformed", "stream chunk has a usage that is not an object")
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if choices is None:
            return
        if not isinstance(choices, list):
            raise CallError("malformed", "stream chunk has choices that are not a list")
        for choice in choices:
            self._choice(choice, now)

    def _choice(self, choice: Any, now: float) -> None:
        if not isinstance(choice, dict):
            raise CallError("malformed", "stream chunk has a choice that is not an object")
        index = choice.get("index") or 0
        delta = choice.get("delta") or {}
        if isinstance(index, bool) or not isinstance(index, int) or not isinstance(delta, dict):
            raise CallError("malformed", "stream chunk has a choice without index or delta")
        state = self._choices.setdefault(index, _Choice())
        content = delta.get("content")
        # DeepSeek, vLLM and litellm name streamed thinking `reasoning_content`; others `reasoning`
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        for piece in (content, thought):
            if piece is not None and not isinstance(piece, str):
                raise CallError("malformed", "stream chunk has content that is not text")
        if content:
            state.parts.append(content)
        if (content or thought) and state.first_at is None:
            state.first_at = now
        for token in (choice.get("logprobs") or {}).get("content") or []:
            if isinstance(token, dict) and isinstance(token.get("logprob"), (int, float)):
                state.logprobs.append(float(token["logprob"]))
        if choice.get("finish_reason"):
            state.finish_reason = str(choice["finish_reason"])
            state.finished_at = now

    def replies(self, *, strict: bool, headers: dict[str, str] | None = None) -> list[Reply]:
        """One Reply per choice, in index order. strict: every choice must have finished
        (the direct transport checks). litellm is not strict: it does not keep finish reasons
        apart when a response has several choices, and it closes a body it could not read as
        a stream (not JSON, no choices) with a finish of its own; such a stream has no text,
        no reasoning and no usage, and is refused here instead."""
        if not self._choices:
            raise CallError("malformed", "stream ended without any choice")
        if (
            not strict
            and self.usage is None
            and all(c.first_at is None for c in self._choices.values())
        ):
            raise CallError("malformed", "stream ended without any text or usage")
        if strict:
            open_ = [i for i, c in sorted(self._choices.items()) if c.finish_reason is None]
            if open_:
                raise CallError(
                    "malformed",
                    f"stream ended before choice {', '.join(map(str, open_))} finished"
                    f"{'' if self.done else ' (no [DONE])'}",
                )
        usage, known = usage_from_openai(self.usage)
        out = []
        for _, c in sorted(self._choices.items()):
            first = c.first_at if c.first_at is not None else (c.finished_at or self._last)
            out.append(
                Reply(
                    text="".join(c.parts),
                    finish_reason=c.finish_reason,
                    usage=usage,
                    usage_known=known,
                    logprob=sum(c.logprobs) / len(c.logprobs) if c.logprobs else None,
                    ttft_s=max(0.0, first - self.started),
                    headers=headers,
                )
            )
        return out


def _stream_error(chunk: dict) -> CallError:
    """An `error` object sent inside a stream, labelled as the same error body on an HTTP
    error response would be (its `code` when that is an HTTP status, else a 500)."""
    err = chunk.get("error")
    code = err.get("code") if isinstance(err, dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    text = json.dumps(chunk, default=str)
    return CallError(
        classify_http(status, text).status, f"error inside the stream: {clip(body_text(text))}"
    )
