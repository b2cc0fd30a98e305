"""Client-side rate limits: a global concurrency semaphore plus per-model RPM and TPM buckets.

Buckets refill continuously (rpm/60 requests and tpm/60 tokens per second) and hold at most
one second's worth, so no minute sees much more than the limit. A TPM reservation is the
estimated prompt tokens plus max_tokens; `settle()` returns the unused part once the true
usage is known. Limits apply to remote calls only: the in-process simulator has no quota.
"""

from __future__ import annotations

import asyncio
import time


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
