"""Replicas of one model (`api_base` as a list; tts_bench/llm/replicas.py): spreading by
fewest outstanding requests, cool-down and return, failover, every replica down, the cache
key, suite checks, and a run that survives a `sim serve` process killed mid-run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tts_bench.errors import UserError
from tts_bench.llm import Client
from tts_bench.llm.backends.base import CallError, Reply
from tts_bench.llm.replicas import Replicas, cache_params, public_url
from tts_bench.llm.types import ModelSpec, Usage
from tts_bench.sim.spawn import spawn_sim_serve
from tts_bench.suite import Limits, Price, parse

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "user", "content": "What is 2 + 3? End with 'Final answer: <number>'."}]
URLS = ["http://a.test/v1", "http://b.test/v1", "http://c.test/v1"]


def spec(urls: list[str] | str, **params: object) -> ModelSpec:
    return ModelSpec("openai/fake", pool_request="separate", params={"api_base": urls, **params})


def client(**limits: object) -> Client:
    return Client(
        limits=Limits(**{"concurrency": 16, "retries": 3, **limits}),  # type: ignore[arg-type]
        pricing={"openai/fake": Price(input=1.0, output=1.0)},
        backoff_s=0.001,
    )


class FakeBackend:
    """Answers per replica: `dead` replicas raise connection_error; `gates[url]`, when set,
    holds that replica's calls until the event is set. `seen` lists each attempt's api_base."""

    def __init__(self, dead: tuple[str, ...] = (), hold: bool = False) -> None:
        self.dead = set(dead)
        self.seen: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.hold = hold

    async def call(self, spec: ModelSpec, messages: list, **kw: object) -> list[Reply]:
        url = spec.params["api_base"]
        assert isinstance(url, str)
        self.seen.append(url)
        if url in self.dead:
            raise CallError("connection_error", f"{url}: connection refused")
        if self.hold:
            await self.gates.setdefault(url, asyncio.Event()).wait()
        return [Reply("Final answer: 5", "stop", Usage(input_tokens=10, output_tokens=3))]

    async def aclose(self) -> None:
        return None


# -- the pure parts --------------------------------------------------------------------------


def test_public_url_drops_credentials_query_and_fragment():
    assert public_url("https://user:secret@h.example:8443/v1/?key=k#x") == (
        "https://h.example:8443/v1"
    )
    assert public_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"


def test_cache_params_key_a_list_as_its_first_entry():
    assert cache_params({"api_base": URLS, "top_p": 1}) == {"api_base": URLS[0], "top_p": 1}
    plain = {"api_base": URLS[0]}
    assert cache_params(plain) is plain


def test_fewest_outstanding_then_round_robin_on_ties():
    pool = Replicas()
    reps = [pool.get(u) for u in URLS]
    first = [pool.pick(reps).url for _ in range(3)]
    assert first == URLS  # ties go round the list
    pool.done(reps[1], "ok")  # b has 0 outstanding now, the others 1
    assert pool.pick(reps).url == URLS[1]
    pool.done(reps[0], "ok")
    pool.done(reps[2], "ok")  # a and c at 0, b at 1: the cursor (after b) comes to c first
    assert [pool.pick(reps).url for _ in range(2)] == [URLS[2], URLS[0]]
    assert [r.outstanding for r in reps] == [1, 1, 1]


def test_cool_down_grows_and_a_probe_brings_the_replica_back():
    now = [100.0]
    pool = Replicas(max_failures=2, cooldown_s=10.0, max_cooldown_s=25.0, clock=lambda: now[0])
    reps = [pool.get(u) for u in URLS[:2]]
    a, b = reps
    for _ in range(2):  # two consecutive failures take a out
        assert pool.pick(reps, avoid={b.url}) is a
        pool.done(a, "connection_error")
    assert not a.in_service and a.out_until == 110.0
    assert {pool.pick(reps).url for _ in range(4)} == {b.url}  # only b while a cools down
    for _ in range(4):
        pool.done(b, "ok")
    now[0] = 110.0  # cool-down over: the next call probes a, and only that one
    assert pool.pick(reps) is a and a.probing
    assert pool.pick(reps) is b
    pool.done(a, "timeout")  # the probe failed: out again, for twice as long
    assert a.out_until == 130.0
    now[0] = 130.0
    assert pool.pick(reps) is a
    pool.done(a, "timeout")
    assert a.out_until == 130.0 + 25.0  # 40 s capped at max_cooldown_s
    now[0] = 155.0
    assert pool.pick(reps) is a
    pool.done(a, "ok")  # the probe answered: back in service, back-off reset
    assert a.in_service and a.outs == 0 and a.failures == 0
    pool.done(b, "ok")
    assert [pool.pick(reps).url for _ in range(2)] == [a.url, b.url]


def test_an_answer_ends_a_run_of_failures():
    pool = Replicas(max_failures=2)
    a = pool.get(URLS[0])
    for status in ("server_error", "rate_limited", "server_error"):
        pool.pick([a])
        pool.done(a, status)
    assert a.in_service  # a 429 is an answer: the two 5xx were not consecutive
    pool.pick([a])
    pool.done(a, "server_error")
    assert not a.in_service


# -- through the client -----------------------------------------------------------------------


def test_client_spreads_calls_by_fewest_outstanding():
    async def go() -> None:
        c = client(adaptive=False)
        fake = FakeBackend(hold=True)
        c._backends["direct"] = fake
        s = spec(URLS)
        tasks = [asyncio.ensure_future(c.generate(s, MESSAGES, sample_index=i)) for i in range(6)]
        while len(fake.seen) < 6:
            await asyncio.sleep(0)
        assert Counter(fake.seen) == {u: 2 for u in URLS}
        fake.gates[URLS[1]].set()  # b's two calls finish: b now has the fewest outstanding
        while sum(1 for t in tasks if t.done()) < 2:
            await asyncio.sleep(0)
        more = [asyncio.ensure_future(c.generate(s, MESSAGES, sample_index=i)) for i in (6, 7)]
        while len(fake.seen) < 8:
            await asyncio.sleep(0)
        assert fake.seen[6:] == [URLS[1], URLS[1]]
        for g in fake.gates.values():
            g.set()
        done = await asyncio.gather(*tasks, *more)
        assert all(d.ok for d in done)
        assert Counter(d.endpoint for d in done) == {URLS[0]: 2, URLS[1]: 4, URLS[2]: 2}
        await c.aclose()

    asyncio.run(go())


def test_failover_skips_the_pause_and_a_dead_replica_is_taken_out(monkeypatch):
    async def go() -> None:
        c = client(retries=2)
        c.replicas = Replicas(max_failures=3, clock=lambda: 0.0)  # no cool-down ever ends
        fake = FakeBackend(dead=(URLS[0],))
        c._backends["direct"] = fake
        paused: list[int] = []
        monkeypatch.setattr(c, "_pause", lambda attempt, after: paused.append(attempt) or 0.0)
        s = spec(URLS)
        done = [await c.generate(s, MESSAGES, sample_index=i) for i in range(12)]
        assert all(d.ok for d in done)
        assert fake.seen.count(URLS[0]) == 3  # three failures, then a is out of service
        assert sum(d.retries for d in done) == 3  # each moved once to another replica
        assert paused == []  # a move to another replica waits for nothing
        assert {d.endpoint for d in done} == {URLS[1], URLS[2]}
        await c.aclose()

    asyncio.run(go())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_replica_down_fails_with_the_ordinary_label():
    async def go() -> None:
        c = client(retries=2, timeout_s=5)
        urls = [f"http://127.0.0.1:{_closed_port()}/v1" for _ in range(3)]
        done = await c.generate(spec(urls), MESSAGES)
        assert done.status == "connection_error" and done.retries == 2
        assert done.endpoint in urls
        await c.aclose()

    asyncio.run(go())


def test_the_cache_key_ignores_the_replica_that_served(tmp_path):
    async def go() -> None:
        c = Client(
            limits=Limits(concurrency=4),
            pricing={"openai/fake": Price(input=1.0, output=1.0)},
            cache_path=tmp_path / "cache.sqlite",
        )
        c._backends["direct"] = FakeBackend()
        first = await c.generate(spec(URLS), MESSAGES, sample_index=1)
        assert first.ok and first.endpoint in URLS
        again = await c.generate(spec(URLS), MESSAGES, sample_index=1)
        assert again.cache_hit and again.endpoint is None  # served by the cache
        for other in (URLS[0], [URLS[0], "http://d.test/v1"]):
            assert c.cached(spec(other), MESSAGES, sample_index=1) is not None
        assert c.cached(spec([URLS[1], URLS[0]]), MESSAGES, sample_index=1) is None
        await c.aclose()

    asyncio.run(go())


def test_both_transports_send_each_attempt_to_its_replica():
    from tts_bench.sim.server_thread import ServerThread

    async def go(urls: list[str], transport: str) -> list:
        c = Client(limits=Limits(concurrency=6, retries=1))
        s = ModelSpec(
            "openai/sim-small",
            pool_request="separate",
            params={"api_base": urls, "transport": transport},
        )
        try:
            return await asyncio.gather(
                *(c.generate(s, MESSAGES, sample_index=i) for i in range(9))
            )
        finally:
            await c.aclose()

    with ServerThread(time_scale=0) as a, ServerThread(time_scale=0) as b:
        servers = {a.url: a, b.url: b}
        for transport in ("direct", "litellm"):
            before = {u: len(s.log) for u, s in servers.items()}
            done = asyncio.run(go(list(servers), transport))
            assert all(d.ok for d in done), [d.error for d in done]
            counts = Counter(d.endpoint for d in done)
            assert counts == {u: len(s.log) - before[u] for u, s in servers.items()}
            assert all(counts[u] > 0 for u in servers), (transport, counts)


# -- the suite ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("config", [], "configs[a]: api_base: an empty list names no endpoint"),
        ("config", ["ftp://x"], "api_base[0]: 'ftp://x' is not an http:// or https:// URL"),
        ("config", [URLS[0], URLS[0]], "api_base[1]: the same URL is listed twice"),
        ("params", [3], "api_base[0]: 3 is not an http:// or https:// URL"),
        ("defaults", [], "defaults: api_base: an empty list names no endpoint"),
    ],
)
def test_suite_refuses_a_bad_replica_list(where, value, message):
    data = _suite_data([URLS[0]])
    if where == "config":
        data["configs"][0]["api_base"] = value
    elif where == "params":
        data["configs"][0]["params"] = {"api_base": value}
    else:
        data["defaults"]["api_base"] = value
    with pytest.raises(UserError) as info:
        parse(data, "s.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)


def _suite_data(urls: list[str], items: int = 5) -> dict:
    return {
        "name": "replicas",
        "dataset": {"source": "builtin:arithmetic", "params": {"size": items, "seed": 3}},
        "defaults": {"model": "openai/sim-small"},
        "limits": {"concurrency": 6, "retries": 4, "timeout_s": 20},
        "configs": [{"name": "a", "strategy": "single", "api_base": urls}],
    }


def test_a_replica_list_resolves_into_the_model_spec():
    from tts_bench.resolve import ResolvedSuite

    resolved = ResolvedSuite(parse(_suite_data(URLS)))
    assert resolved.specs["a"].params["api_base"] == URLS
    data = _suite_data(URLS)
    del data["configs"][0]["api_base"]
    data["defaults"]["api_base"] = URLS[1:]
    assert ResolvedSuite(parse(data)).specs["a"].params["api_base"] == URLS[1:]


# -- a run with one `sim serve` process killed mid-run ---------------------------------------


def _serve(time_scale: float) -> tuple[subprocess.Popen, str]:
    return spawn_sim_serve("--time-scale", str(time_scale))


def _served(calls_path: Path) -> Counter:
    if not calls_path.exists():
        return Counter()
    lines = calls_path.read_text().splitlines()
    out: Counter = Counter()
    for line in lines:
        try:
            call = json.loads(line)
        except ValueError:
            continue  # a line being written
        if call.get("status") == "ok" and call.get("endpoint"):
            out[call["endpoint"]] += 1
    return out


def test_a_run_survives_a_replica_killed_mid_run(tmp_path):
    import yaml

    servers = [_serve(0.02) for _ in range(3)]
    runner = None
    try:
        urls = [url for _, url in servers]
        victim_proc, victim = servers[2]
        items, concurrency = 180, 6
        suite = tmp_path / "suite.yaml"
        suite.write_text(yaml.safe_dump(_suite_data(urls, items)))
        runner = subprocess.Popen(
            [sys.executable, "-m", "tts_bench.cli", "run", str(suite), "-o", str(tmp_path),
             "--run-id", "r", "--no-report", "--quiet", "--no-cache"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        calls = tmp_path / "r" / "calls.jsonl"
        deadline = time.monotonic() + 120  # a guard against a hang, not a measurement
        while _served(calls)[victim] < 5:
            assert runner.poll() is None, "the run ended before the victim served 5 calls"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Freeze the run, kill the replica, count what it had served, let the run go on.
        os.kill(runner.pid, signal.SIGSTOP)
        victim_proc.kill()
        victim_proc.wait()
        before = _served(calls)[victim]
        os.kill(runner.pid, signal.SIGCONT)
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err

        records = [
            json.loads(x) for x in (tmp_path / "r" / "records.jsonl").read_text().splitlines()
        ]
        assert len(records) == items
        assert {r["status"] for r in records} == {"ok"}  # every item answered
        served = _served(calls)
        # Calls it answered before the kill whose pairs were not yet written: at most the
        # calls in flight; nothing after.
        assert served[victim] <= before + concurrency
        others = [served[u] for u in urls[:2]]
        assert sum(others) + served[victim] == items
        assert min(others) >= 0.25 * sum(others), served  # the survivors share the load
        # Failed attempts: those in flight at the kill, the few before it was taken out, and
        # a probe per cool-down (5 s, 10 s, ...). Without taking it out, about a third of the
        # remaining calls would try it first.
        lines = [json.loads(x) for x in calls.read_text().splitlines()]
        assert sum(c["retries"] for c in lines) <= concurrency + 3 + 5
        by_record = Counter()
        for r in records:
            assert sum(r["info"]["replicas"].values()) == 1
            by_record.update(r["info"]["replicas"])
        assert by_record == served
    finally:
        if runner is not None and runner.poll() is None:
            runner.kill()
            runner.wait()
        for proc, _ in servers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_other_replicas_replay_the_cache_and_resume_the_run(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from tts_bench.cli import app
    from tts_bench.sim.server_thread import ServerThread

    def run(urls: list[str], run_id: str) -> list[dict]:
        suite = tmp_path / f"{run_id}.yaml"
        suite.write_text(yaml.safe_dump(_suite_data(urls, items=4)))
        args = ["run", str(suite), "-o", str(tmp_path), "--run-id", run_id, "--no-report", "-q"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        lines = (tmp_path / run_id / "records.jsonl").read_text().splitlines()
        return [json.loads(x) for x in lines]

    with ServerThread(time_scale=0) as a, ServerThread(time_scale=0) as b:
        first = run([a.url, b.url], "first")
        assert all(r["cache_hits"] == 0 and r["info"]["replicas"] for r in first)
        sent = len(a.log) + len(b.log)
        # the first replica stays, the others change: every answer comes from the cache
        again = run([a.url, "http://127.0.0.1:9/v1"], "again")
        assert all(r["cache_hits"] == 1 and "replicas" not in r["info"] for r in again)
        answers = {r["item_id"]: r["answer"] for r in first}
        assert {r["item_id"]: r["answer"] for r in again} == answers
        run([a.url], "first")  # resuming with other replicas is allowed (nothing left to do)
        assert len(a.log) + len(b.log) == sent


def test_check_calls_each_replica_and_names_the_dead_one():
    from tts_bench.check import check_suite
    from tts_bench.sim.server_thread import ServerThread

    # (a URL with credentials is refused by the suite itself: test_secrets.py)
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    with ServerThread(time_scale=0) as a:
        data = _suite_data([a.url, dead])
        data["limits"]["retries"] = 0
        report = check_suite(parse(data))
        assert report.exit_code == 0 and len(a.log) == 1
        (line,) = report.lines
        assert line.ok and line.text.endswith(
            f"warning: replica {dead} endpoint unreachable (connection_error)"
        )
    data = _suite_data([dead, f"http://127.0.0.1:{_closed_port()}/v1"])
    data["limits"]["retries"] = 0
    report = check_suite(parse(data))
    assert report.exit_code == 2 and report.lines[0].status == "connection_error"


def test_the_cool_down_knobs_are_suite_limits() -> None:
    from pydantic import ValidationError

    c = client(replica_failures=5, replica_cooldown_s=2.0, replica_max_cooldown_s=60.0)
    assert (c.replicas.max_failures, c.replicas.cooldown_s, c.replicas.max_cooldown_s) == (
        5,
        2.0,
        60.0,
    )
    default = client()
    assert (default.replicas.max_failures, default.replicas.cooldown_s) == (3, 5.0)
    assert default.replicas.max_cooldown_s == 300.0
    with pytest.raises(ValidationError, match="at least replica_cooldown_s"):
        Limits(replica_cooldown_s=10.0, replica_max_cooldown_s=5.0)
    with pytest.raises(ValidationError):
        Limits(replica_failures=0)
