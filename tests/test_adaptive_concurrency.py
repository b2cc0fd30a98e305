# ruff: noqa: F811  (the fake_sim fixture imported from fakeserver is re-bound as an argument)
"""Adaptive concurrency (llm.concurrency): the AIMD controller fed events on a fake clock, the
rate-limit headers it reads (llm.limits.read_quota), the client converging under a backend
that answers 429 above an in-flight level and paced by sim serve's headers; and a reply cut by
the content filter, which the client returns as a failed call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from fakeserver import MESSAGES, fake_sim, limits  # noqa: F401

from tts_bench.llm import Client
from tts_bench.llm.backends.base import CallError, Reply
from tts_bench.llm.concurrency import AdaptiveConcurrency, AdaptiveLimit
from tts_bench.llm.limits import Quota, parse_reset, read_quota
from tts_bench.llm.types import ModelSpec, Usage
from tts_bench.suite import Limits, Price


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def started(ceiling: int = 16, **kw) -> tuple[AdaptiveLimit, Clock]:
    """A limit past its first call (which goes alone), and its clock."""
    clock = Clock()
    lim = AdaptiveLimit(ceiling, clock=clock, **kw)
    lim.release(lim.try_acquire(), "ok")
    return lim, clock


def admit(lim: AdaptiveLimit, k: int) -> list:
    tickets = [lim.try_acquire() for _ in range(k)]
    assert all(t is not None for t in tickets)
    return tickets


# -- the controller ----------------------------------------------------------------------------


def test_first_call_goes_alone_then_the_ceiling():
    lim = AdaptiveLimit(4, clock=Clock())
    first = lim.try_acquire()
    assert first is not None and lim.try_acquire() is None  # alone until it ends
    lim.release(first, "other")  # any ending will do, an error too
    admit(lim, 4)
    assert lim.try_acquire() is None and lim.in_flight == 4 and lim.limit == 4


def test_a_burst_of_429s_from_one_overload_halves_once():
    lim, _ = started(16)
    burst = admit(lim, 16)
    for t in burst:
        lim.release(t, "rate_limited")
    assert lim.limit == 8 and lim.n_decreases == 1
    # calls admitted after the decrease speak for the new limit: their 429 halves again
    again = admit(lim, 8)
    assert lim.try_acquire() is None
    for t in again:
        lim.release(t, "rate_limited")
    assert lim.limit == 4 and lim.n_decreases == 2


def test_never_below_one():
    lim, _ = started(3)
    for _ in range(6):
        lim.release(lim.try_acquire(), "rate_limited")
    assert lim.limit == 1 and lim.allowed == 1


def test_successes_add_about_one_per_window_up_to_the_ceiling():
    lim, _ = started(10)
    lim.release(lim.try_acquire(), "rate_limited")
    assert lim.limit == 5
    for t in admit(lim, 5):
        lim.release(t, "ok")
    assert 5.9 < lim.limit < 6  # five successes at 1/limit each: just under +1
    for _ in range(200):
        lim.release(lim.try_acquire(), "ok")
    assert lim.limit == 10  # the ceiling, never more


def test_calls_sent_before_a_decrease_neither_grow_nor_shrink_it():
    lim, _ = started(8)
    old = admit(lim, 8)
    lim.release(old[0], "rate_limited")
    for t in old[1:4]:
        lim.release(t, "ok")
    for t in old[4:]:
        lim.release(t, "rate_limited")
    assert lim.limit == 4 and lim.n_decreases == 1


def test_other_errors_are_no_signal():
    lim, _ = started(8)
    for status in ("server_error", "timeout", "other"):
        lim.release(lim.try_acquire(), status)
    assert lim.limit == 8 and lim.n_decreases == 0


def test_models_are_independent():
    both = AdaptiveConcurrency(6, clock=Clock())
    a, b = both.model("a"), both.model("b")
    a.release(a.try_acquire(), "rate_limited")
    assert both.model("a") is a and both.limits() == {"a": 3.0, "b": 6.0}
    assert b.try_acquire() is not None


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("120ms", 0.12), ("1.5s", 1.5), ("1h2m3s", 3723.0), ("2", 2.0)],
)
def test_reset_durations(text, seconds):
    assert parse_reset(text) == (pytest.approx(seconds), False)


def test_reset_times_and_nonsense():
    wall = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    assert parse_reset("2026-01-01T12:00:30Z", wall=wall) == (30.0, True)
    assert parse_reset("2026-01-01T12:00:00.250+00:00", wall=wall) == (0.25, True)
    assert parse_reset("2026-01-01T11:00:00Z", wall=wall) == (0.0, True)  # past: now
    assert parse_reset(format_datetime(datetime.now(UTC))) is None  # an HTTP date is no reset
    for bad in ("soon", "", "5 parsecs", "2026-01-01T12:00:30"):
        assert parse_reset(bad) is None, bad


def test_read_quota_openai_and_anthropic():
    openai = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29000",
        "x-ratelimit-reset-tokens": "2s",
    }
    q = read_quota(openai)
    assert (q.requests_limit, q.requests_remaining, q.requests_reset_s) == (500, 499, 0.12)
    assert (q.tokens_limit, q.tokens_remaining, q.tokens_reset_s) == (30000, 29000, 2.0)
    assert not q.reset_is_time
    wall = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    anthropic = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:03Z",
        "anthropic-ratelimit-input-tokens-remaining": "9000",
        "anthropic-ratelimit-output-tokens-remaining": "700",  # the tighter family counts
        "anthropic-ratelimit-output-tokens-limit": "8000",
    }
    q = read_quota(anthropic, wall=wall)
    assert (q.requests_limit, q.requests_remaining, q.requests_reset_s) == (50, 0, 3.0)
    assert (q.tokens_limit, q.tokens_remaining, q.tokens_reset_s) == (8000, 700, None)
    assert q.reset_is_time and q.exhausted_for(age_s=1.0) == 3.0  # a time is from now
    assert Quota(requests_remaining=0, requests_reset_s=3.0).exhausted_for(1.0) == 2.0
    assert read_quota(None) is None and read_quota({"retry-after": "1"}) is None
    assert read_quota({"x-ratelimit-remaining-requests": "lots"}) is None


def test_exhausted_quota_without_a_stated_limit_holds_until_its_reset():
    lim, clock = started(8)
    t = lim.try_acquire()
    clock.now += 0.5  # the reply arrives half a second after the server counted
    lim.release(t, "ok", quota=Quota(requests_remaining=0, requests_reset_s=2.0))
    assert lim.blocked_for() == pytest.approx(1.5) and lim.try_acquire() is None
    clock.now += 1.5
    assert lim.try_acquire() is not None and lim.n_holds == 1


def test_a_hold_is_capped():
    lim, _ = started(8, max_hold_s=5.0)
    lim.release(lim.try_acquire(), "ok", quota=read_quota({
        "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"
    }))  # fmt: skip
    assert lim.blocked_for() == pytest.approx(5.0)


def test_low_remaining_stops_the_increase():
    lim, _ = started(8)
    lim.release(lim.try_acquire(), "rate_limited")
    low = Quota(requests_remaining=3, requests_reset_s=1.0)
    plenty = Quota(requests_remaining=100, requests_reset_s=1.0)
    for _ in range(10):
        lim.release(lim.try_acquire(), "ok", quota=low)
    assert lim.limit == 4
    lim.release(lim.try_acquire(), "ok", quota=plenty)
    assert lim.limit == 4.25


def test_a_stated_limit_paces_calls_at_its_rate():
    lim, clock = started(16)
    t = lim.try_acquire()
    clock.now += 0.2
    # 60 a minute (one a second), none left, full in 3 s: the bucket holds 3
    q = read_quota({
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "3s",
    })  # fmt: skip
    lim.release(t, "ok", quota=q)
    assert lim.paced and lim.n_holds == 0
    assert lim.blocked_for() == pytest.approx(0.8)  # 0.2 s of refill already counted
    clock.now += 0.8
    assert lim.try_acquire() is not None and lim.try_acquire() is None
    clock.now += 10.0  # idle: the estimate refills to the capacity, no further
    assert len([lim.try_acquire() for _ in range(3)]) == 3 and lim.try_acquire() is None


def test_the_pace_counts_calls_sent_since_and_takes_only_newer_news():
    lim, _ = started(16)
    a, b, c, _d = admit(lim, 4)
    lim.release(a, "ok", quota=Quota(requests_limit=60, requests_remaining=5))
    # five left when `a` was counted, three sent since: two may go now
    assert len([t for t in (lim.try_acquire() for _ in range(4)) if t]) == 2
    lim.release(c, "ok", quota=Quota(requests_limit=60, requests_remaining=9))
    assert lim.try_acquire() is not None  # newer news: more room than estimated
    # `b` was sent before `c`: what it says is older than what the estimate holds
    lim.release(b, "ok", quota=Quota(requests_limit=60, requests_remaining=0))
    assert lim.try_acquire() is not None


def test_the_token_pace_charges_what_calls_really_use():
    lim, clock = started(16)
    t = lim.try_acquire(est_tokens=1000)
    q = Quota(tokens_limit=6000, tokens_remaining=0, tokens_reset_s=1.0)  # 100 a second
    lim.release(t, "ok", quota=q, used_tokens=200)
    assert lim.blocked_for(est_tokens=1000) == pytest.approx(1.0)  # 100 needed of 200 used
    clock.now += 1.0
    assert lim.try_acquire(est_tokens=1000) is not None


def test_waiters_are_served_in_order_and_after_a_hold():
    async def go():
        loop = asyncio.get_running_loop()
        lim = AdaptiveLimit(2, clock=loop.time)
        first = await lim.acquire()
        order: list[int] = []

        async def call(i: int) -> None:
            t = await lim.acquire()
            order.append(i)
            await asyncio.sleep(0)
            lim.release(t, "ok")

        tasks = [asyncio.create_task(call(i)) for i in range(5)]
        await asyncio.sleep(0)
        assert order == [] and len(lim._waiters) == 5  # behind the first call
        lim.release(first, "ok", quota=Quota(requests_remaining=0, requests_reset_s=0.05))
        await asyncio.sleep(0)
        assert order == []  # held
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3, 4] and lim.in_flight == 0

    asyncio.run(go())


def test_a_cancelled_waiter_gives_its_place_up():
    async def go():
        lim = AdaptiveLimit(1, clock=asyncio.get_running_loop().time)
        held = await lim.acquire()
        waiting = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        lim.release(held, "ok")
        assert lim.in_flight == 0 and lim.try_acquire() is not None

    asyncio.run(go())


# -- the client ------------------------------------------------------------------------------

SPEC = ModelSpec("openai/fake", params={"api_base": "http://127.0.0.1:9/v1"})
PRICING = {"openai/fake": Price(input=1.0, output=2.0)}


class OverloadBackend:
    """Answers 429 at once to a call that finds `level` others in flight, else a reply after
    a few event-loop turns."""

    def __init__(self, level: int, finish_reason: str = "stop") -> None:
        self.level = level
        self.finish_reason = finish_reason
        self.in_flight = 0
        self.peak = 0
        self.answers: list[str] = []

    async def call(self, spec, messages, *, sample_index, n, timeout_s, api_key):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.in_flight > self.level:  # the calls beyond the level are refused
                self.answers.append("429")
                raise CallError("rate_limited", "slow down", retry_after=0.0)
            for _ in range(5):
                await asyncio.sleep(0)
            self.answers.append("ok")
            usage = Usage(input_tokens=10, output_tokens=5)
            return [Reply(text="partial", finish_reason=self.finish_reason, usage=usage)]
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        pass


def run_client(backend, n_calls: int, **limit_changes):
    async def go():
        client = Client(limits=limits(**limit_changes), pricing=PRICING, backoff_s=0.0)
        client._backends["direct"] = backend
        try:
            out = await asyncio.gather(
                *(client.generate(SPEC, MESSAGES, sample_index=i) for i in range(n_calls))
            )
            return out, client
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_client_converges_below_the_overload_level():
    level, n_calls = 6, 400
    adaptive = OverloadBackend(level)
    out, client = run_client(adaptive, n_calls, concurrency=32, retries=20)
    assert all(c.ok for c in out)
    refused = adaptive.answers.count("429") / len(adaptive.answers)
    late = adaptive.answers[len(adaptive.answers) // 2 :]
    assert refused < 0.2 and late.count("429") / len(late) < 0.1
    lim = client.adaptive.model("openai/fake")
    assert lim.limit <= level + 1 and lim.n_decreases >= 2

    fixed = OverloadBackend(level)
    out, _ = run_client(fixed, n_calls, concurrency=32, retries=20, adaptive=False)
    assert fixed.answers.count("429") / len(fixed.answers) > 3 * refused


def test_content_filter_is_a_failed_call_with_its_text_kept(tmp_path):
    backend = OverloadBackend(level=100, finish_reason="content_filter")

    async def go():
        client = Client(
            limits=limits(), pricing=PRICING, backoff_s=0.0, cache_path=tmp_path / "c.sqlite"
        )
        client._backends["direct"] = backend
        try:
            first = await client.generate(SPEC, MESSAGES)
            again = await client.generate(SPEC, MESSAGES)
            return first, again, client.n_errors
        finally:
            await client.aclose()

    first, again, n_errors = asyncio.run(go())
    assert first.status == "content_filter" and not first.ok and first.text == "partial"
    assert first.retries == 0 and first.cost_usd == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)
    assert not again.cache_hit and backend.answers == ["ok", "ok"] and n_errors == 2


def test_the_simulator_is_never_throttled_and_the_knob_turns_it_off(fake_sim):
    async def go(limits_):
        client = Client(limits=limits_)
        try:
            await asyncio.gather(
                *(client.generate(ModelSpec("sim/small"), MESSAGES) for _ in range(4))
            )
            return client.adaptive
        finally:
            await client.aclose()

    assert asyncio.run(go(Limits())).limits() == {}
    assert asyncio.run(go(Limits(adaptive=False))) is None
    assert Limits().adaptive is True


def test_the_headers_of_a_rate_limited_server_pace_the_client():
    """sim serve --rpm 600 (10 a second, a bucket of 5) through the direct transport: paced by
    its x-ratelimit-* headers the client meets almost no 429; blind, it meets many."""
    from tts_bench.sim.server import ServerThread

    def refused(adaptive: bool) -> int:
        with ServerThread(time_scale=0.0, rpm=600) as srv:
            spec = ModelSpec("openai/sim-small", params={"api_base": srv.url})

            async def go():
                client = Client(
                    limits=limits(concurrency=16, retries=30, adaptive=adaptive),
                    pricing={"openai/sim-small": Price(input=1.0, output=2.0)},
                )
                try:
                    return await asyncio.gather(
                        *(client.generate(spec, MESSAGES, sample_index=i) for i in range(25))
                    )
                finally:
                    await client.aclose()

            out = asyncio.run(go())
        assert all(c.ok for c in out), {c.error for c in out}
        return sum(c.retries for c in out)

    paced, blind = refused(True), refused(False)
    assert paced <= 3 and blind >= 10, (paced, blind)


def test_a_cancelled_call_gives_its_slot_back():
    class Hanging(OverloadBackend):
        async def call(self, *args, **kwargs):
            await asyncio.Event().wait()

    async def go():
        client = Client(limits=limits(concurrency=2), pricing=PRICING)
        client._backends["direct"] = Hanging(level=10)
        try:
            tasks = [
                asyncio.create_task(client.generate(SPEC, MESSAGES, sample_index=i))
                for i in range(3)
            ]
            for _ in range(20):
                await asyncio.sleep(0)
            lim = client.adaptive.model(SPEC.model)
            assert lim.in_flight == 1 and len(lim._waiters) == 2  # the first call goes alone
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            return lim.in_flight, len(lim._waiters), lim.try_acquire() is not None
        finally:
            await client.aclose()

    assert asyncio.run(go()) == (0, 0, True)
