"""The judge scorer: its prompt (rubric and reference for the judge only), verdicts and votes,
judge failures (unscored, judged again on resume), the evaluation cost kept apart from the
serving cost in records, summary, report and plan, and the support suite through the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import tts_bench.sim as sim_pkg
from tests.conftest import ROOT, cli
from tts_bench.data.builtin import support
from tts_bench.errors import UserError
from tts_bench.llm.types import Completion, Usage
from tts_bench.runner import Runner
from tts_bench.scoring.judge import HEADER, Judge, judge_record
from tts_bench.sim.model import simulate as real_simulate
from tts_bench.sim.server_thread import ServerThread
from tts_bench.store import load_calls, load_records
from tts_bench.suite import ScorerSpec, parse

RUBRIC = "Pass if the reply makes every point the policy requires and promises nothing forbidden."
LIMITS = {"concurrency": 8, "timeout_s": 20, "retries": 1, "max_retry_wait_s": 0.01}


def suite_data(size: int = 12, configs: list[dict] | None = None, **scorer: Any) -> dict:
    return {
        "name": "judged",
        "dataset": {
            "source": "builtin:support",
            "params": {"size": size, "seed": 5},
            "fields": {
                "id": "id",
                "input": "question",
                "target": "answer",
                "strata": ["difficulty"],
            },
        },
        "prompt": {"template": "{question}"},
        "scorer": {
            "type": "judge",
            "model": "sim/judge",
            "rubric": RUBRIC,
            "reference": "answer",
            **scorer,
        },
        "limits": LIMITS,
        "configs": configs
        or [{"name": "single", "strategy": "single"}, {"name": "cot", "strategy": "cot"}],
    }


def run(tmp_path: Path, data: dict, **kw: Any) -> Any:
    kw.setdefault("cache_path", tmp_path / "cache.sqlite")
    return Runner(parse(data), out_dir=tmp_path / "runs", preflight=False, **kw).run()


def judge_of(**over: Any) -> Judge:
    return Judge(ScorerSpec(type="judge", model="sim/judge", rubric=RUBRIC, **over))


# ---- the prompt --------------------------------------------------------------------------
def test_rubric_and_reference_reach_the_judge_only(tmp_path: Path, monkeypatch) -> None:
    seen: list[str] = []

    def recording(model: str, messages: list[dict[str, str]], **kw: Any) -> Any:
        seen.append("\n".join(str(m["content"]) for m in messages))
        return real_simulate(model, messages, **kw)

    monkeypatch.setattr(sim_pkg, "simulate", recording, raising=False)
    res = run(tmp_path, suite_data(size=8), use_cache=False)
    assert res.status == "complete"
    refs = {r["target"] for r in res.records}
    judged = [t for t in seen if t.startswith(HEADER)]
    served = [t for t in seen if not t.startswith(HEADER)]
    assert len(judged) == len(res.records) == 16 and len(served) == 16
    for text in judged:
        assert RUBRIC in text and "### Reference" in text
        assert any(ref in text for ref in refs)
    for text in served:
        assert RUBRIC not in text and "### Reference" not in text
        assert not any(ref in text for ref in refs)  # the reference reply is never shown


def test_prompt_without_reference_has_no_reference_section() -> None:
    j = judge_of()
    text = j.prompt("Q?", "my answer", None)[0]["content"]
    assert text.startswith(HEADER) and "### Reference" not in text
    assert "### Answer\nmy answer" in text and RUBRIC in text
    assert "### Reference\nthe ref" in j.prompt("Q?", "a", "the ref")[0]["content"]


# ---- verdicts and votes ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("over", "text", "label"),
    [
        ({}, "Fine.\nVerdict: pass", "pass"),
        ({}, "Verdict: PASS.", "pass"),
        ({}, "verdict - fail", "fail"),
        ({}, "Verdict: pass\nOn reflection... Verdict: fail", "fail"),  # the last one
        ({}, "I think it passes.", None),
        ({}, "Verdict: maybe", None),
        ({"scale": "1-5"}, "Verdict: 4/5", "4"),
        ({"scale": "1-5"}, "Verdict: **2**", "2"),
        ({"scale": "1-5"}, "Verdict: 7", None),
        ({"scale": ["good", "ok", "bad"]}, "Verdict: OK", "ok"),
        ({"scale": ["good", "ok", "bad"]}, "Verdict: great", None),
    ],
)
def test_parse(over: dict, text: str, label: str | None) -> None:
    assert judge_of(**over).parse(text) == label


def test_votes() -> None:
    pf = judge_of(judges=3, temperature=0.7)
    assert pf.vote(["pass", "fail", "pass"]) == ("pass", True, pytest.approx(2 / 3))
    assert pf.vote(["fail", "fail", "pass"]) == ("fail", False, pytest.approx(1 / 3))
    five = judge_of(scale="1-5", pass_at=4, judges=3, temperature=0.7)
    label, ok, score = five.vote(["2", "4", "5"])
    assert (label, ok) == ("4", True) and score == pytest.approx((1 + 3 + 4) / 12)
    assert five.vote(["1", "1", "5"])[:2] == ("1", False)  # the majority when there is one
    labels = judge_of(scale=["good", "ok", "bad"], pass_labels=["good"], judges=3, temperature=1)
    assert labels.vote(["good", "ok", "bad"])[:2] == ("ok", False)  # a tie never passes
    assert labels.vote(["good", "good", "bad"]) == ("good", True, pytest.approx(2 / 3))


@pytest.mark.parametrize(
    ("scorer", "message"),
    [
        ({"rubric": None}, "needs a `rubric`"),
        ({"judges": 2, "temperature": 0.7}, "must be odd"),
        ({"judges": 3, "temperature": 0}, "temperature 0"),
        ({"model": ["sim/judge", "sim/large"]}, "odd number"),
        ({"scale": ["good", "bad"], "pass_labels": ["fine"]}, "pass_labels: 'fine'"),
        ({"pass_at": 3}, 'pass_at applies to scale: "1-5"'),
        ({"scale": ["only"]}, "at least two"),
    ],
)
def test_bad_judge_settings_are_one_line(scorer: dict, message: str) -> None:
    with pytest.raises(UserError) as err:
        parse(suite_data(**scorer))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_judge_keys_belong_to_the_judge_scorer() -> None:
    data = suite_data()
    data["scorer"] = {"type": "exact", "rubric": "x"}
    with pytest.raises(UserError, match="rubric applies to `type: judge` only"):
        parse(data)


# ---- runs --------------------------------------------------------------------------------
def test_three_judges_vote(tmp_path: Path) -> None:
    res = run(tmp_path, suite_data(judges=3, temperature=0.7))
    assert res.status == "complete"
    calls = [c for c in load_calls(res.run_dir) if c["role"] == "eval_judge"]
    assert {c["sample_index"] for c in calls} == {0, 1, 2}
    disagree = 0
    for r in res.records:
        j = r["info"]["judge"]
        assert j["judges"] == 3 and len(j["votes"]) == 3 and r["eval_calls"] == 3
        passes = j["votes"].count("pass")
        assert r["correct"] is (passes >= 2) and j["label"] == ("pass" if passes >= 2 else "fail")
        assert r["score"] == pytest.approx(passes / 3)
        disagree += len(set(j["votes"])) > 1
    # the scorer's own checks above would hold with identical votes too: see them differ
    assert 0 < disagree < len(res.records)


@pytest.mark.parametrize(
    ("scorer", "allowed"),
    [
        ({"scale": "1-5", "pass_at": 4}, set("12345")),
        ({"scale": ["good", "poor"]}, {"good", "poor"}),
    ],
)
def test_other_scales(tmp_path: Path, scorer: dict, allowed: set[str]) -> None:
    res = run(tmp_path, suite_data(**scorer))
    labels = {r["info"]["judge"]["label"] for r in res.records}
    assert labels <= allowed and len(labels) >= 2
    for r in res.records:
        label = r["info"]["judge"]["label"]
        assert r["correct"] is (int(label) >= 4 if "1" in allowed else label == "good")


def test_judge_failure_is_unscored_and_resume_judges_again(tmp_path: Path) -> None:
    data = suite_data(size=6, configs=[{"name": "single", "strategy": "single"}])
    data["pricing"] = {"openai/sim-judge": {"input": 0.4, "output": 1.6}}
    with ServerThread(time_scale=0.0, faults={"500": 1.0}) as bad:
        port = bad.port
        data["scorer"].update(model="openai/sim-judge", api_base=bad.url)
        first = run(tmp_path, data, run_id="r")
    assert {r["status"] for r in first.records} == {"judge_error"}
    for r in first.records:
        assert r["correct"] is None and r["score"] is None and r["failure"] == "judge_error"
        assert r["answer"] and r["output"] and r["cost_usd"] is not None  # the answer stays
        assert r["info"]["judge"]["error"] == "server_error"
    assert first.status == "failed"
    with ServerThread(port=port, time_scale=0.0) as good:
        second = run(tmp_path, data, run_id="r")
        assert len(good.log) == 6  # the judge calls only: the answers replayed from the cache
    assert second.status == "complete"
    assert {r["status"] for r in second.records} == {"ok"}
    assert all(isinstance(r["correct"], bool) for r in second.records)
    assert [r["output"] for r in second.records] == [r["output"] for r in first.records]


def test_resume_does_not_pay_the_judge_again(tmp_path: Path) -> None:
    first = run(tmp_path, suite_data(size=8), run_id="r")
    records = (first.run_dir / "records.jsonl").read_text().splitlines()
    (first.run_dir / "records.jsonl").write_text("\n".join(records[:5]) + "\n")  # a crash
    manifest = json.loads((first.run_dir / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (first.run_dir / "manifest.json").write_text(json.dumps(manifest))
    second = run(tmp_path, suite_data(size=8), run_id="r")
    assert second.status == "complete" and len(second.records) == 16
    session = json.loads((second.run_dir / "manifest.json").read_text())["sessions"][-1]
    assert session["live_calls"] == 0 and session["cache_hits"] > 0
    redone = {(r["item_id"], r["config"]) for r in second.records[5:]}
    judge_calls = [c for c in load_calls(second.run_dir) if c["role"] == "eval_judge"]
    again = [c for c in judge_calls if (c["item_id"], c["config"]) in redone]
    assert len(again) == 11 and all(c["cache_hit"] for c in again)
    by_pair = {(r["item_id"], r["config"]): r for r in first.records}
    for r in second.records:  # the same verdicts, read back from the cache
        assert r["correct"] == by_pair[(r["item_id"], r["config"])]["correct"]


def test_evaluation_cost_kept_apart(tmp_path: Path) -> None:
    res = run(tmp_path, suite_data(size=10))
    calls = load_calls(res.run_dir)
    for r in res.records:
        mine = [c for c in calls if (c["item_id"], c["config"]) == (r["item_id"], r["config"])]
        serving = [c for c in mine if c["role"] != "eval_judge"]
        judge = [c for c in mine if c["role"] == "eval_judge"]
        assert r["n_calls"] == len(serving) and r["eval_calls"] == len(judge) == 1
        assert r["cost_usd"] == pytest.approx(math.fsum(c["cost_usd"] for c in serving))
        assert r["eval_cost_usd"] == pytest.approx(math.fsum(c["cost_usd"] for c in judge))
        assert r["eval_input_tokens"] == sum(c["input_tokens"] for c in judge)
        assert judge[0]["model"] == "sim/judge" and serving[0]["model"] == "sim/small"
    from tts_bench.analysis.summary import write

    summary = json.loads(write(res.run_dir, resamples=200).read_text())
    serving_total = math.fsum(r["cost_usd"] for r in res.records)
    eval_total = math.fsum(r["eval_cost_usd"] for r in res.records)
    assert summary["meta"]["total_spend_usd"] == pytest.approx(serving_total)
    assert summary["meta"]["total_eval_cost_usd"] == pytest.approx(eval_total)
    for c in summary["configs"]:
        recs = [r for r in res.records if r["config"] == c["config"]]
        ev = c["eval_cost"]
        assert ev["eval_cost_usd"] == pytest.approx(math.fsum(r["eval_cost_usd"] for r in recs))
        assert ev["eval_cost_per_request"] == pytest.approx(ev["eval_cost_usd"] / len(recs))
        assert ev["eval_calls"] == len(recs) and ev["judge_errors"] == 0
    # a manifest's spend paid both; the run's records read back with their eval fields
    assert res.spent_usd == pytest.approx(serving_total + eval_total)
    assert load_records(res.run_dir) == res.records


def test_store_checks_the_eval_fields(tmp_path: Path) -> None:
    res = run(tmp_path, suite_data(size=4, configs=[{"name": "single", "strategy": "single"}]))
    path = res.run_dir / "records.jsonl"
    rec = json.loads(path.read_text().splitlines()[0])
    path.write_text(json.dumps({**rec, "eval_cost_usd": -1.0}) + "\n")
    with pytest.raises(UserError, match="eval_cost_usd"):
        load_records(res.run_dir)
    path.write_text(json.dumps({**rec, "eval_calls": 1.5}) + "\n")
    with pytest.raises(UserError, match="eval_calls"):
        load_records(res.run_dir)


async def _grade_with(status: str, text: str = "Verdict: pass") -> dict:
    class Client:
        async def generate(self, spec: Any, messages: Any, *, sample_index: int = 0) -> Completion:
            return Completion(
                text, "stop", Usage(10, 5), 0.001, 0.1, status=status, model=spec.model
            )

    data = parse(suite_data(size=1))
    row = support.generate(1, seed=5)[0]

    class Loaded:
        id, inputs, target = (
            row["id"],
            {k: v for k, v in row.items() if k != "answer"},
            row["answer"],
        )

    record = {
        "status": "ok",
        "answer": "Hello.",
        "output": "Hello.",
        "config": "single",
        "info": {},
    }
    calls = await judge_record(record, suite=data, loaded=Loaded, question="Q", client=Client())
    record["n_judge_calls"] = len(calls)
    return record


def test_judge_record_outcomes() -> None:
    import asyncio

    ok = asyncio.run(_grade_with("ok"))
    assert ok["correct"] is True and ok["failure"] is None and ok["eval_cost_usd"] == 0.001
    down = asyncio.run(_grade_with("rate_limited"))
    assert down["status"] == "judge_error" and down["correct"] is None
    assert down["info"]["judge"]["error"] == "rate_limited"
    garbled = asyncio.run(_grade_with("ok", "no verdict here"))
    assert garbled["status"] == "judge_error" and garbled["info"]["judge"]["error"] == "malformed"
    assert garbled["n_judge_calls"] == 3 and garbled["eval_calls"] == 3  # asked again twice


# ---- the CLI -----------------------------------------------------------------------------
def test_support_suite_end_to_end(tmp_path: Path) -> None:
    out = cli("run", str(ROOT / "suites" / "support.yaml"), "--out", str(tmp_path), "--limit", "24")
    assert out.returncode == 0, out.stderr
    run_dir = next(p for p in tmp_path.iterdir() if p.name.startswith("support-"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["meta"]["total_eval_cost_usd"] > 0
    assert all(c["eval_cost"]["eval_calls"] == 24 for c in summary["configs"])
    assert "evaluation cost $" in (run_dir / "summary.md").read_text()
    assert 'id="fact-eval-cost"' in (run_dir / "report.html").read_text()
    plan = cli("plan", str(ROOT / "suites" / "support.yaml"))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("judge: 1 calls per item, evaluation cost $") == 3


def test_a_judged_suite_needs_no_target(tmp_path: Path) -> None:
    data = suite_data(size=6, configs=[{"name": "single", "strategy": "single"}])
    data["dataset"]["fields"]["target"] = None
    del data["scorer"]["reference"]
    res = run(tmp_path, data)
    assert res.status == "complete"
    assert all(r["target"] is None and isinstance(r["correct"], bool) for r in res.records)
    data["scorer"] = {"type": "exact"}
    with pytest.raises(UserError, match="target: null only with scorer type judge"):
        parse(data)


def test_an_unset_judge_key_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TTS_NO_SUCH_JUDGE_KEY", raising=False)
    data = suite_data(size=2, configs=[{"name": "single", "strategy": "single"}])
    data["scorer"].update(model="openai/judge-x", api_key_env="TTS_NO_SUCH_JUDGE_KEY")
    with pytest.raises(UserError, match="scorer.api_key_env: TTS_NO_SUCH_JUDGE_KEY is not set"):
        run(tmp_path, data)


def test_plan_prices_the_judge_apart() -> None:
    from tts_bench.plan import plan_suite

    judged = plan_suite(parse(suite_data(size=20, judges=3, temperature=0.7)))
    for c in judged.configs:
        assert c.eval_calls == 60 and c.eval_cost_usd > 0  # three judges per item
        assert any(n.startswith("judge: 3 calls per item") for n in c.notes)
    assert judged.total_eval_cost_usd == pytest.approx(sum(c.eval_cost_usd for c in judged.configs))
    # the serving estimate is the same as without a judge
    plain = suite_data(size=20)
    plain["scorer"] = {"type": "exact"}
    unjudged = plan_suite(parse(plain))
    assert unjudged.total_eval_cost_usd == 0.0
    assert [c.cost_usd for c in unjudged.configs] == [c.cost_usd for c in judged.configs]


def test_a_mistyped_reference_field_fails_before_any_call(tmp_path: Path) -> None:
    data = suite_data(reference="answr")
    with pytest.raises(UserError, match=r"scorer.reference: item .* has no field 'answr'"):
        run(tmp_path, data)
    assert not (tmp_path / "runs").exists()  # refused before the run directory was made
