"""The report at scale: one read of the run directory, and an explorer cut into pages past
`items.PAGE_CELLS` so report.html stops growing (the other pages load from report-items/)."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pytest
from browser import SKIP_REASON, chromium_path, launch, load

from tts_bench import store
from tts_bench.report import html as html_mod
from tts_bench.report import items, write_all, write_report
from tts_bench.report.synthetic import write_synthetic_run


@pytest.fixture(autouse=True)
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plots are a fixed cost per report (matplotlib), not what grows: left out here."""
    monkeypatch.setattr(html_mod, "all_plots", lambda vm, lat: [])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("scale") / "r", items=90, configs=4)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    reads = {"records": 0, "calls": 0}
    # every reader of calls.jsonl goes through `iter_calls` (`load_calls` is its list)
    for name, key in (("load_records", "records"), ("iter_calls", "calls")):
        real = getattr(store, name)

        def counted(*a, _real=real, _key=key, **k):  # type: ignore[no-untyped-def]
            reads[_key] += 1
            return _real(*a, **k)

        monkeypatch.setattr(store, name, counted)
    return reads


def test_report_command_reads_records_and_calls_once(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tts_bench.cli import main

    reads = _count_reads(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["tts-bench", "report", str(run_dir), "--resamples", "300"])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code in (0, None), capsys.readouterr().err
    assert reads == {"records": 1, "calls": 1}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["meta"]["resamples"] == 300  # the knob reached the one analysis
    page = (run_dir / "report.html").read_text()
    # the page shows the figures of the summary.json written beside it
    assert f"{summary['configs'][1]['accuracy']['value'] * 100:.1f}%" in page
    assert (run_dir / "recommended-policy.yaml").is_file() and (run_dir / "summary.md").is_file()


def test_write_report_recomputes_a_stale_summary_from_the_same_read(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (run_dir / "summary.json").unlink(missing_ok=True)
    reads = _count_reads(monkeypatch)
    write_report(run_dir)
    assert reads == {"records": 1, "calls": 1}
    assert json.loads((run_dir / "summary.json").read_text())["meta"]["n_items"] == 90


def test_pages_cut_whole_items_and_number_labels_alike(run_dir: Path) -> None:
    recs, calls = store.load_records(run_dir), store.load_calls(run_dir)
    pages = items.Pages(recs, calls, ["single", "cot", "sc", "large"], "single", page_cells=100)
    assert pages.size == 25 and pages.count == 4  # 90 items, 25 a page
    blobs = [pages.blob(p) for p in range(pages.count)]
    seen = [it[0] for b in blobs for it in b["items"]]
    assert seen == sorted({r["item_id"] for r in recs})  # every item once, in order
    assert all(b["labels"] == blobs[0]["labels"] for b in blobs)
    assert blobs[0]["pages"]["ranges"] == [[b["items"][0][0], b["items"][-1][0]] for b in blobs]
    one = items.item_blob(recs, calls, ["single", "cot", "sc", "large"], "single")
    assert [len(b["items"]) for b in blobs] == [25, 25, 25, 15] and len(one["items"]) == 90
    name, text = next(pages.files())
    assert name == "page-0002.js" and text.startswith("ttsItemsPage({") and "</" not in text


def test_page_size_stops_growing_and_pages_are_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(items, "PAGE_CELLS", 120)  # 30 items of 4 configs a page
    sizes = {}
    for n in (60, 240):
        rd = write_synthetic_run(tmp_path / str(n), items=n, configs=4, text_chars=100)
        write_all(rd, resamples=100)
        sizes[n] = (rd / "report.html").stat().st_size
        side = sorted(p.name for p in (rd / items.PAGES_DIR).glob("*"))
        assert side == [items.page_file(p) for p in range(1, n // 30)]
    # past one page the page holds the same number of items: (almost) flat, not 4x
    assert sizes[240] < 1.15 * sizes[60], sizes
    # a rerun that fits one page removes the folder
    monkeypatch.setattr(items, "PAGE_CELLS", 10_000)
    write_all(rd, resamples=100)
    assert not (rd / items.PAGES_DIR).exists()
    assert not [p for p in rd.iterdir() if p.name.startswith(".")]  # no temp dirs left


@pytest.mark.browser
def test_paged_explorer_loads_other_pages_from_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if chromium_path() is None:
        warnings.warn(SKIP_REASON, stacklevel=1)
        pytest.skip(SKIP_REASON)
    import shutil

    from playwright.sync_api import expect

    monkeypatch.setattr(items, "PAGE_CELLS", 160)  # 40 items of 4 configs a page
    rd = write_synthetic_run(tmp_path / "r", items=100, configs=4, text_chars=40)
    recs = store.load_records(rd)
    html = write_all(rd, resamples=200)
    with launch() as browser:
        page = load(browser, html)
        count = page.locator("#f-count")
        assert count.text_content().startswith("40 of 40 items match")
        assert "page 1 of 3, 100 items in all" in count.text_content()
        assert "report-items/" in page.locator("#pages-note").text_content()
        page.select_option("#f-page", "2")
        expect(count).to_contain_text("page 3")
        assert count.text_content().startswith("20 of 20 items match")
        first = page.locator("#explorer tbody tr.item td").first.text_content()
        assert first == sorted({r["item_id"] for r in recs})[80]
        # filters apply to the page shown, labels numbered alike across pages
        page.select_option("#f-label", "any")
        failed = {r["item_id"] for r in recs if r.get("failure")}
        on_page = sorted({r["item_id"] for r in recs})[80:]
        want = sum(1 for i in on_page if i in failed)
        assert count.text_content().startswith(f"{want} of 20 items match")
        page.select_option("#f-page", "0")
        expect(count).to_contain_text("page 1")
        # a missing folder: a message, and the page shown stays
        shutil.rmtree(rd / items.PAGES_DIR)
        page.select_option("#f-page", "1")
        expect(count).to_contain_text("could not be loaded")
        assert page.locator("#f-page").input_value() == "0"
        assert page.events["requests"] == [] and page.events["dialogs"] == []
        assert all("page-0002.js" in e or "ERR_FILE" in e for e in page.events["errors"]), (
            page.events
        )
        page.close()
