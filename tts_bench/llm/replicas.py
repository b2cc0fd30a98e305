"""Replicas of one model: `api_base` given as a list of URLs serving the same model.

    replicas = Replicas()                    # one per Client
    route = replicas.route(spec)             # None unless spec's api_base is a list
    target = route.next()                    # the spec with this attempt's replica as api_base
    replies, error, s = await route.track(send(target))   # the replica learns the outcome

Spreading: each attempt goes to the replica with the fewest outstanding requests (chosen and
not yet finished, so calls queued behind a slow or paced replica count against it); ties go
round-robin from a cursor per list, so the choice is a pure function of the sequence of
picks and outcomes. A replica the call already failed on is avoided while another is usable.

Health: `max_failures` consecutive failures (connection errors, timeouts, 5xx, broken
responses: `FAILURES`) take a replica out for a cool-down of `cooldown_s`, doubled each time
it is taken out again without a success in between, at most `max_cooldown_s`. When its
cool-down ends, one call probes it (no other call goes there meanwhile): a success puts it
back in service, a failure takes it out again for the next, longer cool-down. A 429 or any
other answer says the replica is up, so it ends a run of failures. When every replica is
out, attempts still go to the one whose cool-down ends first: a call is never failed
without being sent, and it fails with the ordinary label of what the replica answered.

The client counts a move to another replica as one of `limits.retries` (a call makes at most
retries + 1 attempts, wherever they go) and skips the back-off pause before it, since the
replica it moves to has not failed. Each (model, replica) has its own adaptive-concurrency
slot (`Route.slot`): replicas have their own capacity and their own rate-limit headers, and
one replica's 429s must not slow the others.

Health is per URL, shared by every model and list that names it. Records show a replica by
`public_url` (no user, password, query or fragment). The response cache keys a list as its
first entry (`cache_params`), so adding, removing or re-ordering later replicas keeps every
cached answer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tts_bench.llm.types import ModelSpec

# Outcomes that count against a replica's health: it did not answer, or broke off.
FAILURES = frozenset({"connection_error", "timeout", "server_error", "malformed"})

T = TypeVar("T")


def public_url(url: str) -> str:
    """`url` without credentials, query or fragment: what records and logs may show."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def cache_params(params: dict[str, Any]) -> dict[str, Any]:
    """`params` as the response cache keys them: a list api_base counts as its first entry,
    so which replica served a call (or which replicas are listed after the first) never
    changes the key, and `[URL, ...]` shares the cache of a plain `URL`."""
    base = params.get("api_base")
    if isinstance(base, list) and base:
        return {**params, "api_base": base[0]}
    return params


def served_by(calls: Iterable[Any]) -> dict[str, int]:
    """{replica: successful calls it served} over calls with an `endpoint` (a record's
    `info.replicas`); cache hits have none."""
    counts = Counter(c.endpoint for c in calls if c.endpoint and c.status == "ok")
    return dict(sorted(counts.items()))


@dataclass
class Replica:
    """One URL's state. outstanding: attempts chosen and not finished; failures: consecutive;
    out_until: clock time its cool-down ends (0: in service); outs: times taken out since its
    last success (the back-off exponent); probing: the one call sent after a cool-down is
    in flight; served: successes."""

    url: str
    public: str
    outstanding: int = 0
    failures: int = 0
    out_until: float = 0.0
    outs: int = 0
    probing: bool = False
    served: int = 0

    @property
    def in_service(self) -> bool:
        return self.out_until == 0.0


class Replicas:
    """The client's replicas. max_failures: consecutive failures that take a replica out;
    cooldown_s: its first cool-down; max_cooldown_s: the longest (each new one doubles);
    clock: monotonic seconds (tests pass a fake one)."""

    def __init__(
        self,
        *,
        max_failures: int = 3,
        cooldown_s: float = 5.0,
        max_cooldown_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max(1, max_failures)
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.clock = clock
        self._by_url: dict[str, Replica] = {}
        self._cursor: dict[tuple[str, ...], int] = {}

    def route(self, spec: ModelSpec) -> Route | None:
        """One call's way through the replicas of `spec`, or None for a plain api_base."""
        urls = spec.params.get("api_base")
        if not isinstance(urls, list):
            return None
        return Route(self, spec, [self.get(u) for u in urls])

    def get(self, url: str) -> Replica:
        found = self._by_url.get(url)
        if found is None:
            found = self._by_url[url] = Replica(url, public_url(url))
        return found

    def pick(self, replicas: list[Replica], avoid: Iterable[str] = ()) -> Replica:
        """The replica for the next attempt (see the module docstring), marked outstanding;
        `avoid`: replicas this call already failed on."""
        avoid = set(avoid)
        now = self.clock()
        due = [r for r in replicas if not r.in_service and not r.probing and r.out_until <= now]
        fresh_due = [r for r in due if r.url not in avoid]
        if fresh_due:  # a cool-down ended: this call probes it
            chosen = fresh_due[0]
            chosen.probing = True
        else:
            usable = [r for r in replicas if r.in_service]
            fresh = [r for r in usable if r.url not in avoid]
            pool = fresh or usable
            if pool:
                chosen = self._least_loaded(replicas, pool)
            else:  # every replica is out: the one back soonest
                chosen = min(replicas, key=lambda r: (r.out_until, replicas.index(r)))
        chosen.outstanding += 1
        return chosen

    def _least_loaded(self, replicas: list[Replica], pool: list[Replica]) -> Replica:
        """Fewest outstanding; ties round-robin from this list's cursor."""
        key = tuple(r.url for r in replicas)
        start = self._cursor.get(key, 0)
        least = min(r.outstanding for r in pool)
        n = len(replicas)
        for step in range(n):
            i = (start + step) % n
            r = replicas[i]
            if r in pool and r.outstanding == least:
                self._cursor[key] = (i + 1) % n
                return r
        raise AssertionError("pool is a subset of replicas")

    def done(self, replica: Replica, status: str | None) -> None:
        """An attempt on `replica` ended: status "ok" or a call status; None when it was
        cancelled (says nothing about the replica)."""
        replica.outstanding -= 1
        was_probe = replica.probing
        replica.probing = False
        if status is None:
            return
        if status not in FAILURES:  # it answered: up
            replica.failures = 0
            if status == "ok":
                replica.served += 1
                replica.outs = 0
                replica.out_until = 0.0
            elif was_probe:
                replica.out_until = 0.0  # answered the probe, if not with success
            return
        replica.failures += 1
        now = self.clock()
        if was_probe or (replica.in_service and replica.failures >= self.max_failures):
            replica.outs += 1
            wait = min(self.max_cooldown_s, self.cooldown_s * 2 ** (replica.outs - 1))
            replica.out_until = max(now + wait, 1e-9)  # never 0.0, which means in service
        # a failure while already out (every replica down) leaves its cool-down as it is

    def usable_besides(self, replicas: list[Replica], tried: set[str]) -> bool:
        """Whether a replica outside `tried` is in service or due for its probe."""
        now = self.clock()
        return any(
            r.url not in tried and (r.in_service or (not r.probing and r.out_until <= now))
            for r in replicas
        )


class Route:
    """One call's attempts over `replicas`: `next()` picks (and remembers) the attempt's
    replica, `track(send)` awaits the attempt and reports its outcome, `failover` says
    whether the next attempt goes to a replica this call has not failed on."""

    def __init__(self, pool: Replicas, spec: ModelSpec, replicas: list[Replica]) -> None:
        self.pool = pool
        self.spec = spec
        self.replicas = replicas
        self.tried: set[str] = set()  # replicas this call failed on
        self.current: Replica | None = None

    def next(self) -> ModelSpec:
        self.current = self.pool.pick(self.replicas, self.tried)
        return self.spec.with_(api_base=self.current.url)

    @property
    def slot(self) -> str:
        """The adaptive-concurrency key of this attempt: the model at this replica."""
        assert self.current is not None
        return f"{self.spec.model} @ {self.current.public}"

    @property
    def endpoint(self) -> str | None:
        """The public URL of the last attempt's replica."""
        return None if self.current is None else self.current.public

    @property
    def failover(self) -> bool:
        return self.pool.usable_besides(self.replicas, self.tried)

    async def track(self, attempt: Awaitable[T]) -> T:
        """Await `attempt` (a tuple whose second item is a CallError or None, as the client's
        `_send` returns) and report its outcome on the current replica."""
        replica = self.current
        assert replica is not None
        status: str | None = None
        try:
            out = await attempt
            error = out[1]  # type: ignore[index]
            status = "ok" if error is None else error.status
            if error is not None:
                self.tried.add(replica.url)
            return out
        finally:
            self.pool.done(replica, status)
