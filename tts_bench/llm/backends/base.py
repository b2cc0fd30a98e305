"""What a backend returns (`Reply`) or raises (`CallError`) for one attempt."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tts_bench.errors import UserError
from tts_bench.llm.errors import RETRYABLE as RETRYABLE  # re-exported
from tts_bench.llm.redact import redact
from tts_bench.llm.types import ModelSpec, Usage


@dataclass
class Reply:
    """One choice of a successful response. `latency_s` is set by backends that know the
    provider's own latency (the simulator); otherwise the client measures the attempt."""

    text: str
    finish_reason: str | None
    usage: Usage
    usage_known: bool = True  # False when the provider sent no usage: cost is then unknown
    latency_s: float | None = None
    logprob: float | None = None
    ttft_s: float | None = None  # time to the first streamed token (streamed calls only)
    headers: dict[str, str] | None = None  # the provider's rate-limit headers, lower-cased


class CallError(Exception):
    """A failed attempt. status: a label from types.CALL_STATUSES (see llm.errors);
    message: what went wrong, with secrets masked here so no caller can forget it;
    retry_after: seconds the provider asked us to wait (None when it did not say);
    headers: the provider's rate-limit headers, lower-cased (None when unknown)."""

    def __init__(
        self,
        status: str,
        message: str,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        message = redact(message) or ""
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.headers = headers

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE


def clip(text: str, limit: int = 300) -> str:
    """`text` with secrets masked, then cut to `limit` characters (in that order: a cut
    through a key would leave a prefix that no longer matches it)."""
    return (redact(text) or "")[:limit]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def wants_stream(spec: ModelSpec) -> bool:
    """The config's `stream` knob: true asks for a server-sent event stream (time to first
    token is measured), false or absent for one JSON body; anything else is a UserError."""
    value = spec.params.get("stream")
    if value is None or isinstance(value, bool):
        return bool(value)
    raise UserError(f"model {spec.model}: stream must be true or false, got {value!r}")


# litellm hands over a provider's headers with this prefix (`_hidden_params["additional_headers"]`)
_LITELLM_PREFIX = "llm_provider-"


def rate_limit_headers(raw: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The rate-limit headers of a response, names lower-cased: `x-ratelimit-*` (OpenAI and
    most compatible servers), `anthropic-ratelimit-*` and `retry-after`; litellm's
    `llm_provider-` prefix is dropped. None when no header was seen at all."""
    if raw is None:
        return None
    out: dict[str, str] = {}
    for key, value in raw.items():
        name = str(key).lower().removeprefix(_LITELLM_PREFIX)
        if (
            name.startswith(("x-ratelimit-", "anthropic-ratelimit-")) or name == "retry-after"
        ) and value is not None:
            out[name] = str(value)
    return out


def usage_from_openai(raw: dict | None) -> tuple[Usage, bool]:
    """Usage from an OpenAI-style `usage` object: output excludes reasoning tokens; input
    counts every prompt token, cache reads (`cached_tokens`) and cache writes included (litellm
    folds Anthropic's `cache_read_input_tokens` / `cache_creation_input_tokens` into
    `prompt_tokens` and reports them in both places)."""
    if not raw:
        return Usage(), False
    details = raw.get("completion_tokens_details") or {}
    prompt_details = raw.get("prompt_tokens_details") or {}
    reasoning = int(details.get("reasoning_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    cached = prompt_details.get("cached_tokens") or raw.get("cache_read_input_tokens")
    written = raw.get("cache_creation_input_tokens") or prompt_details.get("cache_creation_tokens")
    return (
        Usage(
            input_tokens=int(raw.get("prompt_tokens") or 0),
            output_tokens=max(0, completion - reasoning),
            reasoning_tokens=reasoning,
            cached_tokens=int(cached or 0),
            cache_write_tokens=int(written or 0),
        ),
        True,
    )


def mean_logprob(choice: dict) -> float | None:
    """Mean token log-probability of a choice when the provider returned logprobs."""
    content = (choice.get("logprobs") or {}).get("content") or []
    values = [t["logprob"] for t in content if isinstance(t, dict) and "logprob" in t]
    return sum(values) / len(values) if values else None
