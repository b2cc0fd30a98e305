"""`tts-bench review export`: draw the review sample (`sample.draw`), store its design in the
run directory, and write the review page (`page.render`) and a CSV with an empty `label`
column for spreadsheet users.

What a reviewer sees per unit: the item's input (read back from the suite's dataset, as
`tts-bench show` does; a note when it no longer loads), the reference answer when the scorer
names one, the rubric, and the output. Never the automatic verdict, the config's name, its
model, cost or latency: the label must be the reviewer's own, blind to which config wrote the
output and to what the judge said.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tts_bench.review.labels import DESIGN, Scale, review_dir, scale_of, unit_id
from tts_bench.review.sample import Draw, draw

CSV_COLUMNS = ("unit", "item_id", "input", "reference", "output", "label", "reviewer", "comment")


@dataclass
class ExportResult:
    page: Path
    csv: Path
    design: Path
    n_items: int
    n_units: int
    input_note: str | None


def item_inputs(manifest: dict[str, Any], ids: set[str]) -> tuple[dict[str, Any], str | None]:
    """({item: (rendered prompt, inputs)}, note): the items' inputs from the suite's dataset
    (loaded once), or ({}, why not)."""
    from pydantic import ValidationError

    from tts_bench.errors import UserError
    from tts_bench.suite import DatasetSpec, PromptSpec

    if manifest.get("status") == "imported":
        return {}, "imported runs keep no inputs"
    suite = manifest.get("suite") or {}
    try:
        dataset = DatasetSpec.model_validate(suite.get("dataset"))
        prompt = PromptSpec.model_validate(suite.get("prompt") or {})
    except ValidationError:
        return {}, "the manifest does not describe a dataset this version can read"
    from tts_bench.data.loader import load_items

    try:
        items, fp = load_items(dataset)
    except (UserError, OSError) as exc:
        return {}, f"the dataset no longer loads ({exc})"
    if manifest.get("dataset_fingerprint") not in (None, fp):
        return {}, f"{dataset.source} has changed since the run (fingerprint differs)"
    out: dict[str, Any] = {}
    for it in items:
        if it.id not in ids:
            continue
        try:
            text = prompt.template.format_map(it.inputs)
        except (KeyError, ValueError, IndexError):
            text = json.dumps(it.inputs, ensure_ascii=False, default=str)
        out[it.id] = (text, it.inputs)
    return out, None


def _reference(scorer: dict[str, Any], rec: dict[str, Any], inputs: dict[str, Any] | None) -> str:
    """The reference answer the judge saw: the scorer's `reference` field of the item (the
    target when that field is the target), '' when the scorer names none."""
    ref = scorer.get("reference")
    if ref in (None, "none", False, ""):
        return ""
    if inputs and ref in inputs:
        return str(inputs[ref])
    return "" if rec.get("target") is None else str(rec["target"])


def units_view(
    run_id: str,
    d: Draw,
    records: list[dict[str, Any]],
    manifest: dict[str, Any],
) -> tuple[list[dict[str, Any]], str | None]:
    """One dict per unit in page order: unit, item_id, input, reference, output."""
    by_key = {(str(r["item_id"]), str(r["config"])): r for r in records}
    inputs, note = item_inputs(manifest, set(d.items))
    scorer = (manifest.get("suite") or {}).get("scorer") or {}
    out = []
    for item, config in d.units:
        rec = by_key[(item, config)]
        text, raw = inputs.get(item, (None, None))
        out.append(
            {
                "unit": unit_id(run_id, item, config),
                "item_id": item,
                "input": text,
                "reference": _reference(scorer, rec, raw),
                "output": "" if rec.get("output") is None else str(rec["output"]),
            }
        )
    return out, note


def csv_text(units: list[dict[str, Any]]) -> str:
    """The spreadsheet CSV: one row per unit, `label`, `reviewer`, `comment` empty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for u in units:
        w.writerow(
            [u["unit"], u["item_id"], u["input"] or "", u["reference"], u["output"], "", "", ""]
        )
    return buf.getvalue()


def export_review(
    run_dir: Path | str,
    out: Path | str,
    *,
    size: int = 60,
    by: list[str] | None = None,
    seed: int = 0,
    allocation: str = "proportional",
) -> ExportResult:
    """Draw the sample, write `review/design.json` in the run directory, the page at `out`
    and the CSV beside it (`out` with suffix .csv). `by` None: the suite's sampling strata
    (dataset.sample.by), else none. The caller holds the run's lock."""
    from tts_bench.fsutil import atomic_write_text
    from tts_bench.review.page import render
    from tts_bench.show import run_configs
    from tts_bench.store import load_records, now_iso, read_manifest

    rd = Path(run_dir)
    manifest = read_manifest(rd)
    records = load_records(rd)
    suite = manifest.get("suite") or {}
    if by is None:
        by = list(((suite.get("dataset") or {}).get("sample") or {}).get("by") or [])
    d = draw(
        records,
        run_configs(manifest, records),
        size=size,
        by=by,
        seed=seed,
        allocation=allocation,
    )
    run_id = str(manifest.get("run_id") or rd.name)
    units, note = units_view(run_id, d, records, manifest)
    scale: Scale = scale_of(suite, records)
    scorer = suite.get("scorer") or {}
    page_path = Path(out)
    csv_path = page_path.with_suffix(".csv")
    html = render(
        units,
        run_id=run_id,
        suite=str(suite.get("name") or ""),
        rubric=str(scorer.get("rubric") or ""),
        scale=scale,
        input_note=note,
    )
    design = {**d.design(), "run_id": run_id, "created_at": now_iso(), "n_units": len(units)}
    review_dir(rd).mkdir(exist_ok=True)
    design_path = review_dir(rd) / DESIGN
    atomic_write_text(design_path, json.dumps(design, indent=2, ensure_ascii=False) + "\n")
    page_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(page_path, html)
    atomic_write_text(csv_path, csv_text(units))
    return ExportResult(page_path, csv_path, design_path, len(d.items), len(units), note)
