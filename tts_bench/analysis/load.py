"""Read a run directory into aligned (config, item) matrices for the estimators.

Every figure is a masked mean over items, so the records are laid out once as arrays of shape
(configs, items): `present`, `scored`, `value` (the scorer's value: 1/0, or F1), `cost`
(NaN = unknown), `latency`, tokens and calls. Items are the union over configs, in a fixed
sorted order, with their strata and cluster labels; `strata_values` lists each column's
values in display order (analysis/strata.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tts_bench.analysis.strata import stratum_order
from tts_bench.errors import UserError
from tts_bench.suite import AnalysisSpec, ScorerSpec

INFRA = ("rate_limited", "timeout", "api_error")


@dataclass
class RunData:
    """A run's records as (config, item) arrays plus what the analysis needs from the manifest."""

    run_dir: Path
    manifest: dict[str, Any]
    configs: list[str]
    baseline: str
    items: list[str]
    strata: dict[str, list[str]]  # column -> label per item
    clusters: list[str] | None
    cluster_column: str | None
    scorer: ScorerSpec
    analysis: AnalysisSpec
    config_specs: dict[str, dict[str, Any]]
    records: list[list[dict[str, Any] | None]]  # [config][item] -> record or None
    present: np.ndarray = field(init=False)
    scored: np.ndarray = field(init=False)
    value: np.ndarray = field(init=False)
    correct: np.ndarray = field(init=False)
    cost: np.ndarray = field(init=False)
    latency: np.ndarray = field(init=False)
    input_tokens: np.ndarray = field(init=False)
    output_tokens: np.ndarray = field(init=False)
    reasoning_tokens: np.ndarray = field(init=False)
    n_calls: np.ndarray = field(init=False)
    recall: np.ndarray = field(init=False)
    strata_values: dict[str, list[str]] = field(init=False)  # column -> values, display order

    def __post_init__(self) -> None:
        recs = self.records
        self.strata_values = {
            col: stratum_order(labels, self.manifest, col) for col, labels in self.strata.items()
        }
        self.present = np.array([[r is not None for r in row] for row in recs], dtype=bool)
        self.scored = np.array(
            [[r is not None and r.get("correct") is not None for r in row] for row in recs]
        )
        self.correct = _num(recs, lambda r: _boolf(r.get("correct")))
        if self.scorer.type == "set_f1":
            # the scorer's value is the F1; `correct` (exact set) is kept as exact_accuracy
            self.value = _num(
                recs, lambda r: r.get("score") if r.get("correct") is not None else None
            )
            self.scored &= ~np.isnan(self.value)
        else:
            self.value = self.correct
        self.cost = _num(recs, "cost_usd")
        self.latency = _num(recs, "latency_s")
        self.input_tokens = _num(recs, "input_tokens")
        self.output_tokens = _num(recs, "output_tokens")
        self.reasoning_tokens = _num(recs, "reasoning_tokens")
        self.n_calls = _num(recs, "n_calls")
        self.recall = _num(recs, lambda r: (r.get("metrics") or {}).get("recall"))

    @property
    def metric(self) -> str:
        return "f1" if self.scorer.type == "set_f1" else "accuracy"

    def index(self, config: str) -> int:
        return self.configs.index(config)


def _boolf(v: Any) -> float | None:
    return None if v is None else float(bool(v))


def _num(recs: list[list[dict[str, Any] | None]], get: Any) -> np.ndarray:
    """(configs, items) floats of get(record) (get: a key, or a function of the record); NaN
    where there is no record, the value is None, or it is no number."""
    out = np.full((len(recs), len(recs[0]) if recs else 0), np.nan)
    for c, row in enumerate(recs):
        if isinstance(get, str):
            vals = [None if r is None else r.get(get) for r in row]
        else:
            vals = [None if r is None else get(r) for r in row]
        try:  # the common case, all numbers or None, converted at once
            out[c] = np.array([np.nan if v is None else v for v in vals], dtype=float)
            continue
        except (TypeError, ValueError):
            pass
        for i, v in enumerate(vals):
            if v is not None:
                try:
                    out[c, i] = float(v)
                except (TypeError, ValueError):
                    pass
    return out


def load_run(run_dir: Path | str) -> RunData:
    """Manifest + records (torn last line ignored, the last line of a repeated pair wins)."""
    from tts_bench import store

    rd = Path(run_dir)
    return run_data(rd, store.read_manifest(rd), store.load_records(rd))


def run_data(run_dir: Path | str, manifest: dict[str, Any], rows: list[dict[str, Any]]) -> RunData:
    """The analysis' tables from a manifest and records already read (`store.read_manifest`,
    `store.load_records`), so one read serves the summary and the report. The records are
    referenced, not copied."""
    from tts_bench import store

    rd = Path(run_dir)
    suite = manifest.get("suite") or {}
    try:
        scorer = ScorerSpec.model_validate(suite.get("scorer") or {})
        analysis = AnalysisSpec.model_validate(suite.get("analysis") or {})
    except Exception as exc:  # pydantic ValidationError: a hand-edited manifest
        raise UserError(f"{rd / store.MANIFEST}: suite.scorer/analysis invalid ({exc})") from None
    cfg_list = [c["name"] for c in (suite.get("configs") or manifest.get("configs") or [])]
    seen = [str(r["config"]) for r in rows]
    configs = cfg_list + sorted(set(seen) - set(cfg_list))
    configs = [c for c in configs if c in set(seen)]
    if not configs:
        raise UserError(f"{rd / store.RECORDS}: no records to analyse")
    baseline = str(suite.get("baseline") or manifest.get("baseline") or configs[0])
    if baseline not in configs:
        raise UserError(f"{rd}: baseline config {baseline!r} has no records")
    items = sorted({str(r["item_id"]) for r in rows})
    pos = {it: i for i, it in enumerate(items)}
    cpos = {c: j for j, c in enumerate(configs)}
    grid: list[list[dict[str, Any] | None]] = [[None] * len(items) for _ in configs]
    strata: dict[str, list[str]] = {}
    clusters: list[str | None] = [None] * len(items)
    for r in rows:
        i, j = pos[str(r["item_id"])], cpos[str(r["config"])]
        grid[j][i] = r
        for col, val in (r.get("strata") or {}).items():
            col = str(col)
            if col not in strata:  # (a setdefault default would build a list per record)
                strata[col] = [""] * len(items)
            strata[col][i] = str(val)
        if r.get("cluster") is not None:
            clusters[i] = str(r["cluster"])
    fields = (suite.get("dataset") or {}).get("fields") or {}
    declared = [str(s) for s in fields.get("strata") or []]
    order = declared + sorted(set(strata) - set(declared))
    strata = {c: strata[c] for c in order if c in strata}
    cluster_col = fields.get("cluster")
    use_clusters = cluster_col is not None and any(c is not None for c in clusters)
    specs = {}
    for c in suite.get("configs") or []:
        specs[c["name"]] = dict(c)
    for c in manifest.get("configs") or []:
        specs.setdefault(c["name"], {}).update({k: v for k, v in c.items() if v is not None})
    return RunData(
        run_dir=rd,
        manifest=manifest,
        configs=configs,
        baseline=baseline,
        items=items,
        strata=strata,
        clusters=[c if c is not None else f"item:{items[i]}" for i, c in enumerate(clusters)]
        if use_clusters
        else None,
        cluster_column=cluster_col if use_clusters else None,
        scorer=scorer,
        analysis=analysis,
        config_specs=specs,
        records=grid,
    )
