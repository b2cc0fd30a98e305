"""Adaptive concurrency per model: additive increase, multiplicative decrease (AIMD), paced by
the provider's rate-limit headers when it sends them.

Each remote model gets an `AdaptiveLimit` whose limit starts at `limits.concurrency` (the
ceiling); a model whose `api_base` lists replicas gets one per replica (llm/replicas.py: each
replica has its own capacity and its own rate-limit headers):

- a 429 (`rate_limited`) halves the model's allowed in-flight calls (never below 1), at most
  once per window: a 429 from a call admitted before the last decrease was sent under the old
  limit, so it says nothing new (one overload answers many calls at once);
- each success adds 1/limit, about +1 per window of `limit` calls, up to the ceiling;
- the first call of a model goes alone, so its reply's headers (if any) can set the pace
  before the others are sent, rather than a burst of 429s telling it afterwards.

Headers (`read_quota`: OpenAI's `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`):

- with a stated limit per minute, the model is paced: the client keeps an estimate of the
  provider's bucket (remaining at the time the server counted, plus refill at limit/60 a
  second up to the capacity the reset time implies, minus what was sent since) and admits a
  call only when one request (and its tokens) is in it. Every newer reply corrects it;
- without a stated limit, a quota at 0 holds new calls until its reset time (at most
  `max_hold_s`), and a low one (fewer requests left than one more window of calls, or fewer
  tokens than they would use) stops the increase.

The client's global semaphore stays the overall cap across models.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tts_bench.llm.limits import Quota, read_quota

__all__ = ["AdaptiveConcurrency", "AdaptiveLimit", "Quota", "Ticket", "read_quota"]


@dataclass
class Ticket:
    """One admitted call. seq: admission order; sent_at: when it was sent (clock seconds);
    requests_through / tokens_through: the running totals charged up to and including it."""

    seq: int
    sent_at: float
    requests_through: float
    tokens_through: float


class _Pace:
    """The client's estimate of one provider bucket (requests or tokens): the level a reply's
    headers state, refilled at limit/60 a second up to the implied capacity, less what the
    client has sent since. rate 0 means no stated limit (no pacing)."""

    def __init__(self) -> None:
        self.rate = 0.0
        self.capacity = math.inf
        self.level = 0.0
        self.at = 0.0
        self.seen = -1  # seq of the call whose headers set the estimate
        self.charged = 0.0  # units charged by every admission so far

    def level_at(self, now: float) -> float:
        return min(self.capacity, self.level + max(0.0, now - self.at) * self.rate)

    def wait_s(self, amount: float, now: float) -> float:
        if self.rate <= 0:
            return 0.0
        need = min(amount, self.capacity) - self.level_at(now)
        return max(0.0, need / self.rate)

    def take(self, amount: float, now: float) -> float:
        """Charge one admission; return the running total including it."""
        self.charged += amount
        if self.rate > 0:
            self.level, self.at = self.level_at(now) - amount, now
        return self.charged

    def observe(
        self,
        seq: int,
        through: float,
        age_s: float,
        now: float,
        remaining: int | None,
        per_minute: int | None,
        full_in_s: float | None,
    ) -> None:
        """A reply to call `seq` (charged up to `through`, sent `age_s` ago) stated
        `remaining` of `per_minute`, full again `full_in_s` after the server counted."""
        if remaining is None or not per_minute or seq <= self.seen:
            return  # older news than what the estimate already holds
        self.seen = seq
        self.rate = per_minute / 60.0
        self.capacity = remaining + self.rate * full_in_s if full_in_s is not None else per_minute
        since = self.charged - through  # sent after it, so not in its count
        self.level = min(self.capacity, remaining + age_s * self.rate) - since
        self.at = now


class AdaptiveLimit:
    """One model's allowed in-flight calls under AIMD, paced by its quota headers.
    ceiling: the most ever allowed (limits.concurrency); max_hold_s: the longest hold a reset
    header can impose (limits.max_retry_wait_s); clock: monotonic seconds, the event loop's
    (tests pass a fake one and use the synchronous `try_acquire`/`release`)."""

    def __init__(
        self,
        ceiling: int,
        *,
        max_hold_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = float(self.ceiling)
        self.max_hold_s = max_hold_s
        self.in_flight = 0
        self.hold_until = 0.0
        self.n_decreases = 0
        self.n_holds = 0
        self._clock = clock
        self._started = 0  # calls admitted so far; the next one's seq
        self._recover = 0  # calls with seq below this were admitted before the last decrease
        self._replied = False  # until the first call ends, it goes alone
        self._requests = _Pace()
        self._tokens = _Pace()
        self._call_tokens: float | None = None  # running mean of a call's total tokens
        self._waiters: deque[tuple[asyncio.Future, int]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def allowed(self) -> int:
        """Calls that may be in flight now."""
        return max(1, int(self.limit)) if self._replied else 1

    @property
    def paced(self) -> bool:
        """Whether the provider's headers stated a limit this model is paced by."""
        return self._requests.rate > 0 or self._tokens.rate > 0

    def blocked_for(self, est_tokens: int = 0) -> float:
        """Seconds before a call of `est_tokens` may be sent (hold or pace; 0: now)."""
        now = self._clock()
        return max(
            self.hold_until - now,
            self._requests.wait_s(1, now),
            self._tokens.wait_s(self._cost(est_tokens), now),
            0.0,
        )

    # -- admission ---------------------------------------------------------------------------

    def try_acquire(self, est_tokens: int = 0) -> Ticket | None:
        """A slot now, or None (full, held, paced, or others already waiting: first come,
        first in). est_tokens: the call's estimated total tokens (0: unknown)."""
        if self._waiters or self.in_flight >= self.allowed or self.blocked_for(est_tokens) > 0:
            return None
        return self._admit(est_tokens)

    async def acquire(self, est_tokens: int = 0) -> Ticket:
        """Wait for a slot (in arrival order); pass the ticket to exactly one `release`."""
        ticket = self.try_acquire(est_tokens)
        if ticket is not None:
            return ticket
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((future, est_tokens))
        self._wake()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.in_flight -= 1  # handed a slot just as it was cancelled: nothing sent
                self._wake()
            else:
                self._waiters = deque(w for w in self._waiters if w[0] is not future)
            raise

    def sent(self, ticket: Ticket) -> None:
        """Stamp the moment the call really goes out (after any wait for the global cap)."""
        ticket.sent_at = self._clock()

    def _admit(self, est_tokens: int) -> Ticket:
        now = self._clock()
        self.in_flight += 1
        ticket = Ticket(
            seq=self._started,
            sent_at=now,
            requests_through=self._requests.take(1, now),
            tokens_through=self._tokens.take(self._cost(est_tokens), now),
        )
        self._started += 1
        return ticket

    def _cost(self, est_tokens: int) -> float:
        # What replies showed a call uses beats the up-front estimate (max_tokens is rarely
        # all used); before any reply the estimate is all there is.
        return self._call_tokens if self._call_tokens is not None else float(est_tokens)

    def _wake(self) -> None:
        """Hand free slots to waiters in order; when the first must wait (hold or pace),
        come back when it may go."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters and self.in_flight < self.allowed:
            future, est = self._waiters[0]
            if future.done():  # cancelled while waiting
                self._waiters.popleft()
                continue
            delay = self.blocked_for(est)
            if delay > 0:
                self._timer = asyncio.get_running_loop().call_later(delay, self._wake)
                return
            self._waiters.popleft()
            future.set_result(self._admit(est))

    # -- outcomes ----------------------------------------------------------------------------

    def release(
        self,
        ticket: Ticket,
        outcome: str = "other",
        *,
        quota: Quota | None = None,
        used_tokens: int | None = None,
    ) -> None:
        """End an admitted call. outcome: "ok" (a reply), "rate_limited" (a 429) or anything
        else (no signal: other errors, cancellation); quota: the reply's or error's headers
        (read_quota); used_tokens: a reply's total tokens."""
        now = self._clock()
        self.in_flight -= 1
        self._replied = True
        fresh = ticket.seq >= self._recover  # sent under the current limit
        if used_tokens:
            mean = self._call_tokens
            self._call_tokens = used_tokens if mean is None else 0.8 * mean + 0.2 * used_tokens
        if quota is not None:
            self._observe(ticket, quota, now)
        if outcome == "rate_limited" and fresh:
            self.limit = max(1.0, self.limit / 2)
            self._recover = self._started
            self.n_decreases += 1
        elif outcome == "ok" and fresh and not self._low(quota, ticket):
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
        if self._waiters:
            self._wake()

    def _observe(self, ticket: Ticket, quota: Quota, now: float) -> None:
        age = max(0.0, now - ticket.sent_at)
        self._requests.observe(
            ticket.seq,
            ticket.requests_through,
            age,
            now,
            quota.requests_remaining,
            quota.requests_limit,
            quota.requests_full_in(age),
        )
        self._tokens.observe(
            ticket.seq,
            ticket.tokens_through,
            age,
            now,
            quota.tokens_remaining,
            quota.tokens_limit,
            quota.tokens_full_in(age),
        )
        if self.paced:
            return  # the pace already waits for the quota to refill
        wait = quota.exhausted_for(age)
        if wait:
            until = now + min(wait, self.max_hold_s)
            if until > self.hold_until:
                self.hold_until = until
                self.n_holds += 1

    def _low(self, quota: Quota | None, ticket: Ticket) -> bool:
        """Too little quota left for one more window of calls: do not grow into it. A paced
        model needs no such check: the pace holds calls the quota cannot take."""
        if quota is None or self.paced:
            return False
        window = self.allowed + 1
        if quota.requests_remaining is not None and quota.requests_remaining < window:
            return True
        need = max(1.0, self._cost(0)) * window
        return quota.tokens_remaining is not None and quota.tokens_remaining < need


class AdaptiveConcurrency:
    """Per-model `AdaptiveLimit`s, created on first use. ceiling: limits.concurrency;
    max_hold_s: limits.max_retry_wait_s; clock: as AdaptiveLimit."""

    def __init__(
        self,
        ceiling: int,
        *,
        max_hold_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = ceiling
        self.max_hold_s = max_hold_s
        self._clock = clock
        self._models: dict[str, AdaptiveLimit] = {}

    def model(self, name: str) -> AdaptiveLimit:
        found = self._models.get(name)
        if found is None:
            found = self._models[name] = AdaptiveLimit(
                self.ceiling,
                max_hold_s=self.max_hold_s,
                clock=self._clock,
            )
        return found

    def limits(self) -> dict[str, float]:
        """Each model's current limit (for reports and benchmarks)."""
        return {name: lim.limit for name, lim in self._models.items()}
