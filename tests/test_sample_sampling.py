"""Stratified sampling: exact allocation, minimums, caps, seeds, rare strata; `sample_file`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tts_bench.data import allocate, load_items, sample_file, stratified_sample
from tts_bench.errors import UserError
from tts_bench.suite import DatasetSpec

populations = st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@example(pops=[1, 1, 35], frac=0.125, minimum=2, equal=True)  # minimums and caps interact
@given(pops=populations, frac=st.floats(0.0, 1.0), minimum=st.integers(0, 30), equal=st.booleans())
def test_allocation_properties(pops: list[int], frac: float, minimum: int, equal: bool) -> None:
    size = max(1, round(frac * sum(pops)))
    weights = [1.0] * len(pops) if equal else [float(n) for n in pops]
    need = sum(min(minimum, n) for n in pops)
    if need > size:
        with pytest.raises(UserError, match="min_per_stratum"):
            allocate(pops, size, weights=weights, minimum=minimum)
        return
    alloc = allocate(pops, size, weights=weights, minimum=minimum)
    assert sum(alloc) == size  # exactly N
    for a, n in zip(alloc, pops, strict=True):
        assert min(minimum, n) <= a <= n  # minimum honoured, capped by the population
    if not equal and minimum == 0:
        # proportional: each stratum within 1 of its exact share (largest remainder), unless
        # a cap moved items elsewhere (impossible here: shares never exceed populations)
        for a, n in zip(alloc, pops, strict=True):
            assert abs(a - size * n / sum(pops)) < 1.0 + 1e-9
    if equal:
        # equal: strata not capped by their population differ by at most 1
        free = [a for a, n in zip(alloc, pops, strict=True) if a < n]
        assert not free or max(free) - min(free) <= 1


def test_allocation_examples() -> None:
    # 900/90/10 of 1000, size 100 -> 90/9/1 proportionally; a minimum of 5 takes from the big one
    assert allocate([900, 90, 10], 100, weights=[900, 90, 10]) == [90, 9, 1]
    assert allocate([900, 90, 10], 100, weights=[900, 90, 10], minimum=5) == [86, 9, 5]
    # equal allocation with a small stratum: it gives all it has, the rest share evenly
    assert allocate([900, 90, 10], 100, weights=[1, 1, 1]) == [45, 45, 10]
    # largest remainder: 1/3 each of 10 -> 4/3/3 with the tie going to the earlier stratum
    assert allocate([5, 5, 5], 10, weights=[5, 5, 5]) == [4, 3, 3]


def rows(counts: dict[str, int]) -> list[dict]:
    return [{"id": f"{k}{i}", "s": k} for k, n in counts.items() for i in range(n)]


def test_stratified_sample_counts_seed_and_rare_strata() -> None:
    data = rows({"common": 950, "mid": 45, "rare": 5})
    picked = stratified_sample(data, by=["s"], size=100, seed=1, min_per_stratum=3)
    got = Counter(data[i]["s"] for i in picked)
    assert sum(got.values()) == 100 and len(set(picked)) == 100
    assert got["rare"] == 3 and got["mid"] >= 4  # the rare stratum is kept
    assert picked == stratified_sample(data, by=["s"], size=100, seed=1, min_per_stratum=3)
    assert picked != stratified_sample(data, by=["s"], size=100, seed=2, min_per_stratum=3)
    # proportional without minimum still keeps a stratum whose share rounds to >= 0.5
    picked = stratified_sample(data, by=["s"], size=100, seed=1)
    assert Counter(data[i]["s"] for i in picked)["rare"] == 1


def test_one_stratums_draw_does_not_depend_on_the_others() -> None:
    a = rows({"x": 50, "y": 50})
    b = rows({"x": 50, "y": 50, "z": 50})
    pick_a = {
        a[i]["id"] for i in stratified_sample(a, by=["s"], size=20, seed=0, allocation="equal")
    }
    pick_b = {
        b[i]["id"] for i in stratified_sample(b, by=["s"], size=30, seed=0, allocation="equal")
    }
    assert {i for i in pick_a if i.startswith("x")} == {i for i in pick_b if i.startswith("x")}


def test_multi_column_strata_and_no_strata() -> None:
    data = [{"a": i % 2, "b": i % 3} for i in range(60)]
    picked = stratified_sample(data, by=["a", "b"], size=12, seed=0, allocation="equal")
    assert Counter((data[i]["a"], data[i]["b"]) for i in picked) == Counter(
        {(a, b): 2 for a in range(2) for b in range(3)}
    )
    assert len(stratified_sample(data, by=[], size=7, seed=0)) == 7


def test_sample_errors() -> None:
    data = rows({"x": 5})
    with pytest.raises(UserError, match="sample size 6 is more than the 5 items"):
        stratified_sample(data, by=["s"], size=6, seed=0)


# ---- sample_file: the `tts-bench sample` verb -------------------------------------------


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    path = tmp_path / "logs.jsonl"
    with path.open("w") as f:
        for i in range(400):
            kind = "billing" if i % 10 else "legal"  # 360 billing, 40 legal
            f.write(
                json.dumps({"prompt": f"request {i}", "kind": kind, "tokens": i, "answer": "x"})
            )
            f.write("\n")
        f.write(json.dumps({"prompt": "Request  1", "kind": "billing", "tokens": 1, "answer": "x"}))
        f.write("\n")
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_sample_file_output_loads_as_dataset(tmp_path: Path, logs: Path, suffix: str) -> None:
    out = tmp_path / f"eval{suffix}"
    report = sample_file(str(logs), by=["kind"], size=50, out=out, seed=4, min_per_stratum=10)
    assert report.sampled == 50 and report.population == 401
    by_kind = {r.stratum["kind"]: r for r in report.strata}
    assert by_kind["legal"].sampled == 10 and by_kind["billing"].sampled == 40
    assert by_kind["legal"].population == 40
    assert sum(r.share for r in report.strata) == pytest.approx(1.0)
    assert any("< 100" in w for w in report.warnings)
    spec = DatasetSpec.model_validate(
        {"source": str(out), "fields": {"input": "prompt", "strata": ["kind"]}}
    )
    items, _ = load_items(spec)
    assert len(items) == 50
    assert Counter(it.strata["kind"] for it in items) == {"billing": 40, "legal": 10}
    assert all(it.id.isdigit() for it in items)  # ids added from the input row index


def test_sample_file_dedup_and_bins(tmp_path: Path, logs: Path) -> None:
    out = tmp_path / "eval.jsonl"
    report = sample_file(
        str(logs), by=["tokens_bin"], size=40, out=out, dedup="prompt", bins={"tokens": 4}
    )
    assert report.dropped_duplicates == 1  # "Request  1" repeats "request 1"
    assert [r.stratum["tokens_bin"] for r in report.strata] == ["q1", "q2", "q3", "q4"]
    assert [r.sampled for r in report.strata] == [10, 10, 10, 10]
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["tokens_bin"] for r in written} == {"q1", "q2", "q3", "q4"}
    text = report.format()
    assert "tokens_bin" in text and "population" in text and "q4" in text
    again = tmp_path / "again.jsonl"
    sample_file(
        str(logs), by=["tokens_bin"], size=40, out=again, dedup="prompt", bins={"tokens": 4}
    )
    assert again.read_text() == out.read_text()  # same seed, same file


def test_sample_file_errors(tmp_path: Path, logs: Path) -> None:
    out = tmp_path / "o.jsonl"
    with pytest.raises(UserError, match="--by column 'team' not in data"):
        sample_file(str(logs), by=["team"], size=10, out=out)
    with pytest.raises(UserError, match="--size 500 is more than the 401 rows"):
        sample_file(str(logs), by=["kind"], size=500, out=out)
    with pytest.raises(UserError, match="unsupported output type"):
        sample_file(str(logs), by=["kind"], size=10, out=tmp_path / "o.xlsx")
    with pytest.raises(UserError, match="no numeric values"):
        sample_file(str(logs), by=["kind"], size=10, out=out, bins={"kind": 3})


def test_report_table_rows(tmp_path: Path, logs: Path) -> None:
    report = sample_file(str(logs), by=["kind"], size=20, out=tmp_path / "o.jsonl", seed=1)
    rows = {r["stratum"]: r for r in report.table}
    assert set(rows) == {"billing", "legal"}
    assert rows["legal"]["population"] == 40 and rows["legal"]["kind"] == "legal"
    assert rows["billing"]["sampled"] + rows["legal"]["sampled"] == 20
    assert rows["legal"]["population_share"] == pytest.approx(40 / 401)


@settings(max_examples=100, deadline=None)
@given(
    labels=st.lists(st.sampled_from("abcde"), min_size=1, max_size=300),
    frac=st.floats(0.01, 1.0),
    seed=st.integers(0, 2**31),
    equal=st.booleans(),
)
def test_stratified_sample_properties(
    labels: list[str], frac: float, seed: int, equal: bool
) -> None:
    data = [{"s": x} for x in labels]
    size = max(1, round(frac * len(data)))
    mode = "equal" if equal else "proportional"
    picked = stratified_sample(data, by=["s"], size=size, seed=seed, allocation=mode)
    assert len(picked) == size == len(set(picked)) and picked == sorted(picked)
    assert all(0 <= i < len(data) for i in picked)
    pops = Counter(labels)
    keys = sorted(pops)
    weights = [1.0] * len(keys) if equal else [float(pops[k]) for k in keys]
    expected = allocate([pops[k] for k in keys], size, weights=weights)
    got = Counter(data[i]["s"] for i in picked)
    assert [got[k] for k in keys] == expected
    assert picked == stratified_sample(data, by=["s"], size=size, seed=seed, allocation=mode)
