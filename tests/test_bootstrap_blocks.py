"""The bootstrap in bounded memory gives the figures of the full float32 matrix it replaced.

The reference below is the former computation, written out plainly: one int64 draw call per
2,048 resamples into a float32 (resamples, items) matrix, quantiles from one cumulative sum
over the whole matrix, means from one matrix product. The new code draws the same counts in
small pieces as uint8 and reads everything off blocks of resamples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tts_bench.analysis import bootstrap, deltas, halves, routing, saturation
from tts_bench.analysis import summary as summary_mod
from tts_bench.analysis.bootstrap import MeanBatch, counts_matrix, weighted_quantiles


def ref_weight_matrix(
    n_items: int,
    *,
    resamples: int,
    seed: int,
    strata: Sequence[object] | None = None,
    clusters: Sequence[object] | None = None,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if clusters is None:
        unit_of_item, n_units = np.arange(n_items), n_items
        unit_strata = list(strata) if strata is not None else None
    else:
        codes: dict[object, int] = {}
        unit_of_item = np.array([codes.setdefault(c, len(codes)) for c in clusters])
        n_units, unit_strata = len(codes), None
        if strata is not None:
            first: dict[int, object] = {}
            for u, s in zip(unit_of_item, strata, strict=True):
                first.setdefault(int(u), s)
            unit_strata = [first[u] for u in range(n_units)]
    groups: dict[object, list[int]] = {}
    for u in range(n_units):
        groups.setdefault(unit_strata[u] if unit_strata is not None else 0, []).append(u)
    w_units = np.zeros((n_units, resamples), dtype=np.float32)
    for key in sorted(groups, key=str):
        members = np.asarray(groups[key])
        n = members.size
        out = np.empty((n, resamples), dtype=np.float32)
        for start in range(0, resamples, 2048):
            r = min(2048, resamples - start)
            idx = rng.integers(0, n, size=(r, n)) * r + np.arange(r)[:, None]
            out[:, start : start + r] = np.bincount(idx.ravel(), minlength=r * n).reshape(n, r)
        w_units[members] = out
    return w_units.T if clusters is None else w_units[unit_of_item].T


def ref_weighted_quantiles(
    w: np.ndarray, x: np.ndarray, qs: Sequence[float], mask: np.ndarray | None = None
) -> np.ndarray:
    xv = np.asarray(x, dtype=float)
    keep = ~np.isnan(xv) if mask is None else (np.asarray(mask, bool) & ~np.isnan(xv))
    idx = np.flatnonzero(keep)
    out = np.full((w.shape[0], len(qs)), np.nan)
    if idx.size == 0:
        return out
    order = idx[np.argsort(xv[idx], kind="stable")]
    sorted_x = xv[order]
    cum = np.cumsum(w.T[order], axis=0)
    total = cum[-1]
    for j, q in enumerate(qs):
        pos = (cum < np.ceil(q * total - 1e-9)[None, :]).sum(axis=0)
        out[:, j] = sorted_x[np.minimum(pos, sorted_x.size - 1)]
    out[total == 0] = np.nan
    return out


class RefMeanBatch(MeanBatch):
    """One product per batch over the whole float32 matrix."""

    @classmethod
    def solve(cls, batches: Sequence[MeanBatch]) -> None:
        for b in batches:
            if b._out is not None:
                continue
            w = np.asarray(b.w, dtype=np.float32)
            k = len(b._num)
            cols = np.column_stack(b._num + b._den).astype(np.float32)
            prod = (w @ cols).astype(float) if k else np.zeros((w.shape[0], 0))
            with np.errstate(invalid="ignore", divide="ignore"):
                b._out = prod[:, :k] / prod[:, k:][:, b._den_of] if k else prod


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces of a few rows per draw, blocks of a few resamples per product, and groups of a
    few sorted items per running count (items in a partial last group too)."""
    monkeypatch.setattr(bootstrap, "_PIECE_CELLS", 3 * 41)
    monkeypatch.setattr(bootstrap, "_BLOCK_CELLS", 7 * 41)
    monkeypatch.setattr(bootstrap, "_GROUP", 4)


CASES = [
    (13, 5000, None, None),  # three draw chunks, the last partial
    (41, 2049, [i % 3 for i in range(41)], None),  # strata of 14/14/13
    (40, 2100, ["e"] * 30 + ["h"] * 10, [i // 4 for i in range(40)]),  # clusters in strata
    (1, 50, None, None),  # one unit: no draw at all
]


@pytest.mark.parametrize(("n", "resamples", "strata", "clusters"), CASES)
def test_counts_are_the_full_matrix_draw_for_draw(
    small_blocks: None, n: int, resamples: int, strata: Any, clusters: Any
) -> None:
    kw = {"resamples": resamples, "seed": 7, "strata": strata, "clusters": clusters}
    got, ref = counts_matrix(n, **kw), ref_weight_matrix(n, **kw)
    assert got.dtype == np.uint8 and got.shape == ref.shape == (resamples, n)
    assert np.array_equal(got, ref)


def test_quantiles_and_means_in_blocks_match_the_full_matrix(small_blocks: None) -> None:
    rng = np.random.default_rng(3)
    n = 41
    strata = [i % 3 for i in range(n)]
    w = counts_matrix(n, resamples=3000, seed=1, strata=strata)
    ref_w = ref_weight_matrix(n, resamples=3000, seed=1, strata=strata)
    assert len(bootstrap._row_blocks(w)) > 100  # really in blocks
    x = rng.lognormal(size=n)
    x[[4, 9]] = np.nan
    mask = rng.random(n) < 0.8
    qs = [0.0, 0.5, 0.95, 0.99, 1.0]
    # order statistics of exact integer running sums: identical
    assert np.array_equal(
        weighted_quantiles(w, x, qs, mask), ref_weighted_quantiles(ref_w, x, qs, mask), True
    )
    new, ref = MeanBatch(w), RefMeanBatch(ref_w)
    for b in (new, ref):
        b.add(np.nan_to_num(x) * mask, mask)
        b.add(np.nan_to_num(x) ** 2, ~np.isnan(x))
        b.add(mask.astype(float), np.ones(n))
    # float32 products summed in another order: equal to float32 rounding
    np.testing.assert_allclose(new.run(), ref.run(), rtol=2e-6)


def _leaves(x: Any, path: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        return {k: v for key, val in x.items() for k, v in _leaves(val, f"{path}/{key}").items()}
    if isinstance(x, list | tuple):
        return {k: v for i, val in enumerate(x) for k, v in _leaves(val, f"{path}[{i}]").items()}
    return {path: x}


def _run(tmp: Path) -> Path:
    from tts_bench.report.synthetic import write_synthetic_run

    rd = write_synthetic_run(tmp / "run", items=90, configs=6, text_chars=20)
    # costs that vary per record: a constant cost ratio has an interval of zero width,
    # whose presence is float32 rounding noise (in the former code as much as in this one)
    rng = np.random.default_rng(2)
    path = rd / "records.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    for r in recs:
        r["cost_usd"] = round(r["cost_usd"] * float(rng.lognormal(0, 0.3)), 10)
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return rd


def test_summary_figures_match_the_full_matrix(
    tmp_path: Path, small_blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tts_bench import store
    from tts_bench.report.markdown import render_markdown

    rd = _run(tmp_path)
    new, new_policy = summary_mod.summarize_with_policy(rd, resamples=2500)
    with monkeypatch.context() as m:
        m.setattr(summary_mod, "counts_matrix", ref_weight_matrix)
        for mod in (deltas, halves, routing, saturation):
            m.setattr(mod, "MeanBatch", RefMeanBatch)
        m.setattr(deltas, "weighted_quantiles", ref_weighted_quantiles)
        ref, ref_policy = summary_mod.summarize_with_policy(rd, resamples=2500)
    got, want = _leaves([new, new_policy]), _leaves([ref, ref_policy])
    assert got.keys() == want.keys()
    bootstrapped = 0
    for key, v in want.items():
        if isinstance(v, float) and not isinstance(v, bool):
            assert isinstance(got[key], float), key
            # every printed figure has at most 4 significant digits
            assert math.isclose(got[key], v, rel_tol=1e-5, abs_tol=1e-9), (key, got[key], v)
            bootstrapped += got[key] != v
        else:
            assert got[key] == v, key
    assert bootstrapped > 0  # the bootstrap's own figures were compared, not only exact ones
    manifest = store.read_manifest(rd)
    assert render_markdown(new, manifest) == render_markdown(ref, manifest)
