"""litellm transport for every provider the direct transport does not cover.

litellm is imported lazily (it takes seconds) with the offline environment set first. Retries
are the client's: each call passes `num_retries=0` and `max_retries=0`, so the openai SDK
underneath never sleeps on its own (it would honour any Retry-After uncapped). For an
`api_base` without `api_key_env`, a placeholder key is sent so litellm does not fall back to
a real provider key from the environment and hand it to that endpoint (not for `bedrock/`,
which signs with AWS credentials).

`stream: true` passes `stream=True` with `stream_options.include_usage` and joins litellm's
chunks as the direct transport joins the wire's (backends/stream.py), timing the first token.
Rate-limit headers come from `_hidden_params["additional_headers"]` on a response and from
`litellm_response_headers` or `response.headers` on an exception.

Errors are labelled by llm.errors, the same taxonomy as the direct transport; an exception
while a stream is being read (litellm reports a dropped connection as a mid-stream server
error) is a truncated response, `malformed`, as on the direct transport. Response
bodies are not capped here: litellm and the SDKs under it read a whole body into memory
before handing it over (docs/providers.md).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tts_bench.llm.backends.base import (
    CallError,
    Reply,
    clip,
    parse_retry_after,
    rate_limit_headers,
    usage_from_openai,
    wants_stream,
)
from tts_bench.llm.backends.stream import StreamAssembler
from tts_bench.llm.errors import classify_exception
from tts_bench.llm.types import ModelSpec

_NOT_KWARGS = {"transport", "api_key", "num_retries", "max_retries", "timeout"}
_NOT_KWARGS |= {"stream", "stream_options"}  # set below, from the `stream` knob
# Labels of an exception raised mid-stream that mean the stream was cut short.
_CUT_SHORT = {"connection_error", "server_error", "api_error"}


class LiteLLMBackend:
    def __init__(self) -> None:
        self._litellm: Any = None

    def prepare(self) -> None:
        """Import litellm now (seconds, once) so the import is not timed as call latency."""
        self._lib()

    def _lib(self) -> Any:
        if self._litellm is None:
            from tts_bench.llm.offline import import_litellm

            self._litellm = import_litellm()
        return self._litellm

    async def call(
        self,
        spec: ModelSpec,
        messages: list[dict[str, str]],
        *,
        sample_index: int,
        n: int,
        timeout_s: float,
        api_key: str | None,
    ) -> list[Reply]:
        litellm = self._lib()
        kwargs: dict[str, Any] = {k: v for k, v in spec.params.items() if k not in _NOT_KWARGS}
        if n != 1:
            kwargs["n"] = n
        budget = kwargs.pop("thinking_budget", None)
        if budget is not None and "thinking" not in kwargs:
            # litellm's provider-neutral form of a reasoning-token budget
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": int(budget)}
        if spec.params.get("api_base"):
            headers = dict(kwargs.get("extra_headers") or {})
            headers.setdefault("X-Sample-Index", str(sample_index))
            kwargs["extra_headers"] = headers
            # Bedrock signs requests with AWS credentials: a key would turn them into Bearer
            # tokens, so it gets none.
            if api_key is None and not spec.model.startswith("bedrock/"):
                api_key = "no-key"
        if api_key is not None:
            kwargs["api_key"] = api_key
        stream = wants_stream(spec)
        if stream:
            options = spec.params.get("stream_options")
            kwargs["stream"] = True
            kwargs["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout_s + 1.0):  # litellm's own timeout fires first
                resp = await litellm.acompletion(
                    model=spec.model,
                    messages=messages,
                    temperature=spec.temperature,
                    max_tokens=spec.max_tokens,
                    timeout=timeout_s,
                    num_retries=0,
                    max_retries=0,
                    **kwargs,
                )
                if stream:
                    return await _consume(resp, started)
        except TimeoutError:
            raise CallError("timeout", f"no response within {timeout_s:g} s") from None
        except Exception as exc:  # litellm maps provider errors to many classes
            raise _classify(exc) from None
        return _parse(resp)

    async def aclose(self) -> None:
        return None


def _headers(exc: Exception) -> Any:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers:
        return headers
    response = getattr(exc, "response", None)
    return getattr(response, "headers", None) or {}


def _classify(exc: Exception) -> CallError:
    """Map a litellm exception to a status label (with Retry-After and the rate-limit
    headers when given)."""
    if isinstance(exc, CallError):
        return exc
    label = classify_exception(exc)
    headers = _headers(exc)
    return CallError(
        label.status,
        f"{type(exc).__name__}: {clip(str(exc))}",
        parse_retry_after(headers.get("retry-after")),
        rate_limit_headers(headers),
    )


def _response_headers(resp: Any) -> dict[str, str] | None:
    """Rate-limit headers of a response or stream litellm handed over."""
    hidden = getattr(resp, "_hidden_params", None)
    if not isinstance(hidden, dict) or not isinstance(hidden.get("additional_headers"), dict):
        return None
    return rate_limit_headers(hidden["additional_headers"])


async def _consume(resp: Any, started: float) -> list[Reply]:
    """Read litellm's stream to its end: one Reply per choice, timed from `started`."""
    stream = StreamAssembler(started)
    try:
        async for chunk in resp:
            raw = chunk.model_dump() if hasattr(chunk, "model_dump") else chunk
            stream.feed(raw, time.perf_counter())
    except CallError:
        raise
    except Exception as exc:
        error = _classify(exc)
        if error.status in _CUT_SHORT:
            error = CallError(
                "malformed", f"stream broken off: {error.message}", None, error.headers
            )
        raise error from None
    return stream.replies(strict=False, headers=_response_headers(resp))


def _parse(resp: Any) -> list[Reply]:
    choices = getattr(resp, "choices", None)
    if not choices:
        raise CallError("malformed", "response has no choices")
    raw_usage = getattr(resp, "usage", None)
    usage_dict = raw_usage.model_dump() if hasattr(raw_usage, "model_dump") else raw_usage
    usage, known = usage_from_openai(usage_dict)
    replies = []
    for choice in choices:
        message = getattr(choice, "message", None)
        if message is None:
            raise CallError("malformed", "choice has no message")
        replies.append(
            Reply(
                text=getattr(message, "content", None) or "",
                finish_reason=getattr(choice, "finish_reason", None),
                usage=usage,
                usage_known=known,
                headers=_response_headers(resp),
            )
        )
    return replies
