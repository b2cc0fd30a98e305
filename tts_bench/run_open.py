"""Open a run directory for `run`, under its lock: resume the run it holds, or start a new
one whose manifest is written (atomically) before any call, so a kill at any point leaves
either nothing or a resumable run.

A directory with calls but no manifest (an older version killed before writing it) starts
again under the same name: without the manifest its records cannot be checked against the
suite and dataset, and the cache replays its finished calls for free.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.fsutil import LOCK
from tts_bench.resolve import ResolvedSuite
from tts_bench.store import CALLS, MANIFEST, RECORDS, read_manifest, write_manifest


def check_not_foreign(run_dir: Path) -> None:
    """Refuse a directory holding anything but a run: a manifest, or what a run killed
    before its manifest leaves (its lock, temp files, an older version's JSONL files)."""
    if not run_dir.is_dir() or (run_dir / MANIFEST).is_file():
        return
    leftovers = {CALLS, RECORDS, LOCK}
    if any(p.name not in leftovers and not p.name.endswith(".tmp") for p in run_dir.iterdir()):
        raise UserError(f"{run_dir}: already exists and is not a run to resume")


def open_run(
    run_dir: Path,
    resolved: ResolvedSuite,
    fingerprint: str,
    items: list[Any],
    limit: int | None,
    before_write: Callable[[bool], None] | None = None,
) -> tuple[dict[str, Any], bool, str | None]:
    """(manifest, resuming, warning). A resumed run must have the same dataset and configs;
    its manifest is returned unwritten (a resume with nothing to do writes nothing).
    before_write(resuming), when given, runs once the directory is known to be usable and
    before anything is written (`run`'s preflight): what it raises leaves the directory as
    it was."""
    check_not_foreign(run_dir)
    if (run_dir / MANIFEST).is_file():
        old = read_manifest(run_dir)
        if old.get("dataset_fingerprint") != fingerprint:
            raise UserError(f"{run_dir}: the dataset differs from the one this run started with")
        configs = resolved.manifest("", "", items)["configs"]
        if json.loads(json.dumps(configs, default=str)) != old.get("configs"):
            raise UserError(
                f"{run_dir}: the suite's configs differ from the ones this run started with "
                "(start a new run for changed configs)"
            )
        suite = resolved.suite.model_dump(mode="json")
        before = (old.get("suite") or {}).get("scorer")
        if before is not None and before != suite.get("scorer"):
            # records already scored one way must not be mixed with records scored another
            raise UserError(
                f"{run_dir}: the suite's scorer differs from the one this run started with "
                "(start a new run, or re-score by importing the pools)"
            )
        old["suite"] = suite
        old["limit"] = limit
        if before_write is not None:
            before_write(True)
        return old, True, None
    if before_write is not None:
        _first_or_tidy(run_dir, before_write)
    warning = None
    if any((run_dir / n).exists() for n in (CALLS, RECORDS)):
        warning = (
            f"{run_dir} had calls but no {MANIFEST} (killed before it was written): started "
            "again; its cached calls replay for free"
        )
        for name in (CALLS, RECORDS):
            (run_dir / name).unlink(missing_ok=True)
    manifest = resolved.manifest(run_dir.name, fingerprint, items)
    manifest["limit"] = limit
    write_manifest(run_dir, manifest)
    return manifest, False, warning


def _first_or_tidy(run_dir: Path, before_write: Callable[[bool], None]) -> None:
    """before_write(False) for a new run; if it fails and the directory holds nothing but
    the lock just taken, the directory goes too (a refused run leaves nothing behind)."""
    try:
        before_write(False)
    except BaseException:
        if all(p.name == LOCK for p in run_dir.iterdir()):
            (run_dir / LOCK).unlink(missing_ok=True)  # its lock is released by the caller
            run_dir.rmdir()
        raise
