"""The review page in headless chromium: label two outputs from the keyboard, download
labels.csv, and import it. Skipped (loudly) where Debian's chromium is missing."""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path

import pytest
from browser import SKIP_REASON, chromium_path, launch, load

from tts_bench.review.export import export_review
from tts_bench.review.labels import import_labels, read_labels
from tts_bench.review.synthetic import write_judged_run

PAYLOAD = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'

if chromium_path() is None:
    warnings.warn(SKIP_REASON, stacklevel=1)
    pytestmark = [pytest.mark.browser, pytest.mark.skip(reason=SKIP_REASON)]
else:
    pytestmark = [pytest.mark.browser]


def test_label_two_outputs_with_the_keyboard(tmp_path: Path) -> None:
    run, _ = write_judged_run(tmp_path, n_items=30)
    lines = (run / "records.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    for r in recs:
        r["output"] = PAYLOAD + r["output"]
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    res = export_review(run, tmp_path / "review.html", size=5, by=[], seed=1)
    units = list(csv.DictReader(res.csv.open()))
    with launch() as browser:
        page = load(browser, res.page)
        assert page.locator("#output").inner_text().startswith(PAYLOAD)  # shown as text
        page.keyboard.press("p")  # unit 1: pass, moves on
        page.keyboard.press("f")  # unit 2: fail
        page.keyboard.press("k")  # back to unit 2: its label is shown
        assert page.locator("#label").inner_text() == "fail"
        assert "2 labelled" in page.locator("#progress").inner_text()
        page.locator("#reviewer").fill("ana")
        page.locator("#reviewer").press("Escape")  # keys label again
        with page.expect_download() as dl:
            page.keyboard.press("d")
        text = Path(dl.value.path()).read_text(encoding="utf-8")
        # labels survive a reload (localStorage)
        page.reload()
        assert "2 labelled" in page.locator("#progress").inner_text()
        assert page.evaluate("window.__pwned") is None
        assert not page.events["errors"] and not page.events["requests"], page.events
        page.close()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["unit"] for r in rows] == [u["unit"] for u in units]
    assert [r["label"] for r in rows[:3]] == ["pass", "fail", ""]
    assert all(r["label"] == "" for r in rows[2:])
    assert rows[0]["reviewer"] == "ana"
    out = tmp_path / "labels.csv"
    out.write_text(text, encoding="utf-8")
    res_import = import_labels(run, out)
    assert (res_import.added, res_import.blank) == (2, len(units) - 2)
    got = {(x["item_id"], x["label"]) for x in read_labels(run)}
    assert got == {(units[0]["item_id"], "pass"), (units[1]["item_id"], "fail")}
