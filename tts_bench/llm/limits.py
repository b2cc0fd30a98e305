"""Client-side rate limits: a global concurrency semaphore plus per-model RPM and TPM buckets;
and the provider's own limits as its rate-limit headers state them (`read_quota`).

Buckets refill continuously (rpm/60 requests and tpm/60 tokens per second) and hold at most
one second's worth, so no minute sees much more than the limit. A TPM reservation is the
estimated prompt tokens plus max_tokens; `settle()` returns the unused part once the true
usage is known. Limits apply to remote calls only: the in-process simulator has no quota.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


class TokenBucket:
    """Continuous-refill token bucket. rate: tokens per second; capacity: the burst size."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, amount: float = 1.0) -> None:
        # A request bigger than the bucket waits for a full bucket instead of forever.
        amount = min(amount, self.capacity)
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                self._refill()
                if self._tokens >= amount:
                    self._tokens -= amount
                    return
                await asyncio.sleep((amount - self._tokens) / self.rate)

    def refund(self, amount: float) -> None:
        """Give back (amount > 0) or take more (amount < 0) after the fact."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens + amount)


class RateLimiter:
    """Per-model RPM/TPM buckets (created on first use). rpm, tpm: None means unlimited."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._rpm: dict[str, TokenBucket] = {}
        self._tpm: dict[str, TokenBucket] = {}

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm)

    async def acquire(self, model: str, est_tokens: int) -> None:
        if self.rpm:
            bucket = self._rpm.get(model)
            if bucket is None:
                bucket = self._rpm[model] = TokenBucket(self.rpm / 60, self.rpm / 60)
            await bucket.acquire(1)
        if self.tpm:
            bucket = self._tpm.get(model)
            if bucket is None:
                bucket = self._tpm[model] = TokenBucket(self.tpm / 60, self.tpm / 60)
            await bucket.acquire(est_tokens)

    def settle(self, model: str, est_tokens: int, used_tokens: int) -> None:
        bucket = self._tpm.get(model)
        if bucket is not None:
            bucket.refund(min(est_tokens, bucket.capacity) - used_tokens)


def estimate_tokens(messages: list[dict[str, str]], max_tokens: int) -> int:
    """Rough prompt size (4 characters a token, plus per-message overhead) plus max_tokens."""
    chars = sum(len(m.get("content") or "") for m in messages)
    return chars // 4 + 4 * len(messages) + max_tokens


# -- the provider's own limits, as its response headers state them ---------------------------

# (limit, remaining, reset) header names per family, lower-cased. OpenAI states resets as
# durations ("1s", "6m0s", "120ms"), Anthropic as RFC 3339 times; both mean "full again".
_REQUEST_HEADERS = (
    ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    (
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
)
_TOKEN_HEADERS = (
    ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    *(
        (
            f"anthropic-ratelimit-{k}-limit",
            f"anthropic-ratelimit-{k}-remaining",
            f"anthropic-ratelimit-{k}-reset",
        )
        for k in ("tokens", "input-tokens", "output-tokens")
    ),
)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@dataclass(frozen=True)
class Quota:
    """What one response's rate-limit headers state (None: not stated).
    *_limit: the limit per minute; *_remaining: what is left; *_reset_s: seconds until full
    again, counted from when the server answered (a duration) or, when `reset_is_time`,
    from when the headers were read (an RFC 3339 time)."""

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset_s: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset_s: float | None = None
    reset_is_time: bool = False

    def requests_full_in(self, age_s: float) -> float | None:
        """Seconds from the server's count until the request quota is full again; age_s:
        how long ago the server counted (the call's round trip)."""
        return self._since_count(self.requests_reset_s, age_s)

    def tokens_full_in(self, age_s: float) -> float | None:
        return self._since_count(self.tokens_reset_s, age_s)

    def exhausted_for(self, age_s: float) -> float | None:
        """Seconds from now until an exhausted quota (remaining 0) resets (0.0 when it does
        not say when); None when none is exhausted."""
        waits = [
            0.0 if reset is None else max(0.0, reset - (0.0 if self.reset_is_time else age_s))
            for remaining, reset in (
                (self.requests_remaining, self.requests_reset_s),
                (self.tokens_remaining, self.tokens_reset_s),
            )
            if remaining is not None and remaining <= 0
        ]
        return max(waits) if waits else None

    def _since_count(self, reset: float | None, age_s: float) -> float | None:
        if reset is None:
            return None
        return reset + age_s if self.reset_is_time else reset


def parse_reset(value: str | None, *, wall: float | None = None) -> tuple[float, bool] | None:
    """(seconds, is_time) from a reset header: a Go-style duration ("6m0s", "120ms", "1.5s")
    or bare seconds (is_time False), or an RFC 3339 time measured from `wall` (default now;
    is_time True). None when unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text)), False
    except ValueError:
        pass
    if text and _DURATION_PART.sub("", text) == "":
        return sum(float(n) * _UNIT_S[u] for n, u in _DURATION_PART.findall(text)), False
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None  # a time without a zone cannot be placed
    now = time.time() if wall is None else wall
    return max(0.0, when.timestamp() - now), True


def read_quota(headers: Mapping[str, str] | None, *, wall: float | None = None) -> Quota | None:
    """The quota a response's lower-cased rate-limit headers state; None without any. Of
    several token families (Anthropic's input and output tokens) the one with least left
    counts."""
    if not headers:
        return None
    requests = next((f for f in (_family(headers, n, wall) for n in _REQUEST_HEADERS) if f), None)
    tokens = [f for f in (_family(headers, n, wall) for n in _TOKEN_HEADERS) if f]
    token = min(tokens, key=lambda f: f[1]) if tokens else None
    if requests is None and token is None:
        return None
    is_time = any(f[3] for f in (requests, token) if f)
    return Quota(
        requests_limit=requests[0] if requests else None,
        requests_remaining=requests[1] if requests else None,
        requests_reset_s=requests[2] if requests else None,
        tokens_limit=token[0] if token else None,
        tokens_remaining=token[1] if token else None,
        tokens_reset_s=token[2] if token else None,
        reset_is_time=is_time,
    )


def _family(
    headers: Mapping[str, str], names: tuple[str, str, str], wall: float | None
) -> tuple[int | None, int, float | None, bool] | None:
    """(limit, remaining, reset seconds, reset is a time) of one header family, or None."""
    limit_name, remaining_name, reset_name = names
    remaining = _count(headers.get(remaining_name))
    if remaining is None:
        return None
    reset = parse_reset(headers.get(reset_name), wall=wall)
    limit = _count(headers.get(limit_name))
    return (limit or None), remaining, (reset[0] if reset else None), bool(reset and reset[1])


def _count(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return int(value) if math.isfinite(value) else None
