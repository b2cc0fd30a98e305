"""litellm transport for every provider the direct transport does not cover.

litellm is imported lazily (it takes seconds) with the offline environment set first. Retries
are the client's: each call passes `num_retries=0` and `max_retries=0`, so the openai SDK
underneath never sleeps on its own (it would honour any Retry-After uncapped). For an
`api_base` without `api_key_env`, a placeholder key is sent so litellm does not fall back to
a real provider key from the environment and hand it to that endpoint.

Errors are labelled by llm.errors, the same taxonomy as the direct transport. Response
bodies are not capped here: litellm and the SDKs under it read a whole body into memory
before handing it over (docs/providers.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from tts_bench.llm.backends.base import (
    CallError,
    Reply,
    clip,
    parse_retry_after,
    usage_from_openai,
)
from tts_bench.llm.errors import classify_exception
from tts_bench.llm.types import ModelSpec

_NOT_KWARGS = {"transport", "api_key", "num_retries", "max_retries", "timeout"}


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
            if api_key is None:
                api_key = "no-key"
        if api_key is not None:
            kwargs["api_key"] = api_key
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
    """Map a litellm exception to a status label (and Retry-After when given)."""
    if isinstance(exc, CallError):
        return exc
    label = classify_exception(exc)
    retry_after = parse_retry_after(_headers(exc).get("retry-after"))
    return CallError(label.status, f"{type(exc).__name__}: {clip(str(exc))}", retry_after)


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
            )
        )
    return replies
