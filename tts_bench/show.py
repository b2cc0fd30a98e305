"""One run from the terminal: its facts and table (`show_run`), or one item across its
configs (`show_item`): the input, the target, and every config's answer, label, cost and
latency.

A run directory keeps no prompts (records hold ids, targets and outputs), so an item's input
is read back from the suite's dataset when it still loads (built-in generators always do; a
local file only while it exists) and rendered with the suite's prompt template. When it does
not load, or no longer holds the run's items (its fingerprint changed), the item is shown
without its input and `input_note` says why.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError


@dataclass
class ItemView:
    """One item across configs. `cells`: one dict per config (in the manifest's order) with
    config, model, answer, correct, failure, status, cost_usd, latency_s, n_calls, samples
    (the pool's answers, or None) and output; None for a config without this item."""

    run_id: str
    item_id: str
    target: Any
    strata: dict[str, Any]
    input: str | None
    input_note: str | None
    cells: list[dict[str, Any] | None] = field(default_factory=list)


def run_configs(manifest: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """Config names in the manifest's order, then any only the records name."""
    listed = manifest.get("configs") or (manifest.get("suite") or {}).get("configs") or []
    names = [c["name"] for c in listed]
    return names + sorted({str(r["config"]) for r in records} - set(names))


def run_facts(run_dir: Path | str) -> dict[str, Any]:
    """The manifest's headline facts for `show RUN`: id, suite, status, started, finished,
    items, baseline, spent_usd, simulated, warnings."""
    from tts_bench.store import read_manifest

    m = read_manifest(run_dir)
    return {
        "id": Path(run_dir).name,
        "suite": (m.get("suite") or {}).get("name"),
        "status": m.get("status"),
        "error": m.get("error"),
        "started": m.get("started_at"),
        "finished": m.get("finished_at"),
        "items": m.get("item_count"),
        "baseline": m.get("baseline"),
        "spent_usd": m.get("spent_usd"),
        "simulated": m.get("simulated"),
        "warnings": list(m.get("warnings") or []),
    }


def _item_input(manifest: dict[str, Any], item_id: str) -> tuple[str | None, str | None]:
    """(rendered prompt, note) of one item from the suite's dataset, or (None, why not)."""
    from pydantic import ValidationError

    from tts_bench.suite import DatasetSpec, PromptSpec

    if manifest.get("status") == "imported":
        return None, "imported pools keep no inputs"
    suite = manifest.get("suite") or {}
    try:
        dataset = DatasetSpec.model_validate(suite.get("dataset"))
        prompt = PromptSpec.model_validate(suite.get("prompt") or {})
    except ValidationError:
        return None, "the manifest does not describe a dataset this version can read"
    from tts_bench.data.loader import load_items

    try:
        items, fp = load_items(dataset)
    except UserError as exc:
        return None, f"the dataset no longer loads ({exc})"
    except OSError as exc:
        return None, f"the dataset no longer loads ({exc.strerror or exc})"
    if manifest.get("dataset_fingerprint") not in (None, fp):
        return None, f"{dataset.source} has changed since the run (fingerprint differs)"
    found = next((it for it in items if it.id == item_id), None)
    if found is None:
        return None, f"item not in {dataset.source}"
    try:
        user = prompt.template.format_map(found.inputs)
    except (KeyError, ValueError, IndexError):
        return None, "the suite's prompt template does not fit the dataset's fields"
    return (f"[system] {prompt.system}\n\n{user}" if prompt.system else user), None


def _cell(r: dict[str, Any]) -> dict[str, Any]:
    samples = r.get("samples")
    return {
        "config": str(r["config"]),
        "model": r.get("model"),
        "answer": r.get("answer"),
        "correct": r.get("correct"),
        "failure": r.get("failure"),
        "status": r.get("status"),
        "cost_usd": r.get("cost_usd"),
        "latency_s": r.get("latency_s"),
        "n_calls": r.get("n_calls"),
        "samples": None if samples is None else [s.get("answer") for s in samples],
        "output": r.get("output"),
    }


def show_item(run_dir: Path | str, item_id: str, *, with_input: bool = True) -> ItemView:
    """One item across the run's configs. UserError for an unknown item id (naming the
    closest ids). `with_input=False` skips reading the dataset back."""
    from tts_bench.store import load_records, read_manifest

    rd = Path(run_dir)
    manifest = read_manifest(rd)
    records = load_records(rd)
    mine = [r for r in records if str(r["item_id"]) == item_id]
    if not mine:
        ids = sorted({str(r["item_id"]) for r in records})
        close = difflib.get_close_matches(item_id, ids, n=3)
        hint = (
            f" (did you mean {', '.join(close)}?)" if close else f" ({len(ids)} items in the run)"
        )
        raise UserError(f"{rd}: no item {item_id!r}{hint}")
    by_config = {str(r["config"]): r for r in mine}
    text, note = _item_input(manifest, item_id) if with_input else (None, "not read")
    first = mine[0]
    return ItemView(
        run_id=rd.name,
        item_id=item_id,
        target=first.get("target"),
        strata=dict(first.get("strata") or {}),
        input=text,
        input_note=note,
        cells=[
            _cell(by_config[c]) if c in by_config else None for c in run_configs(manifest, records)
        ],
    )
