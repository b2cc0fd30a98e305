"""Judge-human agreement: Cohen's kappa against a brute-force count, the confusion matrix,
and the coverage of the kappa and agreement intervals on simulated raters with a known
population kappa."""

from __future__ import annotations

import numpy as np
import pytest

from tts_bench.analysis.agreement import (
    agreement_block,
    confusion,
    kappa_from_counts,
    kappa_interval,
    raw_agreement,
)


def brute_kappa(a: list[str], b: list[str]) -> float:
    """Cohen (1960) from the definitions, one pair at a time."""
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    cats = set(a) | set(b)
    pe = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    return (po - pe) / (1 - pe)


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    j = rng.random(80) < 0.6
    h = np.where(rng.random(80) < 0.8, j, ~j)
    got = float(kappa_from_counts(confusion(j, h)))
    want = brute_kappa([str(x) for x in j], [str(x) for x in h])
    assert got == pytest.approx(want, abs=1e-12)
    # five categories, through the raw-scale path
    a = [str(x) for x in rng.integers(1, 6, 60)]
    b = [x if rng.random() < 0.6 else str(rng.integers(1, 6)) for x in a]
    assert raw_agreement(a, b)["kappa"] == pytest.approx(brute_kappa(a, b), abs=1e-12)


def test_confusion_and_block_counts() -> None:
    j = np.array([1, 1, 1, 0, 0, 0, 1, 0], dtype=bool)
    h = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=bool)
    cm = confusion(j, h)
    brute = np.zeros((2, 2), int)
    for x, y in zip(j, h, strict=True):
        brute[int(not x), int(not y)] += 1
    assert (cm == brute).all()
    blk = agreement_block(j, h, np.arange(8))
    assert blk["agreement"]["value"] == pytest.approx(6 / 8)
    assert blk["confusion"]["judge_pass_human_fail"] == 1
    assert blk["confusion"]["false_pass_rate"] == pytest.approx(1 / 4)  # of 4 human fails
    assert blk["confusion"]["false_fail_rate"] == pytest.approx(1 / 4)  # of 4 human passes


def test_kappa_undefined_when_one_label_everywhere() -> None:
    j = h = np.ones(10, dtype=bool)
    assert np.isnan(kappa_from_counts(confusion(j, h)))
    blk = agreement_block(j, h, np.arange(10))
    assert blk["kappa"]["value"] is None and blk["agreement"]["value"] == 1.0


def _population_kappa(pi: float, sens: float, spec: float) -> float:
    """kappa of a judge with sensitivity/specificity against human pass rate pi."""
    pp, pf = pi * sens, (1 - pi) * (1 - spec)
    fp_, ff = pi * (1 - sens), (1 - pi) * spec
    cm = np.array([[pp, pf], [fp_, ff]])
    return float(kappa_from_counts(cm))


@pytest.mark.parametrize("units_per_item", [1, 2])
def test_kappa_interval_covers(units_per_item: int) -> None:
    """95% bootstrap interval over items: covers the population kappa in 92-98% of 400
    simulated reviews of 120 items (one or two outputs per item, the second sharing the
    item's human label tendency)."""
    pi, sens, spec, n_items, reps = 0.6, 0.9, 0.75, 120, 400
    truth = _population_kappa(pi, sens, spec)
    rng = np.random.default_rng(7)
    hits = 0
    for r in range(reps):
        items = np.repeat(np.arange(n_items), units_per_item)
        h = rng.random(items.size) < pi
        j = np.where(h, rng.random(items.size) < sens, rng.random(items.size) >= spec)
        lo, hi = kappa_interval(j, h, items, resamples=1000, seed=r)
        hits += lo <= truth <= hi
    assert 0.92 <= hits / reps <= 0.98, hits / reps


def test_agreement_interval_covers() -> None:
    """Wilson interval of the agreement rate: 93-97.5% coverage over 1,000 simulations."""
    rng = np.random.default_rng(3)
    p_agree, n, reps = 0.85, 90, 1000
    hits = 0
    for _ in range(reps):
        agree = rng.random(n) < p_agree
        j = rng.random(n) < 0.5
        h = np.where(agree, j, ~j)
        blk = agreement_block(j, h, np.arange(n), resamples=10)
        lo, hi = blk["agreement"]["ci"]
        hits += lo <= p_agree <= hi
    assert 0.93 <= hits / reps <= 0.975, hits / reps


def test_kappa_needs_items() -> None:
    assert kappa_interval(np.array([True]), np.array([True]), np.array([0])) == (None, None)
    assert agreement_block([], [], [])["agreement"] is None
