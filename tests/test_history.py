"""`tts-bench history` and `gate --history`: a simulated week (scripts/history_demo.py on a
tiny scale) whose price hike, slow endpoint and format-breaking model version are each
flagged on their day and nowhere else; the drift checks at their bounds; the page escaped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_runs_cli import run_cli
from tts_bench.errors import UserError
from tts_bench.gate_history import DriftLimits, drift, reference_run
from tts_bench.history import History, Point, collect
from tts_bench.history_html import render


def _demo():
    import importlib.util

    spec = importlib.util.spec_from_file_location("history_demo", ROOT / "scripts/history_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("history") / "results"
    _demo().make_history(out, days=6, size=30, configs=["single"], resamples=200)
    return out


def test_the_week_flags_each_drift_on_its_day(week):
    h = collect(week, "history-demo")
    assert [r["id"] for r in h.runs] == [f"day-{i}" for i in range(1, 7)]
    points = h.configs["single"]
    alerts = {(p.run_id, d.metric) for p in points for d in p.alerts}
    assert alerts == {
        ("day-4", "cost_per_request"),
        ("day-5", "p95_latency_s"),
        ("day-6", "failure_rate[format_violation]"),
    }
    assert [p.model for p in points][-2:] == ["sim/prod-0601", "sim/prod-0615"]
    assert points[0].drift == []  # the first run has nothing to drift from
    assert h.runs[0]["started"].startswith("2026-06-01T06:00")


def test_history_cli_writes_a_page_and_prints_a_table(week, tmp_path, capsys):
    out = tmp_path / "h.html"
    r = run_cli(capsys, "history", str(week), "--suite", "history-demo", "-o", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert page.count("<svg") == 5 and "day-6" in page and "sim/prod-0615 (new)" in page
    assert "day-4: cost_per_request" in r.stdout
    bad = run_cli(capsys, "history", str(week), "--suite", "nope", "-o", str(out))
    assert bad.returncode == 2 and "suites there: history-demo" in bad.stderr


def test_gate_history_fails_on_drift_and_passes_a_first_run(week, capsys):
    r = run_cli(capsys, "gate", str(week / "day-6"), "--history", str(week), "--markdown")
    assert r.returncode == 1, r.stderr
    fails = [line for line in r.stdout.splitlines() if line.startswith("| ❌")]
    assert len(fails) == 1 and "format_violation" in fails[0] and "day-5" in fails[0]
    first = run_cli(capsys, "gate", str(week / "day-1"), "--history", str(week))
    assert first.returncode == 0 and "nothing to compare" in first.stdout
    missing = run_cli(capsys, "gate", str(week / "day-1"), "--history", str(week / "nope"))
    assert missing.returncode == 2 and "results directory not found" in missing.stderr


def test_reference_is_the_latest_earlier_complete_run_of_the_suite(week, tmp_path):
    root = tmp_path / "r"
    shutil.copytree(week, root)
    assert reference_run(root, root / "day-5") == root / "day-4"
    # an interrupted run and another suite's run in between are not references
    for name, change in (("stopped", {"status": "interrupted"}), ("other", {"suite": "x"})):
        shutil.copytree(root / "day-4", root / name)
        m = json.loads((root / name / "manifest.json").read_text())
        m["started_at"] = "2026-06-04T12:00:00+00:00"
        if "status" in change:
            m["status"] = change["status"]
        else:
            m["suite"]["name"] = change["suite"]
        (root / name / "manifest.json").write_text(json.dumps(m))
    assert reference_run(root, root / "day-5") == root / "day-4"
    assert reference_run(root, root / "day-1") is None
    # the newest run's reference is the one before it, never itself
    assert reference_run(root, root / "day-6") == root / "day-5"


def _entry(cost=0.001, p95=1.0, fv=0, refusal=0, n=100):
    return {
        "config": "c",
        "n_items": n,
        "cost": {"mean_usd": cost, "n_unknown": 0},
        "latency": {"p95": {"value": p95, "ci": [None, None]}},
        "failures": {"counts": {"format_violation": fv, "refusal": refusal}},
    }


@pytest.mark.parametrize(
    ("cand", "failed"),
    [
        (_entry(cost=0.00149), set()),
        (_entry(cost=0.00151), {"cost_per_request"}),
        (_entry(p95=1.19), set()),
        (_entry(p95=1.21), {"p95_latency_s"}),
        (_entry(fv=10), {"failure_rate[format_violation]"}),
        (_entry(fv=4), set()),  # 4/100 vs 1/100: p = 0.18, not a shown rise
        (_entry(refusal=9), {"failure_rate[refusal]"}),
        (_entry(cost=None), {"cost_per_request"}),  # no figure never passes
    ],
)
def test_drift_bounds(cand, failed):
    checks = drift(cand, _entry(fv=1, refusal=1))
    assert {d.metric for d in checks if not d.passed} == failed


@pytest.mark.parametrize(("lower", "passed"), [(1.1, True), (1.3, False)])
def test_p95_is_judged_on_its_interval_when_it_has_one(lower, passed):
    cand = _entry(p95=1.5)
    cand["latency"]["p95"]["ci"] = [lower, None]  # too few items for an upper bound
    (check,) = [d for d in drift(cand, _entry()) if d.metric == "p95_latency_s"]
    assert (check.passed, check.on) == (passed, "ci")


def test_drift_with_no_reference_figure_passes_with_a_note():
    checks = drift(_entry(), _entry(cost=None, n=0), limits=DriftLimits(rates=("refusal",)))
    assert all(d.passed for d in checks) and len(checks) == 3
    assert {d.note for d in checks} >= {"no reference figure", "no reference"}


def test_page_escapes_user_text(week):
    evil = "<script>alert(1)</script>"
    values = {"accuracy": (0.5, (0.4, 0.6)), "cost_per_request": (0.001, None)}
    values |= {m: (None, None) for m in ("p50_latency_s", "p95_latency_s", "p99_latency_s")}
    values |= {f"failure_rate[{x}]": (0.0, None) for x in ("format_violation", "refusal")}
    point = Point("r1", "2026-06-01T06:00:00+00:00", evil, evil, 10, values)
    run = {"id": "r1", "started": point.started, "status": "complete", "computed": False}
    page = render(History("s", "results", [run], {evil: [point]}, [(evil, evil)]))
    assert evil not in page and "&lt;script&gt;" in page


def test_collect_refuses_a_missing_folder(tmp_path):
    with pytest.raises(UserError, match="results directory not found"):
        collect(tmp_path / "nope", "x")


_LAYOUT_JS = """() => [...document.querySelectorAll('svg[data-plot]')].map(svg => {
  const name = svg.dataset.plot, box = el => el.getBoundingClientRect();
  const one = s => svg.querySelector(`[id="${name}-${s}"]`);
  const axes = one('patch_2'), legend = one('legend_1');
  const labels = axis => [...svg.querySelectorAll(`[id^="${name}-${axis}tick_"] text`)]
    .filter(t => t.textContent.trim()).map(box);
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
    a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const crowded = ls => ls.some((a, i) => ls.slice(i + 1).some(b => hit(a, b)));
  return {name, legend_over_axes: !!(axes && legend && hit(box(axes), box(legend))),
          x_crowded: crowded(labels('x')), y_crowded: crowded(labels('y')),
          n_x: labels('x').length, wide: box(svg).right > window.innerWidth};
})"""


@pytest.mark.browser
def test_history_page_layout_in_a_browser(week, tmp_path):
    from tests.browser import SKIP_REASON, chromium_path, open_page

    if chromium_path() is None:
        pytest.skip(SKIP_REASON)
    page_path = tmp_path / "history.html"
    from tts_bench.history_html import write_history

    write_history(collect(week, "history-demo"), page_path)
    with open_page(page_path, width=1000) as page:
        plots = page.evaluate(_LAYOUT_JS)
        assert not page.events["errors"] and not page.events["requests"]
    assert len(plots) == 5
    for p in plots:
        assert p["n_x"] >= 3, p
        assert not (p["legend_over_axes"] or p["x_crowded"] or p["y_crowded"] or p["wide"]), p
