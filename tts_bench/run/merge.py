"""Shards of one run joined into one ordinary run directory (`tts-bench merge`).

The parts must be shards of the same split (`run/schedule.py`): the same items split
(`shard.suite_fingerprint`), seed, shard count, `--limit`, configs and suite (its `limits:`
block aside: concurrency and budgets may differ between machines). No shard may appear
twice and no item in two parts. A missing shard, or one that did not finish (status not
`complete`, or fewer records than its items × configs), stops the merge unless
`allow_partial`: then the merged run's status is `partial` and its manifest says which
(`partial: {missing, incomplete}`), and so do its report and `gate` (which refuses it
without `--allow-partial`).

The merged directory is an ordinary run: records and calls in the unsplit run's schedule
(the seeded item order over every merged item, configs in suite order; a pair's calls
before its record), spend and simulator counts summed, every shard's sessions kept.
Records are copied as they are, infrastructure failures included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.fsutil import LOCK, RunLock, atomic_write_text
from tts_bench.run.schedule import item_order, pairs
from tts_bench.store import (
    CALLS,
    RECORDS,
    load_calls,
    load_records,
    now_iso,
    read_manifest,
    write_manifest,
)

PARTIAL = "partial"  # the status of a merge that lacks a shard or holds an unfinished one
# what must be equal in every shard's manifest for the parts to be one run's shards
_SAME = ("seed", "limit", "dataset_fingerprint", "configs", "baseline")
_SHARD_KEYS = ("index", "count", "suite_fingerprint", "seed", "items")


@dataclass
class Part:
    """One shard's run directory, read."""

    run_dir: Path
    manifest: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def shard(self) -> dict[str, Any]:
        return self.manifest["shard"]

    @property
    def label(self) -> str:
        return f"{self.shard['index']}/{self.shard['count']}"

    def pairs_expected(self) -> int:
        return int(self.shard["items"]) * len(self.manifest.get("configs") or [])


@dataclass
class MergeResult:
    run_dir: Path
    status: str
    n_records: int
    missing: list[int] = field(default_factory=list)
    incomplete: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_part(run_dir: Path) -> Part:
    """A shard's manifest and records; UserError when `run_dir` is not a shard's run."""
    manifest = read_manifest(run_dir)
    shard = manifest.get("shard")
    if not isinstance(shard, dict):
        raise UserError(f"{run_dir}: not a shard (a run made with `tts-bench run --shard i/n`)")
    for key in _SHARD_KEYS:
        value = shard.get(key)
        want = str if key == "suite_fingerprint" else int
        if type(value) is not want:
            raise UserError(f"{run_dir}: manifest `shard.{key}` missing or not a {want.__name__}")
    return Part(Path(run_dir), manifest, load_records(run_dir))


def _suite_key(manifest: dict[str, Any]) -> str:
    suite = {k: v for k, v in (manifest.get("suite") or {}).items() if k != "limits"}
    return json.dumps(suite, sort_keys=True, default=str)


def check_parts(parts: list[Part]) -> None:
    """UserError (one line) unless every part is a shard of the same split and none overlaps:
    the same split fingerprint, seed and count, suite and configs; each shard once; each
    item in one part only."""
    if not parts:
        raise UserError("merge: no run directories given")
    first = parts[0]
    for p in parts[1:]:
        for key in ("suite_fingerprint", "count", "seed"):
            if p.shard[key] != first.shard[key]:
                raise UserError(
                    f"merge: {p.run_dir} is not a shard of the same split as {first.run_dir} "
                    f"(shard.{key} differs: {p.shard[key]!r} vs {first.shard[key]!r})"
                )
        for key in _SAME:
            if p.manifest.get(key) != first.manifest.get(key):
                raise UserError(
                    f"merge: {p.run_dir} and {first.run_dir} differ in `{key}`: not shards of one run"
                )
        if _suite_key(p.manifest) != _suite_key(first.manifest):
            raise UserError(
                f"merge: {p.run_dir} and {first.run_dir} ran different suites "
                "(the suite files differ beyond `limits:`)"
            )
    seen: dict[int, Path] = {}
    for p in parts:
        i = p.shard["index"]
        if i in seen:
            raise UserError(f"merge: {seen[i]} and {p.run_dir} are both shard {p.label}")
        seen[i] = p.run_dir
    owner: dict[str, Path] = {}
    for p in parts:
        for item in {str(r["item_id"]) for r in p.records}:
            if item in owner and owner[item] != p.run_dir:
                raise UserError(
                    f"merge: item {item!r} is in both {owner[item]} and {p.run_dir} "
                    "(overlapping shards)"
                )
            owner[item] = p.run_dir


def gaps(parts: list[Part]) -> tuple[list[int], list[int]]:
    """(missing shard numbers, unfinished shard numbers): unfinished is a status other than
    `complete` or fewer records than the shard's items × configs."""
    count = parts[0].shard["count"]
    present = {p.shard["index"] for p in parts}
    missing = [i for i in range(1, count + 1) if i not in present]
    incomplete = sorted(
        p.shard["index"]
        for p in parts
        if p.manifest.get("status") != "complete" or len(p.records) < p.pairs_expected()
    )
    return missing, incomplete


def _gap_line(parts: list[Part], missing: list[int], incomplete: list[int]) -> str:
    n = parts[0].shard["count"]
    bits = [f"shard {i}/{n} missing" for i in missing]
    for p in sorted(parts, key=lambda p: p.shard["index"]):
        if p.shard["index"] in incomplete:
            bits.append(
                f"shard {p.label} incomplete ({p.run_dir}: status {p.manifest.get('status')}, "
                f"{len(p.records)} of {p.pairs_expected()} records)"
            )
    return "; ".join(bits)


def merged_manifest(
    parts: list[Part], run_id: str, missing: list[int], incomplete: list[int]
) -> dict[str, Any]:
    """The merged run's manifest: the first shard's, with the run's own id and status, the
    shards' item and strata counts, spend, simulator counts, sessions and warnings joined,
    `merged` naming the parts and, for a partial merge, `partial`."""
    m = {k: v for k, v in parts[0].manifest.items() if k not in ("shard", "error")}
    versions = sorted({str(p.manifest.get("tool_version")) for p in parts})
    mixed: set[str] = set()
    if len(versions) > 1:  # allowed (a long sweep may straddle an upgrade), but said
        mixed = {f"the shards ran different tts-bench versions: {', '.join(versions)}"}
    strata: dict[str, dict[str, int]] = {}
    recognised: dict[str, dict[str, int]] = {}
    for p in parts:
        for col, counts in (p.manifest.get("strata_counts") or {}).items():
            for value, k in counts.items():
                strata.setdefault(col, {}).setdefault(value, 0)
                strata[col][value] += k
        for model, c in (p.manifest.get("sim_recognised") or {}).items():
            kept = recognised.setdefault(model, {"recognised": 0, "seen": 0})
            for key in kept:
                kept[key] += int(c.get(key, 0))
    # the unsplit run's key order (dataset order): the analysis orders strata by it
    order = parts[0].shard.get("strata_order") or {}
    for col, counts in strata.items():
        first = [v for v in order.get(col) or [] if v in counts]
        strata[col] = {v: counts[v] for v in [*first, *(v for v in counts if v not in first)]}
    starts = [p.manifest["started_at"] for p in parts if p.manifest.get("started_at")]
    ends = [p.manifest["finished_at"] for p in parts if p.manifest.get("finished_at")]
    m.update(
        run_id=run_id,
        status=PARTIAL if missing or incomplete else "complete",
        started_at=min(starts) if starts else None,
        finished_at=max(ends) if ends else now_iso(),
        item_count=sum(int(p.shard["items"]) for p in parts),
        strata_counts=strata,
        spent_usd=round(sum(float(p.manifest.get("spent_usd") or 0.0) for p in parts), 10),
        sessions=[{**s, "shard": p.shard["index"]} for p in parts for s in p.manifest["sessions"]],
        warnings=sorted({w for p in parts for w in p.manifest.get("warnings") or []} | mixed),
        merged={
            "count": parts[0].shard["count"],
            "suite_fingerprint": parts[0].shard["suite_fingerprint"],
            "seed": parts[0].shard["seed"],
            "merged_at": now_iso(),
            "shards": [
                {
                    "index": p.shard["index"],
                    "run_id": p.manifest.get("run_id"),
                    "status": p.manifest.get("status"),
                    "items": p.shard["items"],
                    "records": len(p.records),
                }
                for p in parts
            ],
        },
    )
    if recognised:
        m["sim_recognised"] = recognised
    if missing or incomplete:
        m["partial"] = {"missing": missing, "incomplete": incomplete}
    return m


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(p.name != LOCK for p in out.iterdir())):
        raise UserError(
            f"{out}: already exists and is not empty (merge writes a new run directory)"
        )


def merge(dirs: list[Path], out: Path, *, allow_partial: bool = False) -> MergeResult:
    """Merge the shard run directories `dirs` into the new run directory `out` (absent or
    empty). allow_partial: merge what exists when a shard is missing or unfinished (status
    `partial`); otherwise that is a UserError naming them. Writes manifest.json (status
    `running` first, the final status last), records.jsonl and calls.jsonl under the new
    directory's lock; the report is the caller's (`report.write_all`)."""
    _check_out(out)
    parts = sorted((read_part(Path(d)) for d in dirs), key=lambda p: p.shard["index"])
    check_parts(parts)
    missing, incomplete = gaps(parts)
    if (missing or incomplete) and not allow_partial:
        raise UserError(
            f"merge: {_gap_line(parts, missing, incomplete)} "
            "(finish it with `tts-bench run SUITE --resume DIR`, or pass --allow-partial)"
        )
    lock = RunLock(out).acquire()
    try:
        _check_out(out)  # another process may have filled it meanwhile
        manifest = merged_manifest(parts, out.name, missing, incomplete)
        write_manifest(out, {**manifest, "status": "running", "finished_at": None})
        n = _write_rows(parts, out)
        write_manifest(out, manifest)
    finally:
        lock.release()
    new = [w for w in manifest["warnings"] if w.startswith("the shards ran different")]
    return MergeResult(out, manifest["status"], n, missing, incomplete, new)


def _write_rows(parts: list[Part], out: Path) -> int:
    """records.jsonl and calls.jsonl in the unsplit schedule; returns the record count.
    Calls of a pair without a record (a shard killed mid-pair) are left out, as a resume
    drops them."""
    records = {(str(r["item_id"]), str(r["config"])): r for p in parts for r in p.records}
    calls: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for p in parts:
        for c in load_calls(p.run_dir):
            key = (str(c.get("item_id")), str(c.get("config")))
            if key in records:
                calls.setdefault(key, []).append(c)
    configs = [str(c["name"]) for c in parts[0].manifest.get("configs") or []]
    seed = int(parts[0].shard["seed"])
    order = pairs(item_order({i for i, _ in records}, seed), configs)
    extra = sorted(set(records) - set(order))  # configs the manifest lacks: never, but kept
    rec_lines, call_lines = [], []
    for key in [*order, *extra]:
        if key not in records:
            continue
        call_lines += [json.dumps(c, default=str) + "\n" for c in calls.get(key, [])]
        rec_lines.append(json.dumps(records[key], default=str) + "\n")
    atomic_write_text(out / CALLS, "".join(call_lines))
    atomic_write_text(out / RECORDS, "".join(rec_lines))
    return len(rec_lines)
