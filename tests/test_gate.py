"""The CI gate: rule loading, point/CI judgement, verdicts from a simulator run, the paired
two-run comparison (checked against scipy), JUnit/Markdown output and the CLI's exit codes."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli, demo_suite
from tts_bench import runner
from tts_bench.errors import UserError
from tts_bench.gate import (
    evaluate,
    exit_code,
    figure,
    load_rules,
    paired_bootstrap,
    row,
    run_rules,
    to_junit,
    to_markdown,
)
from tts_bench.gate_rules import bound_text, judge, parse_rules, rule_text
from tts_bench.suite import GateRule, parse


def _suite(model: str, size: int = 40, sample_seed: int = 0) -> dict:
    data = demo_suite()
    data["dataset"]["sample"].update(size=size, seed=sample_seed)
    data["defaults"]["model"] = model
    data["configs"] = [
        {"name": "single", "strategy": "single"},
        {"name": "cot", "strategy": "cot"},
    ]
    data["analysis"] = {"resamples": 2000}
    data["gates"] = [{"config": "cot", "metric": "accuracy_delta", "min": 0.0, "on": "ci"}]
    return data


def _run(out: Path, run_id: str, data: dict) -> Path:
    suite = parse(data, "suite", Path(__file__).resolve().parents[1] / "suites")
    return runner.run(suite, out_dir=out, run_id=run_id, use_cache=False).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("gate-runs")
    return {
        "small": _run(out, "small", _suite("sim/small")),
        "large": _run(out, "large", _suite("sim/large")),
        "other_items": _run(out, "other", _suite("sim/small", size=40, sample_seed=99)),
    }


# -- judgement --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "value", "ci", "passed"),
    [
        ({"min": 0.0}, 0.01, (-0.03, 0.05), True),  # CI crosses the bound: no regression shown
        ({"min": 0.0}, -0.04, (-0.07, -0.01), False),  # whole CI below: a real regression
        ({"min": 0.0, "strict": True}, 0.01, (-0.03, 0.05), False),  # strict: CI must exclude it
        ({"min": 0.0, "strict": True}, 0.04, (0.01, 0.07), True),
        ({"max": 1.5}, 1.6, (1.45, 1.7), True),
        ({"max": 1.5}, 1.8, (1.6, 2.0), False),
        ({"max": 1.5, "on": "point"}, 1.6, (1.45, 1.7), False),
        ({"min": 0.0}, 0.02, None, True),  # no CI: judged on the point
        ({"min": 0.0}, None, None, False),  # no value never passes
    ],
)
def test_judge_point_ci_and_strict(rule, value, ci, passed):
    r = GateRule(metric="cost_ratio" if "max" in rule else "accuracy_delta", **rule)
    assert judge(r, value, ci)[0] is passed


def test_default_on_is_ci_for_deltas_and_point_for_absolute_figures():
    assert judge(GateRule(metric="accuracy_delta", min=0.0), 0.01, (-0.02, 0.04))[1] == "ci"
    assert judge(GateRule(metric="accuracy", min=0.8), 0.79, (0.7, 0.85)) == (
        False,
        "point",
        "79.0% < 80.0%",
    )


@pytest.mark.parametrize(
    ("rule", "bound"),
    [
        ({"metric": "accuracy_delta", "min": -0.02}, ">= -2.0 pts"),
        ({"metric": "accuracy_delta", "min": -0.025}, ">= -2.5 pts"),
        ({"metric": "accuracy", "min": 0.8}, ">= 80.0%"),
        ({"metric": "failure_rate[format_violation]", "max": 0.01}, "<= 1.0%"),
        ({"metric": "unscored_rate", "max": 0.0005}, "<= 0.05%"),  # no digit rounded away
        ({"metric": "cost_per_request", "max": 0.004}, "<= $0.004"),
        ({"metric": "cost_ratio", "max": 1.5}, "<= 1.5×"),
        ({"metric": "p95_latency_s", "max": 8}, "<= 8 s"),
    ],
)
def test_bounds_are_shown_in_the_unit_of_the_value(rule, bound):
    r = GateRule(**rule)
    assert bound_text(r) == bound
    # the rule's name keeps the bound as the user wrote it
    raw = f">= {r.min:g}" if r.min is not None else f"<= {r.max:g}"
    assert rule_text(r, "x").startswith(f"x: {r.metric} {raw} (on ")


def test_ci_notes_use_the_unit_of_the_value():
    r = GateRule(metric="accuracy_delta", min=-0.02)
    assert judge(r, -0.05, (-0.08, -0.03)) == (False, "ci", "whole CI below -2.0 pts")
    strict = GateRule(metric="accuracy_delta", min=-0.02, strict=True)
    assert judge(strict, 0.0, (-0.031, 0.03))[2] == "CI lower bound -3.1 pts < -2.0 pts (strict)"


def test_latency_note_names_only_the_gated_quantile():
    entry = {
        "n_items": 40,
        "latency": {
            "p50": {"value": 0.4, "ci": [0.35, 0.45]},
            "p95": {"value": 0.9, "ci": [0.8, 1.1]},
            "p99": {"value": 1.2, "ci": [1.0, None]},
            "note": "too few items for a finite P99 bound at 95%",
        },
    }
    assert figure(entry, "p95_latency_s", 0.95) == (0.9, (0.8, 1.1), "")
    value, ci, note = figure(entry, "p99_latency_s", 0.95)
    assert value == 1.2 and ci is None and note == "too few items for a finite P99 bound at 95%"


# -- rules --------------------------------------------------------------------------------------
def test_rules_file_replaces_suite_rules_and_reads_on_as_a_key(tmp_path):
    f = tmp_path / "gates.yaml"
    f.write_text(
        "gates:\n  - {config: cot, metric: accuracy_delta, min: -0.02, on: ci, strict: true}\n"
        "  - {metric: 'failure_rate[format_violation]', max: 0.01}\n"
    )
    rules = load_rules([GateRule(metric="accuracy", min=0.5)], f)
    assert [r.metric for r in rules] == ["accuracy_delta", "failure_rate[format_violation]"]
    assert rules[0].on == "ci" and rules[0].strict
    assert load_rules([GateRule(metric="accuracy", min=0.5)], None)[0].metric == "accuracy"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- {metric: accuracy_gain, min: 0}", "unknown gate metric 'accuracy_gain'"),
        ("- {metric: accuracy}", "needs `min` or `max`"),
        ("- {metric: accuracy_delta, min: -2}", "fractions"),
        ("- {metric: accuracy, min: 0.8, when: always}", "unknown key"),
        ("- {metric: accuracy, min: 0.9, max: 0.8}", "above max"),
        ("gates: 3", "expected a list"),
        ("- [unclosed", "not a readable YAML"),
    ],
)
def test_bad_rules_are_one_line_user_errors(tmp_path, text, fragment):
    f = tmp_path / "gates.yaml"
    f.write_text(text + "\n")
    with pytest.raises(UserError) as exc:
        load_rules(None, f)
    assert (
        fragment in str(exc.value) and "\n" not in str(exc.value) and "gates.yaml" in str(exc.value)
    )


def test_no_rules_at_all_is_an_error():
    with pytest.raises(UserError, match="no gate rules"):
        load_rules([], None)


# -- the paired bootstrap of two runs ------------------------------------------------------------
def test_paired_bootstrap_matches_scipy():
    from scipy.stats import bootstrap

    rng = np.random.default_rng(3)
    a = (rng.random(150) < 0.7).astype(float)
    b = np.where(rng.random(150) < 0.8, a, 1 - a)
    point, (lo, hi) = paired_bootstrap(a, b, resamples=10_000, seed=1)
    ref = bootstrap(
        (a, b),
        lambda x, y: np.mean(x - y),
        paired=True,
        vectorized=False,
        n_resamples=10_000,
        method="percentile",
        random_state=2,
    )
    assert point == pytest.approx(float(np.mean(a - b)))
    # Monte-Carlo error of a 2.5% quantile at 10,000 resamples is well under 0.01 here
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.01)


def test_paired_bootstrap_ratio_of_means():
    a, b = np.array([2.0, 4.0, 6.0, 8.0] * 10), np.array([1.0, 2.0, 3.0, 4.0] * 10)
    point, ci = paired_bootstrap(a, b, ratio=True, resamples=500)
    assert point == pytest.approx(2.0) and ci == pytest.approx((2.0, 2.0))


# -- verdicts on simulator runs ---------------------------------------------------------------------
def test_suite_gate_passes_on_cot_and_star_skips_the_baseline(runs):
    rd = runs["small"]
    v = evaluate(rd, rules=load_rules(run_rules(rd), None))
    assert [x.config for x in v] == ["cot"] and v[0].passed and v[0].on == "ci"
    from tts_bench.analysis import summarize

    cot = next(c for c in summarize(rd)["configs"] if c["config"] == "cot")
    # the figure is the analysis' own paired delta, read in fractions
    assert v[0].value == pytest.approx(cot["delta"]["accuracy_points"]["value"] / 100)
    star = evaluate(
        rd, rules=parse_rules([{"config": "*", "metric": "accuracy_delta", "min": 0}], "x")
    )
    assert [x.config for x in star] == ["cot"]
    both = evaluate(
        rd, rules=parse_rules([{"config": "*", "metric": "accuracy", "min": 0.99}], "x")
    )
    assert [x.config for x in both] == ["single", "cot"] and exit_code(both) == 1


def test_figures_match_the_records(runs):
    rd = runs["small"]
    recs = [json.loads(line) for line in (rd / "records.jsonl").read_text().splitlines()]
    single = [r for r in recs if r["config"] == "single"]
    rules = parse_rules(
        [
            {"config": "single", "metric": "accuracy", "min": 0.0},
            {"config": "single", "metric": "cost_per_request", "max": 1.0},
            {"config": "single", "metric": "failure_rate[wrong_answer]", "max": 1.0},
            {"config": "single", "metric": "unscored_rate", "max": 0.0},
        ],
        "x",
    )
    acc, cost, wrong, unscored = evaluate(rd, rules=rules)
    assert acc.value == pytest.approx(np.mean([r["correct"] for r in single]))
    assert cost.value == pytest.approx(np.mean([r["cost_usd"] for r in single]))
    assert wrong.value == pytest.approx(np.mean([r["failure"] == "wrong_answer" for r in single]))
    assert unscored.value == 0.0 and unscored.passed and acc.ci[0] <= acc.value <= acc.ci[1]


def test_against_a_stronger_run_fails_and_against_a_weaker_run_passes(runs):
    rules = parse_rules([{"config": "*", "metric": "accuracy_delta", "min": -0.02}], "x")
    worse = evaluate(runs["small"], rules=rules, against=runs["large"])
    assert [x.config for x in worse] == ["single", "cot"]  # vs the same config: baseline included
    assert exit_code(worse) == 1 and worse[0].ci[1] < -0.02
    better = evaluate(runs["large"], rules=rules, against=runs["small"])
    assert exit_code(better) == 0
    same = evaluate(
        runs["small"],
        rules=parse_rules([{"metric": "cost_ratio", "max": 1.0}], "x"),
        against=runs["small"],
    )
    assert all(x.value == pytest.approx(1.0) and x.passed for x in same)


def test_mismatched_items_warn_or_refuse(runs, tmp_path):
    rules = parse_rules([{"config": "single", "metric": "accuracy_delta", "min": -1}], "x")
    with pytest.raises(UserError, match="need at least half"):
        evaluate(runs["small"], rules=rules, against=runs["other_items"])
    # drop a quarter of the records of the other run: compared on the shared items, with a note
    cut = tmp_path / "cut"
    shutil.copytree(runs["large"], cut)
    lines = (cut / "records.jsonl").read_text().splitlines()
    (cut / "records.jsonl").write_text("\n".join(lines[: 3 * len(lines) // 4]) + "\n")
    (v,) = evaluate(runs["small"], rules=rules, against=cut)
    assert "items in only one run" in v.note


def test_incomplete_or_missing_run_is_a_user_error(runs, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(runs["small"], part)
    man = json.loads((part / "manifest.json").read_text())
    (part / "manifest.json").write_text(json.dumps({**man, "status": "interrupted"}))
    rules = run_rules(part)
    with pytest.raises(UserError, match="--allow-partial"):
        evaluate(part, rules=rules)
    assert evaluate(part, rules=rules, allow_partial=True)
    with pytest.raises(UserError, match="not found"):
        evaluate(tmp_path / "nope", rules=rules)
    with pytest.raises(UserError, match="not in the run"):
        evaluate(
            runs["small"],
            rules=parse_rules([{"config": "sc", "metric": "accuracy", "min": 0}], "x"),
        )


def test_junit_and_markdown(runs):
    rules = parse_rules(
        [
            {"config": "*", "metric": "accuracy", "min": 0.99},
            {"config": "cot", "metric": "p95_latency_s", "max": 100},
        ],
        "x",
    )
    v = evaluate(runs["small"], rules=rules)
    root = ET.fromstring(to_junit(v, "demo"))
    cases = root.findall(".//testcase")
    assert len(cases) == 3 and len(root.findall(".//failure")) == 2
    assert root.find("testsuite").get("failures") == "2"
    md = to_markdown(v)
    assert md.startswith("### tts-bench gate: FAIL (1/3 rules passed)") and md.count("❌ FAIL") == 2
    assert "| >= 99.0% |" in md and "| <= 100 s |" in md


def test_bracketed_labels_survive_the_rich_table(runs, tmp_path):
    (v,) = evaluate(
        runs["small"],
        rules=parse_rules(
            [{"config": "cot", "metric": "failure_rate[format_violation]", "max": 0.01}], "x"
        ),
    )
    assert v.rule == "cot: failure_rate[format_violation] <= 0.01 (on point)"
    assert "[format_violation]" in to_markdown([v]) and "\\[" not in to_markdown([v])
    assert row(v, markup=False)["rule"] == v.rule
    from rich.console import Console
    from rich.table import Table

    t = Table()
    t.add_column("rule")
    t.add_row(row(v)["rule"])
    console = Console(width=200, record=True)
    console.print(t)
    assert "failure_rate[format_violation] <= 0.01" in console.export_text()


# -- the CLI -------------------------------------------------------------------------------------------
def test_cli_exit_codes(runs, tmp_path):
    ok = cli(
        "gate",
        str(runs["large"]),
        "--against",
        str(runs["small"]),
        "--junit",
        str(tmp_path / "g.xml"),
    )
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert ET.parse(tmp_path / "g.xml").getroot().find("testsuite") is not None
    rules = tmp_path / "gates.yaml"
    rules.write_text("- {config: '*', metric: accuracy_delta, min: -0.02}\n")
    summary = tmp_path / "step-summary.md"
    bad = cli(
        "gate",
        str(runs["small"]),
        "--against",
        str(runs["large"]),
        "--rules",
        str(rules),
        "--markdown",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert bad.returncode == 1, bad.stderr + bad.stdout
    assert "tts-bench gate: FAIL" in summary.read_text()
    usage = cli("gate", str(tmp_path / "missing-run"))
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    assert len(usage.stderr.strip().splitlines()) == 1
