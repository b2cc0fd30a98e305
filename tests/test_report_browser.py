"""The HTML report as a reader sees it: rendered in headless chromium, asserted from the DOM.

Skipped (loudly) only where Debian's chromium is missing; scripts/ensure-chromium.sh installs it.
docs/img/report.png is the full demo's report: `python tests/browser.py screenshot` (see there).
"""

from __future__ import annotations

import copy
import json
import shutil
import warnings
from pathlib import Path

import pytest
from browser import SKIP_REASON, chromium_path, launch, load

from tts_bench import store
from tts_bench.report import fmt, write_report
from tts_bench.report.html import render_html
from tts_bench.report.synthetic import write_synthetic_run

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ("saturation", "cost_accuracy", "latency", "strata", "failures")
PAYLOAD = (
    "<script>window.__pwned = 1; alert(1)</script>"
    '<img src=x onerror="window.__pwned = 2; alert(2)">'
    '</textarea><svg onload="window.__pwned = 3"></svg></script><!--'
)

if chromium_path() is None:
    warnings.warn(SKIP_REASON, stacklevel=1)
    pytestmark = [pytest.mark.browser, pytest.mark.skip(reason=SKIP_REASON)]
else:
    pytestmark = [pytest.mark.browser]


def _demo_run(out: Path) -> Path:
    """The demo suite on 45 items through the real runner (simulated models); a synthetic run
    when the runner cannot run here."""
    try:
        from tts_bench import runner
        from tts_bench import suite as suite_mod

        text = (ROOT / "suites" / "demo.yaml").read_text().replace("size: 200", "size: 45")
        path = out / "demo-small.yaml"
        path.write_text(text)
        res = runner.run(
            suite_mod.load(path), out_dir=out, run_id="demo", cache_path=out / "cache.sqlite"
        )
        return res.run_dir
    except Exception as exc:  # the runner is a separate part: keep testing the report
        warnings.warn(f"demo run failed ({exc!r}); using a synthetic run", stacklevel=1)
        shutil.rmtree(out / "demo", ignore_errors=True)
        return write_synthetic_run(out / "demo", items=45, configs=4)


@pytest.fixture(scope="module")
def chrome():
    with launch() as browser:
        yield browser


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # before the browser starts: the runner needs its own event loop
    return _demo_run(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def demo(demo_dir: Path, chrome):
    run_dir = demo_dir
    html = write_report(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    page = load(chrome, html)
    yield page, summary, store.load_records(run_dir), run_dir
    page.close()


def test_verdict_table_and_plots(demo, tmp_path: Path) -> None:
    page, summary, _, run_dir = demo
    names = [c["config"] for c in summary["configs"]]
    sentences = page.locator("#verdict li.sentence").all_text_contents()
    assert len(sentences) == len(names)
    for name, s, c in zip(names, sentences, summary["configs"], strict=True):
        assert s.startswith(name)
        if c["is_baseline"]:
            assert "(baseline)" in s
        else:
            d = c["delta"]["accuracy_points"]
            assert f"{d['value']:+.1f}".replace("-", "−") in s
            assert "(95% CI " in s and "× cost" in s and "P95 " in s
            if c["delta"].get("significant") is False:
                assert ", not significant after Holm correction (p=" in s
            else:
                assert "not significant" not in s
        sat = c.get("saturation")
        if sat and sat.get("saturation_point"):
            from tts_bench.report.model import saturation_view
            from tts_bench.report.verdict import saturation_clause

            want = saturation_clause(saturation_view(sat))  # with its interval
            assert want and want in s, s
            assert ("levels off" in s) == (sat.get("verdict") == "levels_off"), s
    rows = page.locator("#summary-table tbody tr")
    assert [rows.nth(i).get_attribute("data-config") for i in range(rows.count())] == names
    for p in PLOTS:
        assert page.locator(f"#plot-{p} svg").count() == 1, p
    assert page.locator("#partial").count() == 0
    assert page.locator("#status").text_content() == "complete"
    _check_facts(page, summary, store.read_manifest(run_dir))
    assert page.events["errors"] == [] and page.events["requests"] == []
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)


def test_summary_table_fits_a_laptop_screen(demo, chrome, tmp_path: Path) -> None:
    """At 1300 px every column of the summary table is visible (no horizontal scroll), for
    an accuracy suite and for a set_f1 suite (three more columns)."""
    page, summary, records, run_dir = demo
    page.set_viewport_size({"width": 1300, "height": 900})
    fits = "t => t.scrollWidth <= t.parentElement.clientWidth + 1"
    assert page.locator("#summary-table").evaluate(fits)
    heads = page.locator("#summary-table thead th").all_text_contents()
    assert "P50 / P95 / P99" in heads and "P95 ×" in heads and "items" in heads
    assert not any(h.startswith("P50 ×") for h in heads)
    # the merged latency cell sorts on P95
    col = heads.index("P50 / P95 / P99") + 1
    page.locator("#summary-table thead th", has_text="P50 / P95 / P99").click()
    p95 = [float(v) for v in _column(page, col)]
    assert p95 == sorted(p95)
    want = sorted(c["latency"]["p95"]["value"] for c in summary["configs"])
    assert p95 == pytest.approx(want)
    f1 = copy.deepcopy(summary)
    f1["meta"]["metric"] = "f1"
    for c in f1["configs"]:
        c.update(recall=0.7, miss_rate=0.3, exact_accuracy=0.4)
    out = tmp_path / "f1.html"
    out.write_text(render_html(f1, store.read_manifest(run_dir), records, []))
    other = load(chrome, out, width=1300)
    assert other.locator("#summary-table").evaluate(fits)
    assert other.locator("#summary-table thead th", has_text="miss rate").count() == 1
    other.close()


def _check_facts(page, summary: dict, manifest: dict) -> None:
    """The run-facts block: every value is text a reader can use, not a Python repr."""
    facts = dict(
        zip(
            page.locator("#facts + dl.facts dt").all_text_contents(),
            page.locator("#facts + dl.facts dd").all_text_contents(),
            strict=True,
        )
    )
    assert not any("<" in v or "object at 0x" in v for v in facts.values()), facts
    assert facts["suite"] == manifest["suite"]["name"]
    assert facts["run id"] == manifest["run_id"]
    items = page.locator("#fact-items").text_content()
    counts = summary["meta"]["item_counts"]["difficulty"]
    assert items.startswith(f"{manifest['item_count']} (difficulty: "), items
    assert all(f"{k} {v}" in items for k, v in counts.items())
    meta = summary["meta"]
    spend = page.locator("#fact-spend").text_content()
    assert spend.startswith(fmt.usd(meta["total_spend_usd"])), spend
    assert meta["total_spend_usd"] > 0 and not spend.startswith("$0 ")
    assert facts["power"] != "not measured"


def _column(page, col: int) -> list[str]:
    return page.locator(f"#summary-table tbody tr td:nth-child({col}) ").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-v'))"
    )


def test_sorting_by_clicking_a_header(demo) -> None:
    page, summary, _, _ = demo
    acc = {c["config"]: c["accuracy"]["value"] for c in summary["configs"]}
    header = page.locator("#summary-table thead th", has_text="accuracy")
    header.click()
    order = page.locator("#summary-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.config)"
    )
    assert order == sorted(acc, key=lambda n: (acc[n], order.index(n)))
    values = [float(v) for v in _column(page, 3)]
    assert values == sorted(values)
    header.click()
    values = [float(v) for v in _column(page, 3)]
    assert values == sorted(values, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"


def test_item_filters(demo) -> None:
    page, summary, records, _ = demo
    items = {r["item_id"] for r in records}
    count = page.locator("#f-count")
    assert count.text_content().startswith(f"{len(items)} of {len(items)} items")
    hard = {r["item_id"] for r in records if r["strata"].get("difficulty") == "hard"}
    page.select_option("#f-stratum", "difficulty=hard")
    assert count.text_content().startswith(f"{len(hard)} of {len(items)}")
    shown = page.locator("#explorer tbody tr.item td:nth-child(2)").all_text_contents()
    assert shown and all(s == "hard" for s in shown)
    page.select_option("#f-stratum", "")
    # baseline right / config wrong, for one config
    base = summary["meta"]["baseline"]
    other = next(c["config"] for c in summary["configs"] if not c["is_baseline"])
    by = {(r["item_id"], r["config"]): r for r in records}
    expected = {
        i
        for i in items
        if (by.get((i, base)) or {}).get("correct") is True
        and (by.get((i, other)) or {}).get("correct") is False
    }
    names = page.locator("#f-config option").all_text_contents()
    page.select_option("#f-config", str(names.index(other) - 1))
    page.check("#f-regress")
    assert count.text_content().startswith(f"{len(expected)} of {len(items)}")
    ids = page.locator("#explorer tbody tr.item td:nth-child(1)").all_text_contents()
    assert set(ids) == expected
    page.uncheck("#f-regress")
    page.select_option("#f-config", "")
    # expanding a row shows the raw output of every config
    first = page.locator("#explorer tbody tr.item").first
    item_id = first.locator("td").first.text_content()
    first.click()
    texts = page.locator("#explorer tr.detail pre.text").all_text_contents()
    outputs = [r["output"] for r in records if r["item_id"] == item_id and r.get("output")]
    assert outputs and all(any(o[:200] in t for t in texts) for o in outputs)
    first.click()
    assert page.locator("#explorer tr.detail").count() == 0


def test_model_output_renders_inert(chrome, tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "xss", items=12, configs=3, payload=PAYLOAD)
    html = write_report(run_dir)
    page = load(chrome, html)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("script").count() == 3  # ours only: data, sort, explorer
    assert page.locator("img").count() == 0
    page.fill("#f-search", "arith-00001")
    page.locator("#explorer tbody tr.item").first.click()
    detail = page.locator("#explorer tr.detail").text_content()
    assert "<script>window.__pwned = 1" in detail and "</textarea>" in detail
    cell = page.locator("#explorer tbody tr.item td.cell").first.text_content()
    assert "<img src=x onerror=" in cell
    assert PAYLOAD in page.locator(".sub").text_content()  # the suite description, escaped
    page.wait_for_timeout(200)  # give any onerror/onload a chance to fire
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.events["dialogs"] == []
    assert page.events["requests"] == []
    page.close()


def test_large_run_is_compact(chrome, tmp_path: Path) -> None:
    """1,000 items × 8 configs: under 15 MB, and the explorer renders its first page."""
    run_dir = write_synthetic_run(tmp_path / "big", items=1000, configs=8, text_chars=400)
    html = write_report(run_dir)
    size = html.stat().st_size
    assert size < 15 * 1024 * 1024, size
    page = load(chrome, html)
    assert page.locator("#f-count").text_content().startswith("1000 of 1000 items")
    assert page.locator("#explorer tbody tr.item").count() == 100
    assert page.locator("svg[data-plot]").count() == len(PLOTS)
    assert page.events["errors"] == []
    page.close()
