"""`tts-bench import`: sample pools produced elsewhere, written as an ordinary run directory.

`import_pools(source, fmt=..., out=...)` reads a `pool-jsonl`, `lm-eval` or `inspect` file,
extracts and scores every sample with the suite's scorer (the same code as a native run), and
writes one record per item as config `config` of strategy `imported`: the answer is the majority
vote of the pool, `samples` the per-sample answers, so the analysis derives maj@k, pass@k and
the adaptive-stopping replay for every k exactly as for a native `self_consistency` config.
Several imports into one run directory are configs of one run, paired by item id.
See docs/import.md and `importers.rundir` for where the run directory is.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.importers.common import (
    ImportSpec,
    Source,
    build_record,
    check_item,
    file_sha256,
    load_spec,
    parse_scorer,
    with_normalize,
)

FORMATS = ("pool-jsonl", "lm-eval", "inspect")


@dataclass
class ImportResult:
    """run_dir: the run directory written; config: the config name given to these pools;
    n_items, pool_size (the largest pool when mixed sizes were allowed); warnings: non-fatal."""

    run_dir: Path
    config: str
    n_items: int
    pool_size: int
    warnings: list[str] = field(default_factory=list)


def _reader(fmt: str) -> Callable[[Path, ImportSpec], Source]:
    if fmt == "pool-jsonl":
        from tts_bench.importers.pool_jsonl import read
    elif fmt == "lm-eval":
        from tts_bench.importers.lm_eval import read
    elif fmt == "inspect":
        from tts_bench.importers.inspect_log import read
    else:
        raise UserError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return read


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "imported"


def import_pools(
    source: Path | str,
    *,
    fmt: str,
    out: Path | str,
    config: str | None = None,
    spec: Path | None = None,
    scorer: str | None = None,
    normalize: str | None = None,
    suite: Path | None = None,
    run_id: str | None = None,
    allow_mixed: bool = False,
) -> ImportResult:
    """Import the pools in `source` (format `fmt`: pool-jsonl | lm-eval | inspect) as config
    `config` (default: the model's name, else the file's / task's name) of a run directory.

    out/run_id: the run directory is `out/run_id` with a run_id, else `out` itself when it is
    an imported run (the config is added) or new/empty, else `out/<generated id>`.
    spec: field-mapping YAML (`ImportSpec`); scorer: `numeric|exact|choice|set_f1|regex:P`;
    suite: a suite YAML whose scorer, analysis settings, seed and name are used (`scorer`
    overrides its scorer); default scorer: the run's when adding, else `exact`.
    normalize: `scorer.normalize` steps, comma-separated ("" for none), set on that scorer.
    allow_mixed: accept pools of different sizes (else a UserError naming the first odd item).
    Raises UserError (one line naming the file and line or field) on bad input; writes nothing
    then. Adding to an existing run holds its lock (another writer: UserError "run DIR is in
    use (pid N)"), and every import is all or nothing (`rundir.commit`): an error or a kill
    at any point leaves the run directory as it was.
    """
    from tts_bench.fsutil import locked
    from tts_bench.scoring import make_scorer
    from tts_bench.store import load_records, now_iso
    from tts_bench.suite import FieldMap, ScorerSpec
    from tts_bench.suite import load as load_suite

    read = _reader(fmt)
    path = Path(source)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    if path.is_dir():
        raise UserError(f"{path}: is a directory; give the {fmt} file itself")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    map_spec = load_spec(spec)
    the_suite = load_suite(suite) if suite is not None else None
    wanted = parse_scorer(scorer) if scorer else (the_suite.scorer if the_suite else None)
    if wanted is not None and wanted.type == "judge":
        # an imported pool has no judge calls: every record would be unscored
        raise UserError(
            f"{suite}: scorer type judge cannot score imported samples; pass --scorer "
            "with a reference-based scorer (numeric, exact, choice, set_f1, regex:P)"
        )
    if normalize is not None and wanted is not None:
        wanted = with_normalize(wanted, normalize)

    try:
        src = read(path, map_spec)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text file (wrong --format?)") from None
    if not src.items:
        raise UserError(f"{path}: no items")
    sizes = [len(it.samples) for it in src.items]
    if not allow_mixed:
        for it in src.items:
            if len(it.samples) != sizes[0]:
                raise UserError(
                    f"{it.where}: item {it.id!r} has {len(it.samples)} samples, the "
                    f"first item {sizes[0]} (allow mixed pool sizes to accept this)"
                )

    name = the_suite.name if the_suite else _slug(src.name or path.stem)
    from tts_bench.importers import rundir

    run_dir, manifest = rundir.resolve(Path(out), run_id, name)
    with contextlib.ExitStack() as held:
        if manifest is not None:
            # Into an existing run: hold its lock from reading the run to swapping the new
            # files in, and read it again under the lock.
            held.enter_context(locked(run_dir))
            run_dir, manifest = rundir.resolve(Path(out), run_id, name)
        if manifest is not None:
            have = ScorerSpec.model_validate(manifest["suite"].get("scorer") or {})
            wanted = wanted or with_normalize(have, normalize)
            if wanted is not None and wanted.model_dump() != have.model_dump():
                raise UserError(
                    f"{run_dir}: this run scores with {have.type!r} "
                    f"({have.model_dump(exclude_defaults=True)}); import with the same scorer"
                )
            wanted = have
        sc_spec = wanted or with_normalize(ScorerSpec(), normalize) or ScorerSpec()
        sc = make_scorer(sc_spec)
        model = src.model
        cfg = config or _slug((model or "").split("/")[-1] or src.name or path.stem)
        if not cfg or any(c in cfg for c in "/\\\n"):
            raise UserError(
                f"--config {cfg!r}: config names must be non-empty, without / or newline"
            )
        existing_run = manifest is not None
        existing = load_records(run_dir) if existing_run else []
        old_ids: dict[str, set[str]] = {}
        for r in existing:
            old_ids.setdefault(str(r["config"]), set()).add(str(r["item_id"]))
        if manifest is not None and (
            cfg in old_ids or cfg in {c["name"] for c in manifest["configs"]}
        ):
            raise UserError(
                f"{run_dir}: already has a config {cfg!r}; name this import with --config"
            )

        known = {str(r["item_id"]): r for r in existing}
        seed = the_suite.seed if the_suite else int((manifest or {}).get("seed") or 0)
        built = []
        for it in src.items:
            check_item(it, sc)
            prior = known.get(it.id)
            if prior is not None:  # same item in another config: keep its strata and cluster
                it.strata = it.strata or dict(prior.get("strata") or {})
                it.cluster = it.cluster if it.cluster is not None else prior.get("cluster")
            built.append(
                build_record(it, config=cfg, scorer=sc, model=it.model or model, seed=seed)
            )

        warnings = list(src.warnings)
        warnings += rundir.coverage_warnings(cfg, {it.id for it in src.items}, old_ids)
        if allow_mixed and len(set(sizes)) > 1:
            warnings.append(
                f"{path}: pool sizes differ ({min(sizes)}..{max(sizes)}); curves use the "
                f"first {min(sizes)} samples of every item"
            )

        if manifest is None:
            fields = FieldMap(id=map_spec.id, target=map_spec.target)
            manifest = rundir.new_manifest(
                run_dir=run_dir,
                name=name,
                source=str(path.resolve()),
                scorer=sc_spec,
                fields=fields,
                analysis=the_suite.analysis if the_suite else None,
                seed=seed,
                model=model,
            )
        provenance: dict[str, Any] = {
            "format": fmt,
            "source": str(path.resolve()),
            "sha256": file_sha256(path),
            "imported_at": now_iso(),
            "tool": f"tts-bench {manifest['tool_version']}",
            "items": len(built),
            "pool_size": max(sizes),
            "model": model,
        }
        records = [b.record for b in built]
        rundir.add_config(
            manifest,
            config=cfg,
            model=model,
            pool=max(sizes),
            provenance=provenance,
            records=records,
            all_records=existing + records,
        )
        _commit(run_dir, manifest, [c for b in built for c in b.calls], records, existing_run)
        unscored = sum(1 for r in records if r["status"] != "ok")
        if unscored:
            warnings.append(
                f"{unscored} of {len(records)} pools of {cfg!r} have a failed sample: "
                "they are unscored, as in a native run"
            )
        return ImportResult(
            run_dir=run_dir, config=cfg, n_items=len(built), pool_size=max(sizes), warnings=warnings
        )


def _commit(
    run_dir: Path,
    manifest: dict[str, Any],
    calls: list[dict[str, Any]],
    records: list[dict[str, Any]],
    adding: bool,
) -> None:
    """Append `calls` and `records` to the run (`adding`) or start it, with its new manifest,
    all at once (`rundir.commit`); the new run must read back before it replaces the old."""
    from tts_bench.fsutil import atomic_write_bytes
    from tts_bench.importers import rundir
    from tts_bench.store import CALLS, RECORDS, load_records, read_manifest, write_manifest

    new = {
        CALLS: "".join(json.dumps(c) + "\n" for c in calls).encode("utf-8"),
        RECORDS: "".join(json.dumps(r) + "\n" for r in records).encode("utf-8"),
    }

    def write(stage: Path) -> None:
        for name, data in new.items():
            old = (run_dir / name).read_bytes() if adding and (run_dir / name).exists() else b""
            old = old[: old.rfind(b"\n") + 1]  # a torn last line is dropped, as readers do
            atomic_write_bytes(stage / name, old + data)
        write_manifest(stage, manifest)

    def check(stage: Path) -> None:
        read_manifest(stage)
        load_records(stage)

    rundir.commit(run_dir, write, keep=adding, check=check)


__all__ = ["FORMATS", "ImportResult", "import_pools"]
