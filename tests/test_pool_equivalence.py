"""`build_pools` and the adaptive `replay` equal, bit for bit, the plain per-item and per-sample
implementations they replaced (written out below as references): every array and figure
equal, NaN where NaN, on pools with abstaining and failed samples, unknown latencies and
costs, selector scores, judged costs, mixed pool sizes, set_vote and the F1 metric."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.analysis_fixtures import DEFAULT, Cfg, make_run
from tts_bench import store
from tts_bench.analysis import stopping
from tts_bench.analysis.adaptive import (
    ABSTAIN_WINDOW,
    CHUNK_ROWS,
    MIN_ORDERS,
    ORDER_BUDGET,
    ORDERS,
    _bounded_ci,
    _knobs,
    _score_ci,
    replay,
)
from tts_bench.analysis.curves import Pools, _best_of_k_rows, _key_fn, build_pools, withheld
from tts_bench.analysis.estimators import NoneMode, majority_at_k, max_weights
from tts_bench.analysis.figures import fnum
from tts_bench.analysis.load import RunData, run_data
from tts_bench.analysis.stats import mean_interval, paired_interval
from tts_bench.report.synthetic import write_synthetic_run
from tts_bench.suite import ScorerSpec

# ---------------------------------------------------------------- reference implementations


def ref_sample_value(s: dict[str, Any], metric: str) -> float:
    if s.get("status", "ok") != "ok" or s.get("answer") is None:
        return 0.0
    v = s.get("value") if metric == "f1" else s.get("correct")
    if v is None:
        v = s.get("correct")
    return float(v) if v is not None else 0.0


def ref_build_pools(data: RunData, c: int, none: NoneMode = "abstain") -> Pools | None:
    spec = data.config_specs.get(data.configs[c], {})
    strategy = str(spec.get("strategy") or "")
    if withheld(data, c) is not None:
        return None
    judged = (strategy == "best_of_n" and spec.get("selector", "judge") == "judge") or (
        spec.get("weighted") == "judge"
    )
    recs = data.records[c]
    used = [i for i, r in enumerate(recs) if r and r.get("samples") and data.scored[c, i]]
    sizes = [len(recs[i]["samples"]) for i in used]  # type: ignore[index]
    if not sizes:
        return None
    k_max = min(sizes)
    n = len(data.items)
    key = _key_fn(data)
    values = np.zeros((n, k_max))
    scores = np.full((n, k_max), -np.inf)
    lat = np.zeros((n, k_max))
    fixed_lat = np.zeros(n)
    mean_cost = np.full(n, np.nan)
    fixed_cost = np.full(n, np.nan)
    maj = np.full((n, k_max), np.nan)
    mask = np.zeros(n, dtype=bool)
    answers: list[list[Any]] = [[] for _ in range(n)]
    has_scores = False
    voter = None
    sv = np.full((n, k_max), np.nan)
    prefix = np.full((n, k_max), np.nan)
    sampled: set[int] = set()
    if strategy == "set_vote":
        from tts_bench.analysis.setvote import SetVoter
        from tts_bench.scoring import make_scorer

        voter = SetVoter(make_scorer(data.scorer), spec)
    metric = data.metric
    for i, r in enumerate(recs):
        if not r or not r.get("samples") or not data.scored[c, i]:
            continue
        full = r["samples"]
        mask[i] = True
        keys: list[Any] = []
        raw: list[Any] = []
        s_lat = []
        for j, s in enumerate(full):
            x = s.get("latency_s")
            s_lat.append(np.nan if x is None else float(x))
            if j >= k_max:
                continue
            ok = s.get("status", "ok") == "ok" and s.get("answer") is not None
            keys.append(key(s["answer"]) if ok else None)
            raw.append(s["answer"] if ok else None)
            values[i, j] = ref_sample_value(s, metric) if ok else 0.0
            if s.get("score") is not None:
                scores[i, j] = float(s["score"])
                has_scores = True
        answers[i] = keys
        maj[i] = majority_at_k(keys, values[i], none=none)
        if voter is not None:
            sv[i], prefix[i], got = voter.curves(raw, r.get("target"), data.items[i])
            sampled.update(got)
        lat[i] = s_lat[:k_max]
        rec_lat = r.get("latency_s")
        slowest = float(np.max(s_lat))
        fixed_lat[i] = np.nan if rec_lat is None else max(0.0, float(rec_lat) - slowest)
        s_cost = [s.get("cost_usd") for s in full]
        if r.get("cost_usd") is not None and judged:
            fixed_cost[i] = 0.0
            mean_cost[i] = float(r["cost_usd"]) / len(full)
        elif r.get("cost_usd") is not None and all(x is not None for x in s_cost):
            fixed_cost[i] = max(0.0, float(r["cost_usd"]) - float(sum(s_cost)))
            mean_cost[i] = float(sum(s_cost[:k_max])) / k_max
    wmax = max_weights(k_max)
    nan_rows = np.where(mask[:, None], 0.0, np.nan)
    ks = np.arange(1, k_max + 1)
    cost = mean_cost[:, None] * ks[None, :] + fixed_cost[:, None]
    return Pools(
        k=k_max,
        sizes=(min(sizes), max(sizes)),
        mask=mask,
        majority=maj,
        pass_at_k=np.sort(values, axis=1) @ wmax.T + nan_rows,
        best_of_k=_best_of_k_rows(scores, values, wmax) + nan_rows if has_scores else None,
        cost=cost if (~np.isnan(cost[mask])).any() else None,
        latency=np.sort(lat, axis=1) @ wmax.T + fixed_lat[:, None] + nan_rows,
        answers=answers,
        values=values,
        selector="set_vote"
        if voter is not None
        else "best_of_k"
        if has_scores and strategy in ("best_of_n", "")
        else "majority",
        set_vote=sv + nan_rows if voter is not None else None,
        prefix=prefix if voter is not None else None,
        sampled_ks=sorted(sampled) if voter is not None else None,
    )


@dataclasses.dataclass
class RefTally:
    ids: np.ndarray
    v1: np.ndarray
    v2: np.ndarray
    answered: np.ndarray
    abstain_run: np.ndarray
    counts: np.ndarray

    @cached_property
    def prob(self) -> np.ndarray:
        table = stopping._beta_table(max(64, 1 << int(self.v1.max(initial=0)).bit_length()))
        return np.where(self.v1 > 0, table[self.v1, self.v2], 0.0)

    @cached_property
    def lead(self) -> np.ndarray:
        read = np.arange(1, self.ids.shape[1] + 1)[None, :]
        share = np.where(self.answered > 0, self.v1 / np.maximum(self.answered, 1), 0.0)
        return np.where(read >= stopping.MIN_SHARE_SAMPLES, share, 0.0)


def ref_tally(ids: np.ndarray) -> RefTally:
    ids = np.asarray(ids, dtype=np.int64)
    n, t = ids.shape
    classes = max(int(ids.max(initial=-1)) + 1, 1)
    onehot = ids[:, :, None] == np.arange(classes, dtype=np.int64)[None, None, :]
    counts = np.cumsum(onehot, axis=1, dtype=np.int32)
    if classes > 1:
        top2 = np.partition(counts, classes - 2, axis=2)[:, :, -2:]
        v1, v2 = top2[:, :, 1], top2[:, :, 0]
    else:
        v1 = counts[:, :, 0]
        v2 = np.zeros_like(v1)
    run = np.zeros((n, t), dtype=np.int64)
    prev = np.zeros(n, dtype=np.int64)
    for j in range(t):
        prev = np.where(ids[:, j] < 0, prev + 1, 0)
        run[:, j] = prev
    return RefTally(ids, v1, v2, (ids >= 0).cumsum(axis=1), run, counts)


def ref_stops(rule: str, knob: float, tl: Any, window: int) -> np.ndarray:
    n, t = tl.ids.shape
    out = np.zeros((n, t), dtype=bool)
    if rule == "esc":
        w = int(knob)
        for end in range(w, t + 1, w):
            win = tl.ids[:, end - w : end]
            out[:, end - 1] = (win == win[:, :1]).all(axis=1)
        return out
    silent = tl.abstain_run >= window
    if rule == "beta":
        return ((tl.prob >= knob) & (tl.v1 > 0)) | silent
    return ((tl.lead >= knob) & (tl.lead > 0)) | silent


def ref_encode(pools: Pools) -> tuple[np.ndarray, np.ndarray]:
    idx = np.flatnonzero(pools.mask)
    k = pools.k
    ids = np.full((idx.size, k), -1)
    vals = np.zeros((idx.size, k))
    for row, i in enumerate(idx):
        seen: dict[Any, int] = {}
        for j, a in enumerate(pools.answers[i][:k]):
            if a is None:
                continue
            cid = seen.setdefault(a, len(seen))
            ids[row, j] = cid
            vals[row, cid] = pools.values[i, j]
    return ids, vals


def ref_credit(tl: RefTally, cls_val: np.ndarray, at: np.ndarray) -> np.ndarray:
    rows = np.arange(at.size)
    counts = tl.counts[rows, at]
    v1 = tl.v1[rows, at][:, None]
    tied = (counts == v1) & (v1 > 0)
    return (tied * cls_val[:, : counts.shape[1]]).sum(axis=1) / np.maximum(tied.sum(axis=1), 1)


def ref_one_order(
    ids: np.ndarray, credit: np.ndarray | None, cls_val: np.ndarray, knobs: list
) -> tuple[np.ndarray, np.ndarray]:
    tl = ref_tally(ids)
    n = ids.shape[0]
    used = np.empty((len(knobs), n))
    got = np.empty((len(knobs), n))
    for j, (rule, _, value) in enumerate(knobs):
        stop = ref_stops(rule, value, tl, ABSTAIN_WINDOW)
        stop[:, -1] = True
        at = stop.argmax(axis=1)
        used[j] = at + 1
        got[j] = ref_credit(tl, cls_val, at) if credit is None else credit[np.arange(n), at]
    return used, got


def ref_replay(
    pools: Pools, *, orders: int = ORDERS, seed: int = 0, confidence: float = 0.95
) -> list[dict[str, Any]]:
    ids, cls_val = ref_encode(pools)
    n, k = ids.shape
    if n == 0:
        return []
    knobs = _knobs(k)
    stored_credit = None
    if pools.prefix is not None:
        stored_credit = pools.prefix[pools.mask][:, :k]
        orders = 0
    used0, got0 = ref_one_order(ids, stored_credit, cls_val, knobs)
    full = (
        stored_credit[:, -1]
        if stored_credit is not None
        else ref_credit(ref_tally(ids), cls_val, np.full(n, k - 1))
    )
    if orders > 0:
        orders = min(orders, max(MIN_ORDERS, ORDER_BUDGET // n))
        rng = np.random.default_rng(seed)
        used = np.zeros_like(used0)
        got = np.zeros_like(got0)
        chunk = max(1, min(orders, CHUNK_ROWS // n))
        for start in range(0, orders, chunk):
            c = min(chunk, orders - start)
            perm = np.argsort(rng.random((c * n, k)), axis=1)
            stacked = np.take_along_axis(np.tile(ids, (c, 1)), perm, axis=1)
            u, g = ref_one_order(stacked, None, np.tile(cls_val, (c, 1)), knobs)
            used += u.reshape(len(knobs), c, n).sum(axis=1)
            got += g.reshape(len(knobs), c, n).sum(axis=1)
        used /= orders
        got /= orders
    else:
        used, got = used0, got0
    out = []
    for j, (rule, name, value) in enumerate(knobs):
        mean_used = float(used[j].mean())
        out.append(
            {
                "rule": rule,
                name: int(value) if rule == "esc" else value,
                "mean_samples": mean_used,
                "mean_samples_ci": _bounded_ci(used[j], k, confidence),
                "samples_saved_share": fnum(1 - mean_used / k),
                "accuracy": float(got[j].mean()),
                "accuracy_ci": _score_ci(mean_interval(got[j], confidence=confidence)),
                "accuracy_full": float(full.mean()),
                "delta_points": 100 * float((got[j] - full).mean()),
                "delta_points_ci": _score_ci(
                    paired_interval(got[j] - full, confidence=confidence), 100.0
                ),
                "orders": orders,
                "abstain_window": None if rule == "esc" else ABSTAIN_WINDOW,
                "in_pool_order": {
                    "mean_samples": float(used0[j].mean()),
                    "accuracy": float(got0[j].mean()),
                },
            }
        )
    return out


# ---------------------------------------------------------------- exact comparison


def assert_same(got: Any, want: Any, where: str = "") -> None:
    """Equal values of equal types; float arrays equal bit for bit (NaN where NaN, the sign
    of zero included)."""
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), where
        assert got.dtype == want.dtype and got.shape == want.shape, where
        if want.dtype.kind == "f":
            assert np.array_equal(got.view(np.uint64), want.view(np.uint64)) or (
                np.array_equal(got, want, equal_nan=True)
                and np.array_equal(np.signbit(got), np.signbit(want))
            ), where
        else:
            assert np.array_equal(got, want), where
    elif dataclasses.is_dataclass(want):
        for f in dataclasses.fields(want):
            assert_same(getattr(got, f.name), getattr(want, f.name), f"{where}.{f.name}")
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), where
        for k in want:
            assert_same(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and want != want:
        assert isinstance(got, float) and got != got, where
    else:
        assert type(got) is type(want) and got == want, (where, got, want)


# ---------------------------------------------------------------- varied pools


def _load(run: Path) -> RunData:
    return run_data(run, store.read_manifest(run), store.load_records(run))


def _pooled_records(data: RunData) -> list[dict[str, Any]]:
    return [r for rows in data.records for r in rows if r and r.get("samples")]


def _blur(data: RunData, seed: int) -> None:
    """Unknown latencies and costs, failed samples that still carry an answer, key-less
    answers and samples without `correct`, in place."""
    rng = np.random.default_rng(seed)
    for r in _pooled_records(data):
        if rng.random() < 0.1:
            r["latency_s"] = None
        for s in r["samples"]:
            u = rng.random(6)
            if u[0] < 0.05:
                s.pop("latency_s", None)
            if u[1] < 0.05:
                s["cost_usd"] = None
            if u[2] < 0.04:
                s["status"] = "timeout"  # its answer is ignored
            if u[3] < 0.04:
                s.pop("correct", None)
            if u[4] < 0.03:
                s["answer"] = "no number here"  # extracts nothing: abstains
            if u[5] < 0.05:
                s.pop("status", None)  # a sample without a status counts as ok


def _set_answers(data: RunData, seed: int) -> None:
    """Set answers with F1 values (not 0/1), for the F1 metric and set_vote."""
    rng = np.random.default_rng(seed)
    els = ["3", "7", "12", "C5"]
    for r in _pooled_records(data):
        r["target"] = "3, 7"
        for s in r["samples"]:
            if s.get("answer") is not None:
                s["answer"] = ", ".join(e for e in els if rng.random() < 0.5)
                s["value"] = float(rng.choice([0.0, 0.4, 2 / 3, 0.8, 1.0]))
                if rng.random() < 0.1:
                    s["value"] = None  # falls back to `correct`


def _mixed_sizes(data: RunData, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for r in _pooled_records(data):
        cut = int(rng.integers(0, 3))
        if cut and rng.random() < 0.3:
            del r["samples"][-cut:]


def _variant(name: str, tmp: Path) -> RunData:
    if name == "synthetic":
        return _load(write_synthetic_run(tmp / "syn", items=90, configs=4, seed=2))
    cfgs = DEFAULT + [
        Cfg("wide", {"easy": 0.4, "hard": 0.2}, pool=12, knobs={"n": 12}),
        Cfg("bonj", {"easy": 0.6, "hard": 0.3}, pool=5, scores=True, knobs={"n": 5}),
    ]
    data = _load(make_run(tmp, n_items=160, configs=cfgs, infra_rate=0.08, seed=5,
                          unknown_cost_rate=0.15))  # fmt: skip
    data.config_specs["sc"]["weighted"] = "judge"  # judged: cost per sample drawn
    if name == "blurred":
        _blur(data, 1)
    elif name == "imported":
        for c in ("sc", "wide"):
            data.config_specs[c]["strategy"] = "imported"
        _mixed_sizes(data, 2)
        _blur(data, 3)
    elif name == "withheld":
        _mixed_sizes(data, 4)  # sizes vary under self_consistency: no curves
    elif name in ("f1", "set_vote"):
        _set_answers(data, 6)
        _blur(data, 7)
        data.scorer = ScorerSpec(type="set_f1")
        if name == "set_vote":
            data.config_specs["sc"].update(strategy="set_vote", min_votes=2)
    return data


VARIANTS = ["plain", "blurred", "imported", "withheld", "f1", "set_vote", "synthetic"]


@pytest.mark.parametrize("name", VARIANTS)
def test_build_pools_and_replay_equal_the_previous_ones(name: str, tmp_path: Path) -> None:
    data = _variant(name, tmp_path)
    built = 0
    for c in range(len(data.configs)):
        for none in ("abstain", "vote"):
            want = ref_build_pools(data, c, none)
            got = build_pools(data, c, none)
            assert_same(got, want, f"{data.configs[c]} {none}")
        if want is None:
            continue
        built += 1
        for orders in (0, 3, ORDERS):
            assert_same(
                replay(got, orders=orders, seed=orders),
                ref_replay(want, orders=orders, seed=orders),
                f"{data.configs[c]} replay orders={orders}",
            )
    assert built or name == "withheld"


def _drawn_pools(rng: np.random.Generator, n: int, k: int, labels: int, stored: bool) -> Pools:
    """Random pools over `labels` distinct answers (None abstains), F1-like class values,
    some items masked out; `stored`: a set_vote-like per-prefix credit."""
    mask = rng.random(n) < 0.9
    mask[0] = True
    names: list[Any] = [f"a{i}" for i in range(labels)] + [("t", 1), 7]
    worth = {a: float(rng.choice([0.0, 0.25, 1 / 3, 0.5, 0.9, 1.0])) for a in names}
    answers: list[list[Any]] = []
    values = np.zeros((n, k))
    for i in range(n):
        row = [None if rng.random() < 0.15 else names[rng.integers(len(names))] for _ in range(k)]
        answers.append(row if mask[i] else [])
        values[i] = [0.0 if a is None else worth[a] for a in row]
        if rng.random() < 0.05:  # a class whose samples disagree on the value: the last wins
            values[i, rng.integers(k)] = 0.125
    nan = np.full((n, k), np.nan)
    prefix = rng.random((n, k)) if stored else None
    return Pools(k, (k, k), mask, nan, nan, None, None, nan, answers, values, prefix=prefix)


@pytest.mark.parametrize(
    ("n", "k", "labels"),
    [(1, 1, 1), (5, 2, 3), (40, 9, 12), (300, 9, 3), (120, 16, 20), (2, 20, 30)],
)
def test_replay_equals_the_previous_one_on_drawn_pools(n: int, k: int, labels: int) -> None:
    rng = np.random.default_rng(n * 100 + k)
    for stored in (False, True):
        pools = _drawn_pools(rng, n, k, labels, stored)
        for orders in (0, 1, 25):
            assert_same(
                replay(pools, orders=orders, seed=k),
                ref_replay(pools, orders=orders, seed=k),
                f"stored={stored} orders={orders}",
            )


@pytest.mark.parametrize(("n", "t", "classes"), [(1, 1, 1), (50, 9, 3), (30, 12, 11), (6, 130, 4)])
def test_tally_and_stops_equal_the_previous_ones(n: int, t: int, classes: int) -> None:
    rng = np.random.default_rng(t)
    ids = rng.integers(-1, classes, (n, t))
    ids[rng.random((n, t)) < 0.3] = -1  # runs of abstentions
    for given in (ids, ids.tolist(), ids.astype(np.int8)):
        tl, ref = stopping.tally(given), ref_tally(ids)  # type: ignore[arg-type]
        for name in ("v1", "v2", "answered", "abstain_run", "counts", "prob", "lead"):
            assert np.array_equal(getattr(tl, name), getattr(ref, name)), name
        for rule, knobs in (("esc", (1, 2, 3, 5, 8)), ("beta", (0.8, 0.99)), ("share", (0.6, 1.0))):
            for knob in knobs:
                for window in (1, ABSTAIN_WINDOW):
                    want = ref_stops(rule, knob, ref, window)
                    assert np.array_equal(stopping.stops(rule, knob, tl, window), want)
