"""The runs under a results directory, one row each: what `tts-bench runs` lists.

Every sub-directory is looked at; hidden ones (`.cache`, the response cache) and plain files
are not runs and are left out. A directory whose manifest or records the store's readers
refuse is still listed, with the reader's one-line problem and nothing else, so one damaged
run never hides the others. Reading is all this does: no lock is taken, nothing is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError


@dataclass
class RunRow:
    """One run directory. `problem` is set (and most figures None) when it cannot be read;
    `baseline_accuracy` is a fraction; `spent_usd` the manifest's spend."""

    id: str
    path: str
    suite: str | None = None
    status: str | None = None
    started: str | None = None
    items: int | None = None
    configs: list[str] = field(default_factory=list)
    baseline: str | None = None
    baseline_accuracy: float | None = None
    spent_usd: float | None = None
    simulated: bool | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _baseline_accuracy(run_dir: Path, baseline: str | None) -> float | None:
    """From a current summary.json when there is one (the report's figure), else from the
    records with the quick-look table's rule (the scorer's mean over scored records)."""
    from tts_bench.report.model import current_summary

    if baseline is None:
        return None
    summary = current_summary(run_dir)
    if summary is not None:
        for entry in summary.get("configs") or []:
            if isinstance(entry, dict) and entry.get("config") == baseline:
                value = (entry.get("accuracy") or {}).get("value")
                return value if isinstance(value, int | float) else None
        return None
    from tts_bench.quicklook import table_rows
    from tts_bench.store import load_records

    records = load_records(run_dir)
    return table_rows(records, [baseline])[0]["accuracy"]


def read_run(run_dir: Path) -> RunRow:
    """One row for `run_dir`; a problem (no manifest, a damaged file) becomes `problem`."""
    from tts_bench.store import read_manifest

    row = RunRow(id=run_dir.name, path=str(run_dir))
    try:
        m = read_manifest(run_dir)
        suite = m.get("suite") or {}
        row.suite = suite.get("name")
        row.status = m.get("status")
        row.started = m.get("started_at")
        row.items = m.get("item_count")
        listed = m.get("configs") or suite.get("configs") or []
        row.configs = [c["name"] for c in listed]
        row.baseline = m.get("baseline") or suite.get("baseline")
        row.spent_usd = m.get("spent_usd")
        row.simulated = m.get("simulated")
        row.baseline_accuracy = _baseline_accuracy(run_dir, row.baseline)
    except UserError as exc:
        row.problem = _strip_path(str(exc), run_dir)
    except OSError as exc:  # unreadable (permissions) or vanished while listing
        row.problem = exc.strerror or str(exc)
    return row


def _strip_path(msg: str, run_dir: Path) -> str:
    """The reader's message without the directory's own path (the row already names it)."""
    return msg.removeprefix(f"{run_dir}: ").replace(f"{run_dir}/", "")


def list_runs(results_dir: Path | str) -> list[RunRow]:
    """Rows for every run directory under `results_dir`, newest start first (rows with no
    start time, damaged ones included, after them by name). UserError when `results_dir`
    is not a directory."""
    root = Path(results_dir)
    if not root.is_dir():
        raise UserError(f"{root}: results directory not found")
    rows = [
        read_run(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")
    ]
    dated = sorted((r for r in rows if r.started), key=lambda r: (r.started, r.id), reverse=True)
    return dated + [r for r in rows if not r.started]
