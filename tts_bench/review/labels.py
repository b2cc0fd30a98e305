"""Human labels in the run directory: the label scale, review units, and the readers and
writer of `review/labels.jsonl` and `review/design.json`.

A review unit is one (item, config) output. Pages and CSVs name it by an opaque id
(`unit_id`, a hash of run, item and config), so a reviewer does not see which config wrote
an output; the import maps ids back by hashing every (item, config) of the run.

`review/design.json` is the sampling design of the last export (strata columns, population
and allocation per stratum, seed): the analysis weights the labelled items by it.
`review/labels.jsonl` holds one line per labelled unit: item_id, config, label (canonical,
on the scale), human_pass (the label read as pass/fail), reviewer, source, imported_at.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError

REVIEW_DIR = "review"
LABELS = "labels.jsonl"
DESIGN = "design.json"
MAX_CSV_BYTES = 50_000_000  # a labels file is a few kB per thousand units


@dataclass(frozen=True)
class Scale:
    """The labels a reviewer gives: `pass_fail` (pass, fail), `1-5` (1..5, a pass at
    `pass_at` or above) or a list of labels (a pass when in `pass_labels`)."""

    kind: str  # "pass_fail" | "1-5" | "labels"
    labels: tuple[str, ...]
    pass_at: int = 4
    pass_labels: tuple[str, ...] = ()

    def canonical(self, raw: str) -> str | None:
        """The scale's spelling of `raw` (case and surrounding space ignored), else None."""
        s = raw.strip().casefold()
        for lab in self.labels:
            if lab.casefold() == s:
                return lab
        return None

    def passes(self, label: str) -> bool:
        if self.kind == "pass_fail":
            return label == "pass"
        if self.kind == "1-5":
            return int(label) >= self.pass_at
        return label in self.pass_labels

    def describe(self) -> str:
        if self.kind == "1-5":
            return f"1-5 (pass at {self.pass_at} or above)"
        if self.kind == "labels":
            return f"{', '.join(self.labels)} (pass: {', '.join(self.pass_labels)})"
        return "pass / fail"


PASS_FAIL = Scale("pass_fail", ("pass", "fail"))


def scale_of(suite: dict[str, Any], records: list[dict[str, Any]] | None = None) -> Scale:
    """The run's label scale: its scorer's `scale` (a judge scorer), else the first record's
    `info.judge.scale`, else pass / fail (any scorer's verdict can be reviewed)."""
    scorer = suite.get("scorer") or {}
    raw = scorer.get("scale")
    if raw is None:
        for r in records or []:
            raw = ((r.get("info") or {}).get("judge") or {}).get("scale")
            if raw is not None:
                break
    if raw in (None, "pass_fail"):
        return PASS_FAIL
    if raw == "1-5":
        pass_at = scorer.get("pass_at")
        return Scale("1-5", ("1", "2", "3", "4", "5"), int(pass_at) if pass_at else 4)
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        passing = scorer.get("pass_labels") or raw[:1]
        return Scale("labels", tuple(raw), pass_labels=tuple(str(x) for x in passing))
    raise UserError(f"scorer scale {raw!r}: expected pass_fail, 1-5 or a list of labels")


def unit_id(run_id: str, item_id: str, config: str) -> str:
    """The opaque id of one (item, config) output in review pages and CSVs."""
    h = hashlib.sha256(f"{run_id}\x00{item_id}\x00{config}".encode()).hexdigest()
    return "u" + h[:10]


def review_dir(run_dir: Path | str) -> Path:
    return Path(run_dir) / REVIEW_DIR


# -- readers --------------------------------------------------------------------------------
def read_design(run_dir: Path | str) -> dict[str, Any] | None:
    """The last export's sampling design, or None (no export, or no review folder)."""
    p = review_dir(run_dir) / DESIGN
    if not p.is_file():
        return None
    from tts_bench.inputcheck import parse_json

    obj = parse_json(p.read_text(encoding="utf-8"), str(p))
    if not isinstance(obj, dict) or not isinstance(obj.get("by", []), list):
        raise UserError(f"{p}: not a review design (expected an object with a `by` list)")
    return obj


def read_labels(run_dir: Path | str) -> list[dict[str, Any]]:
    """The stored labels (one dict per unit), checked like records (`file:line` on a bad
    line; a torn last line is skipped)."""
    from tts_bench.store import iter_jsonl_lines

    p = review_dir(run_dir) / LABELS
    out = []
    for n, obj in iter_jsonl_lines(p):
        ok = (
            isinstance(obj.get("item_id"), str)
            and isinstance(obj.get("config"), str)
            and isinstance(obj.get("label"), str)
            and isinstance(obj.get("human_pass"), bool)
        )
        if not ok:
            raise UserError(f"{p}:{n}: expected item_id, config, label strings and human_pass")
        out.append(obj)
    return out


# -- import ---------------------------------------------------------------------------------
@dataclass
class ImportResult:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    blank: int = 0
    total: int = 0
    path: Path = Path()
    warnings: list[str] = field(default_factory=list)


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line, row)]) of a CSV file; UserError `file:line` when it is not one."""
    if not path.is_file():
        raise UserError(f"{path}: labels file not found")
    raw = path.read_bytes()
    if len(raw) > MAX_CSV_BYTES:
        raise UserError(f"{path}: {len(raw):,} bytes, more than a labels file can be")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not a CSV file (not UTF-8 text)") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise UserError(f"{path}:{line}: not a CSV file (binary data)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().casefold() for h in next(reader, [])]
        body = []
        for row in reader:
            body.append((reader.line_num, row))
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: not a readable CSV file ({exc})") from None
    if "label" not in header or not ("unit" in header or {"item_id", "config"} <= set(header)):
        raise UserError(
            f"{path}:1: not a labels CSV (needs a `label` column and `unit` or "
            "`item_id` and `config` columns)"
        )
    rows = []
    for line, cells in body:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            raise UserError(f"{path}:{line}: {len(cells)} cells, the header has {len(header)}")
        rows.append((line, dict(zip(header, [*cells, *[""] * len(header)], strict=False))))
    return header, rows


def parse_labels(
    path: Path, *, run_id: str, pairs: set[tuple[str, str]], scale: Scale
) -> tuple[dict[tuple[str, str], dict[str, Any]], int]:
    """({(item, config): label line}, blank rows) from a labels CSV. Every problem is a
    UserError naming `file:line`: an unknown unit, item or config, a label not on the scale,
    one unit labelled twice with different labels."""
    _, rows = _rows(path)
    by_unit = {unit_id(run_id, i, c): (i, c) for i, c in pairs}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    first_line: dict[tuple[str, str], int] = {}
    blank = 0
    for line, row in rows:
        where = f"{path}:{line}"
        unit = (row.get("unit") or "").strip()
        if unit:
            if unit not in by_unit:
                raise UserError(f"{where}: unknown review unit {unit!r} (not in this run)")
            key = by_unit[unit]
        else:
            key = ((row.get("item_id") or "").strip(), (row.get("config") or "").strip())
            if key not in pairs:
                items = {i for i, _ in pairs}
                what = "config" if key[0] in items else "item"
                name = key[1] if what == "config" else key[0]
                raise UserError(f"{where}: unknown {what} {name!r} (not scored in this run)")
        raw = row.get("label") or ""
        if not raw.strip():
            blank += 1
            continue
        label = scale.canonical(raw)
        if label is None:
            raise UserError(
                f"{where}: label {raw.strip()!r} is not on the scale ({scale.describe()})"
            )
        line_obj = {
            "item_id": key[0],
            "config": key[1],
            "label": label,
            "human_pass": scale.passes(label),
            "reviewer": (row.get("reviewer") or "").strip() or None,
            "source": path.name,
        }
        if key in out:
            if out[key]["label"] != label:
                raise UserError(
                    f"{where}: unit {unit_id(run_id, *key)} labelled {label!r} here and "
                    f"{out[key]['label']!r} on line {first_line[key]}"
                )
            continue
        out[key] = line_obj
        first_line[key] = line
    return out, blank


def import_labels(run_dir: Path | str, path: Path | str, *, replace: bool = False) -> ImportResult:
    """Validate `path` against the run (its scored (item, config) pairs and label scale) and
    store it in `review/labels.jsonl` (atomic). Merge by default: a unit labelled again takes
    the new label, units the file does not name keep theirs; `replace` drops the old labels
    first. The caller holds the run's lock."""
    from tts_bench.fsutil import atomic_write_text
    from tts_bench.store import load_records, now_iso, read_manifest

    rd, p = Path(run_dir), Path(path)
    manifest = read_manifest(rd)
    records = load_records(rd)
    pairs = {(str(r["item_id"]), str(r["config"])) for r in records if r.get("correct") is not None}
    scale = scale_of(manifest.get("suite") or {}, records)
    new, blank = parse_labels(p, run_id=_run_id(rd, manifest), pairs=pairs, scale=scale)
    if not new:
        raise UserError(f"{p}: no labels (every `label` cell is empty)")
    old = {} if replace else {(x["item_id"], x["config"]): x for x in read_labels(rd)}
    res = ImportResult(blank=blank, path=review_dir(rd) / LABELS)
    stamp = now_iso()
    for key, lab in new.items():
        prev = old.get(key)
        if prev is None:
            res.added += 1
        elif prev["label"] != lab["label"]:
            res.changed += 1
        else:
            res.unchanged += 1
        old[key] = {**lab, "imported_at": stamp}
    res.total = len(old)
    review_dir(rd).mkdir(exist_ok=True)
    lines = [json.dumps(v, ensure_ascii=False) + "\n" for _, v in sorted(old.items())]
    atomic_write_text(res.path, "".join(lines))
    if read_design(rd) is None:
        res.warnings.append(
            "no review design in the run (labels not drawn by `tts-bench review export`): "
            "the corrected figures assume the labelled items are a simple random sample"
        )
    return res


def _run_id(rd: Path, manifest: dict[str, Any]) -> str:
    return str(manifest.get("run_id") or rd.name)
