"""Calibration at a reduced repetition count: with a known truth, every interval the analysis
prints for accuracy, paired deltas, cost and latency ratios and P95 covers it at least as often
as stated; Holm over the strata table keeps the family-wise error at 5%; the power the report
quotes is the exact test's. The full counts are in benchmarks/coverage_intervals.py and the
table in docs/analysis.md. Seeds are fixed: the numbers below are reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from tests.calibration_sim import (
    Paired,
    cover_accuracy,
    cover_delta,
    cover_f1,
    cover_timing,
    strata_table_fwer,
)
from tts_bench.analysis.power import exact_power, items_needed
from tts_bench.analysis.stats import mcnemar_exact, power


@pytest.mark.parametrize("p", [0.5, 0.98])
def test_wilson_accuracy_covers_near_the_ceiling(p: float) -> None:
    cov, _ = cover_accuracy(100, p, "wilson", reps=2000, seed=1, strata=True)
    assert cov >= 0.935, cov


@pytest.mark.parametrize(("p_base", "p_config"), [(0.45, 0.5), (0.75, 0.8), (0.95, 0.98)])
@pytest.mark.parametrize("strata", [False, True])
def test_paired_delta_covers_at_50_items(p_base: float, p_config: float, strata: bool) -> None:
    cov, _ = cover_delta(Paired(50, p_base, p_config, 0.5, strata), "tango", reps=3000, seed=2)
    assert cov >= 0.94, cov


def test_percentile_bootstrap_delta_was_short_at_50_items() -> None:
    # the former interval, for contrast: the test can tell a short interval from a good one
    sc = Paired(50, 0.75, 0.8, 0.5, True)
    boot, _ = cover_delta(sc, "percentile", reps=300, seed=2, resamples=1000)
    good, _ = cover_delta(sc, "tango", reps=300, seed=2)
    assert boot < good


@pytest.mark.parametrize("level", [0.0, 2.5])  # mean F1 near 0.57 and near 0.98
def test_f1_intervals_cover_at_50_items(level: float) -> None:
    delta, _ = cover_f1(50, "delta", "tango_scaled", reps=1500, seed=3, level=level)
    mean, _ = cover_f1(50, "mean", "wilson", reps=1500, seed=3, level=level)
    assert delta >= 0.94 and mean >= 0.94, (delta, mean)


@pytest.mark.parametrize(
    ("figure", "n", "floor"),
    [("cost_ratio", 50, 0.92), ("p95_ratio", 100, 0.93), ("p95", 100, 0.94), ("p95", 50, 0.94)],
)
def test_timing_intervals_cover(figure: str, n: int, floor: float) -> None:
    cov, _ = cover_timing(n, figure, reps=250, seed=4)
    assert cov >= floor, cov


def test_holm_over_the_strata_table_keeps_the_family_wise_error() -> None:
    # 3 configs x 4 strata values, all truly equal to the baseline: at least one starred cell
    # in at most 5% of runs
    fwer = strata_table_fwer(60, configs=3, strata=4, reps=1500, seed=5)
    assert fwer <= 0.05, fwer


def test_power_is_the_exact_tests() -> None:
    rng = np.random.default_rng(6)
    psi, delta = 0.2, 0.05  # 20% of items differ, a 5-point gain
    p10, p01 = (psi + delta) / 2, (psi - delta) / 2
    # the normal formula's item count under-powers the exact test ...
    d = np.r_[np.ones(250), -np.ones(150), np.zeros(1600)]  # psi 0.2, delta 0.05
    n_normal = int(power(d, target_delta=delta)["n_for_target"])
    assert exact_power(n_normal, p10, p01) < 0.79
    # ... the exact count reaches 80%, checked by running the test on simulated data
    n_exact = items_needed(delta, psi)
    assert n_exact is not None and n_exact > n_normal
    counts = rng.multinomial(n_exact, [p10, p01, 1 - psi], size=4000)
    rejected = np.mean([mcnemar_exact(int(b), int(c)) < 0.05 for b, c, _ in counts])
    assert rejected == pytest.approx(exact_power(n_exact, p10, p01), abs=0.02)
    assert rejected > 0.78
