"""Where an import lands and how the manifest of an imported run is kept.

Run directory: with `run_id`, `OUT/RUN_ID` (as `tts-bench run --out OUT --run-id RUN_ID`);
without, `OUT` itself when it is an imported run (the config is added), missing or empty (it
is created), else `OUT/<generated run id>` (OUT is a parent folder such as `results/`).
A native run cannot receive imports: its configs were produced by the runner.

An import is all or nothing (`commit`): the new run directory is built beside the run, as
`.<run>.import-<pid>` (new files written, the others hard-linked), checked, and swapped in
with one rename; a crash or an error before the swap leaves the run byte for byte as it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tts_bench import __version__
from tts_bench.errors import UserError
from tts_bench.importers.common import is_sim_model
from tts_bench.store import MANIFEST, new_run_id, now_iso, read_manifest
from tts_bench.suite import AnalysisSpec, ConfigSpec, DatasetSpec, Defaults, FieldMap, Suite


def resolve(out: Path, run_id: str | None, name: str) -> tuple[Path, dict[str, Any] | None]:
    """(run directory, its manifest if it already exists as an imported run)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a directory")
    if run_id is not None:
        if not run_id or any(c in run_id for c in "/\\\n"):
            raise UserError(f"--run-id {run_id!r}: must be a plain name")
        run_dir = out / run_id
    elif (out / MANIFEST).exists() or not out.exists() or not any(out.iterdir()):
        run_dir = out
    else:
        run_dir = out / new_run_id(f"import-{name}")
    if not (run_dir / MANIFEST).exists():
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"{run_dir}: exists, is not empty and is not a run directory")
        return run_dir, None
    manifest = read_manifest(run_dir)
    if manifest.get("status") != "imported":
        raise UserError(
            f"{run_dir}: a {manifest.get('status')!r} run of the runner; imports can "
            "only be added to an imported run directory"
        )
    return run_dir, manifest


def config_sizes(pool: int) -> list[int]:
    """N values the analysis shows for a pool of `pool`: powers of two up to it, and it."""
    ns = [1]
    while ns[-1] * 2 < pool:
        ns.append(ns[-1] * 2)
    return sorted(set([*ns, pool]))


def new_manifest(
    *,
    run_dir: Path,
    name: str,
    source: str,
    scorer: Any,
    fields: FieldMap,
    analysis: AnalysisSpec | None,
    seed: int,
    model: str | None,
) -> dict[str, Any]:
    """The manifest of a fresh imported run (configs are added by `add_config`)."""
    placeholder = ConfigSpec(name="_", strategy="imported")
    suite = Suite(
        name=name,
        description=f"pools imported from {source}",
        seed=seed,
        dataset=DatasetSpec(source=source, fields=fields),
        scorer=scorer,
        defaults=Defaults(model=model or "unknown"),
        baseline="_",
        configs=[placeholder],
        analysis=analysis or AnalysisSpec(),
    ).model_dump(mode="json")
    suite["configs"] = []
    suite["baseline"] = None
    now = now_iso()
    return {
        "run_id": run_dir.name,
        "suite": suite,
        "status": "imported",
        "started_at": now,
        "finished_at": now,
        "tool_version": __version__,
        "litellm_version": None,
        "python_version": platform.python_version(),
        "seed": seed,
        "dataset_fingerprint": None,
        "item_count": 0,
        "strata_counts": {},
        "configs": [],
        "baseline": None,
        "simulated": False,
        "spent_usd": 0.0,  # nothing was spent by this tool; the pools' own costs are in records
        "sessions": [],
        "provenance": {},
    }


def add_config(
    manifest: dict[str, Any],
    *,
    config: str,
    model: str | None,
    pool: int,
    provenance: dict[str, Any],
    records: list[dict[str, Any]],
    all_records: list[dict[str, Any]],
) -> None:
    """Register one imported config: suite.configs, configs, baseline (the first), counts."""
    suite = manifest["suite"]
    entry = {"name": config, "strategy": "imported", "model": model, "n": config_sizes(pool)}
    suite["configs"].append(entry)
    manifest["configs"].append(dict(entry))
    if not suite.get("baseline"):
        suite["baseline"] = manifest["baseline"] = config
    if manifest["dataset_fingerprint"] is None:
        manifest["dataset_fingerprint"] = provenance["sha256"]
    manifest["provenance"][config] = provenance
    manifest["simulated"] = all(is_sim_model(c.get("model")) for c in manifest["configs"])
    items: dict[str, dict[str, str]] = {}
    for r in all_records:
        items.setdefault(str(r["item_id"]), r.get("strata") or {})
    strata: dict[str, dict[str, int]] = {}
    cols: list[str] = []
    for labels in items.values():
        for col, val in labels.items():
            if col not in cols:
                cols.append(col)
            strata.setdefault(col, {}).setdefault(val, 0)
            strata[col][val] += 1
    manifest["item_count"] = len(items)
    manifest["strata_counts"] = strata
    fields = suite["dataset"]["fields"]
    fields["strata"] = cols
    if any(r.get("cluster") is not None for r in all_records):
        fields["cluster"] = "cluster"
    manifest["finished_at"] = now_iso()
    manifest["sessions"].append(
        {
            "started_at": provenance["imported_at"],
            "imported": config,
            "finished_at": now_iso(),
            "status": "imported",
            "records": len(records),
        }
    )


def coverage_warnings(config: str, new_ids: set[str], old: dict[str, set[str]]) -> list[str]:
    """Items present in only some configs: their deltas cannot be paired."""
    out = []
    for other, ids in old.items():
        only_new, only_old = new_ids - ids, ids - new_ids
        for n_, a, b, ex in (
            (len(only_new), config, other, only_new),
            (len(only_old), other, config, only_old),
        ):
            if n_:
                sample = ", ".join(sorted(ex)[:3])
                out.append(
                    f"{n_} items of config {a!r} are not in config {b!r} (e.g. {sample}); "
                    "they are left out of paired deltas"
                )
    return out


# -- all-or-nothing writes ------------------------------------------------------------------

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> None:
    """Swap two directories in one step (Linux `renameat2(RENAME_EXCHANGE)`). Where that is
    unavailable, three renames: a reader may then miss `b` for an instant, a crash between
    them leaves the old run under `a`'s name (still byte-identical, found by its name)."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), str(b))
    aside = a.with_name(a.name + ".old")
    os.rename(b, aside)
    os.rename(a, b)
    os.rename(aside, a)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stage_prefix(run_dir: Path) -> str:
    return f".{run_dir.name}.import-"


def clear_stale(run_dir: Path) -> None:
    """Remove the staging directories of imports into `run_dir` whose process is gone (a
    SIGKILL before or just after the swap leaves one beside the run)."""
    prefix = _stage_prefix(run_dir)
    if not run_dir.parent.is_dir():
        return
    for entry in run_dir.parent.iterdir():
        pid = entry.name[len(prefix) :].split(".")[0]
        if entry.name.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copy2(src, dst)


def _keep(src: Path, dst: Path) -> None:
    """`src` of the old run into the staging directory, sharing its data (hard links)."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(src), str(dst))


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def commit(
    run_dir: Path,
    write: Callable[[Path], None],
    *,
    keep: bool,
    check: Callable[[Path], None] | None = None,
) -> None:
    """Write a run directory all at once. `write(stage)` writes the new files into a staging
    directory beside `run_dir`; with `keep` (an existing run, whose lock the caller holds),
    every other file of the run is kept by hard link, the lock file included, so the lock
    stays held across the swap; `check(stage)` may refuse the result (raise). Then the
    staging directory replaces the run in one rename. Any error or crash before that leaves
    `run_dir` untouched; the staging directory is removed (or, after a SIGKILL, by the next
    import). A new `run_dir` that another process created meanwhile is a UserError."""
    parent = run_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    clear_stale(run_dir)
    stage = parent / f"{_stage_prefix(run_dir)}{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        write(stage)
        if keep:
            for entry in run_dir.iterdir():
                leftover = entry.name.startswith(".") and entry.name.endswith(".tmp")
                if not leftover and not (stage / entry.name).exists():
                    _keep(entry, stage / entry.name)
        if check is not None:
            check(stage)
        _fsync_dir(stage)
        if keep:
            exchange(stage, run_dir)
        else:
            try:
                os.rename(stage, run_dir)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    raise
                raise UserError(
                    f"{run_dir}: was created by another process meanwhile; import again"
                ) from None
        _fsync_dir(parent)
    finally:
        # before the swap: the unfinished new run; after it: the old run
        shutil.rmtree(stage, ignore_errors=True)
