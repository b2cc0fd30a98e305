"""The simulator server's own rate limit (`sim serve --rpm R --tpm T`), answered like the
real providers: 429 with the remaining and reset headers.

Each simulated model has two token buckets, refilling continuously:
- requests: R/60 per second, holding at most `burst` requests (default min(5, max(1, R // 12)):
  a few requests at once, never more than five seconds of refill). A request needs one.
- tokens: T/60 per second, holding at most T/12 (five seconds of refill). A request costs its
  exact total tokens (prompt plus every choice's completion: the simulator knows them before
  it answers). It is admitted when the bucket holds min(cost, capacity), so a request larger
  than the capacity waits for a full bucket and leaves it in debt; one larger than T itself is
  never admitted ("request too large", as OpenAI answers it).

So over any span of t seconds at most `burst + R * t / 60` requests are admitted: steady and
exact, with no minute boundary to bunch up at. A refused request takes nothing from either
bucket. Headers: `x-ratelimit-limit-*` is R or T, `remaining` the whole requests or tokens in
the bucket now, `reset` the time until it is full again (OpenAI's duration format, "1s",
"6m0s", "120ms"); a 429's `retry-after` (and `retry-after-ms`) is the time until the refused
request would be admitted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tts_bench.errors import UserError

BURST_S = 5.0  # the most refill time either bucket holds


class Bucket:
    """A continuously refilling bucket. rate: units per second; capacity: the most it holds
    (it starts full); level may go below zero (debt) after an oversized admission."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self._at = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + max(0.0, now - self._at) * self.rate)
        self._at = max(self._at, now)

    def wait_s(self, amount: float) -> float:
        """Seconds until `amount` (at most the capacity) is in the bucket (after refill)."""
        need = min(amount, self.capacity) - self.level
        return max(0.0, need / self.rate)

    def full_in_s(self) -> float:
        return max(0.0, (self.capacity - self.level) / self.rate)


@dataclass
class Verdict:
    """What the limiter decided for one request, and the header figures of that moment.
    refused: None (admitted), "requests" or "tokens"; too_large: the request alone exceeds
    the per-minute token limit; retry_after_s: when a refused request would be admitted."""

    refused: str | None
    too_large: bool
    retry_after_s: float
    rpm: int | None
    tpm: int | None
    remaining_requests: int
    remaining_tokens: int
    reset_requests_s: float
    reset_tokens_s: float


class ServerRateLimit:
    """Per-model request and token buckets. rpm, tpm: limits per minute (None: unlimited);
    burst: requests the request bucket holds (default min(5, max(1, rpm // 12)));
    clock: seconds, monotonic (tests pass a fake one)."""

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("--rpm", rpm), ("--tpm", tpm), ("burst", burst)):
            if value is not None and value < 1:
                raise UserError(f"{name} must be a positive integer, got {value}")
        self.rpm = rpm
        self.tpm = tpm
        self.burst = burst if burst is not None else min(5, max(1, (rpm or 0) // 12))
        self._clock = clock
        self._buckets: dict[str, tuple[Bucket | None, Bucket | None]] = {}

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm)

    def _for(self, model: str, now: float) -> tuple[Bucket | None, Bucket | None]:
        pair = self._buckets.get(model)
        if pair is None:
            req = Bucket(self.rpm / 60, float(self.burst), now) if self.rpm else None
            tok = Bucket(self.tpm / 60, self.tpm * BURST_S / 60, now) if self.tpm else None
            pair = self._buckets[model] = (req, tok)
        for bucket in pair:
            if bucket is not None:
                bucket.refill(now)
        return pair

    def admit(self, model: str, tokens: int) -> Verdict:
        """Admit (and charge) one request of `tokens` total tokens for `model`, or refuse it
        without charging anything."""
        now = self._clock()
        req, tok = self._for(model, now)
        refused, too_large, wait = None, False, 0.0
        if req is not None and req.level < 1:
            refused, wait = "requests", req.wait_s(1)
        if tok is not None:
            if self.tpm is not None and tokens > self.tpm:
                refused, too_large, wait = "tokens", True, max(wait, tok.full_in_s())
            elif tok.level < min(tokens, tok.capacity):
                refused = refused or "tokens"
                wait = max(wait, tok.wait_s(tokens))
        if refused is None:
            if req is not None:
                req.level -= 1
            if tok is not None:
                tok.level -= tokens
        return Verdict(
            refused=refused,
            too_large=too_large,
            retry_after_s=wait,
            rpm=self.rpm,
            tpm=self.tpm,
            remaining_requests=max(0, math.floor(req.level)) if req else 0,
            remaining_tokens=max(0, math.floor(tok.level)) if tok else 0,
            reset_requests_s=req.full_in_s() if req else 0.0,
            reset_tokens_s=tok.full_in_s() if tok else 0.0,
        )


def duration(seconds: float) -> str:
    """OpenAI's reset format (Go's durations, to the millisecond): "120ms", "1s", "1.5s",
    "6m0s", "1h0m0s"."""
    ms = math.ceil(max(0.0, seconds) * 1000 - 1e-9)
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def _seconds(value: float) -> str:
    """Seconds rounded up to the millisecond, as a decimal ("0.25", "2")."""
    ms = math.ceil(max(0.0, value) * 1000 - 1e-9)
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".")


def _retry(verdict: Verdict) -> dict[str, str]:
    if verdict.refused is None:
        return {}
    ms = math.ceil(verdict.retry_after_s * 1000 - 1e-9)
    return {"retry-after": _seconds(verdict.retry_after_s), "retry-after-ms": str(max(0, ms))}


def openai_headers(verdict: Verdict) -> dict[str, str]:
    """The `x-ratelimit-*` headers (and, on a refusal, `retry-after`) of OpenAI's API."""
    out: dict[str, str] = {}
    if verdict.rpm:
        out["x-ratelimit-limit-requests"] = str(verdict.rpm)
        out["x-ratelimit-remaining-requests"] = str(verdict.remaining_requests)
        out["x-ratelimit-reset-requests"] = duration(verdict.reset_requests_s)
    if verdict.tpm:
        out["x-ratelimit-limit-tokens"] = str(verdict.tpm)
        out["x-ratelimit-remaining-tokens"] = str(verdict.remaining_tokens)
        out["x-ratelimit-reset-tokens"] = duration(verdict.reset_tokens_s)
    return out | _retry(verdict)


def rfc3339(seconds_from_now: float) -> str:
    """The UTC time `seconds_from_now` ahead, RFC 3339 with milliseconds."""
    when = datetime.now(UTC) + timedelta(seconds=max(0.0, seconds_from_now))
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def anthropic_headers(verdict: Verdict) -> dict[str, str]:
    """The `anthropic-ratelimit-*` headers (and, on a refusal, `retry-after`)."""
    out: dict[str, str] = {}
    if verdict.rpm:
        out["anthropic-ratelimit-requests-limit"] = str(verdict.rpm)
        out["anthropic-ratelimit-requests-remaining"] = str(verdict.remaining_requests)
        out["anthropic-ratelimit-requests-reset"] = rfc3339(verdict.reset_requests_s)
    if verdict.tpm:
        out["anthropic-ratelimit-tokens-limit"] = str(verdict.tpm)
        out["anthropic-ratelimit-tokens-remaining"] = str(verdict.remaining_tokens)
        out["anthropic-ratelimit-tokens-reset"] = rfc3339(verdict.reset_tokens_s)
    return out | _retry(verdict)


def openai_message(verdict: Verdict, model: str) -> str:
    """OpenAI's wording of a 429 for this verdict."""
    if verdict.too_large:
        return (
            f"Request too large for {model} on tokens per min (TPM): Limit {verdict.tpm}. "
            "The input or output tokens must be reduced in order to run successfully."
        )
    kind, unit = ("requests", "RPM") if verdict.refused == "requests" else ("tokens", "TPM")
    limit = verdict.rpm if verdict.refused == "requests" else verdict.tpm
    return (
        f"Rate limit reached for {model} on {kind} per min ({unit}): Limit {limit}. "
        f"Please try again in {duration(verdict.retry_after_s)}."
    )


__all__ = [
    "Bucket",
    "ServerRateLimit",
    "Verdict",
    "anthropic_headers",
    "duration",
    "openai_headers",
    "openai_message",
    "rfc3339",
]
