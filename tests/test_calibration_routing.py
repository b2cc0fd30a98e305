"""Calibration of the routing figures with known truth (tests/calib_routing.py), at a reduced
repetition count; benchmarks/coverage_routing.py runs the full count for docs/analysis.md."""

from __future__ import annotations

import pytest
from calib_routing import null, simulate, specialists


@pytest.fixture(scope="module")
def null_200():
    return simulate(null(200), 300, seed=1)


def test_cross_fitted_routing_has_no_gain_under_the_null(null_200) -> None:
    r = null_200
    # four truly equal configs: the routed and best-single figures sit on the truth...
    assert abs(r.gain) < 3 * r.gain_se, r
    assert abs(r.single_gain) < 3 * r.single_gain_se, r
    # ...where the same choice scored in sample is several points optimistic
    assert r.gain_in_sample > 3.0 and r.gain_in_sample > 10 * r.gain_se, r
    assert r.single_gain_in_sample > 1.5, r


def test_routed_intervals_cover_the_truth_of_the_chosen_policy(null_200) -> None:
    r = null_200
    assert r.coverage >= 0.93 and r.single_coverage >= 0.93, r
    assert r.delta_coverage >= 0.90, r


def test_specialists_routing_is_unbiased_and_covered() -> None:
    r = simulate(specialists(200), 150, seed=2)
    assert abs(r.gain) < 3 * r.gain_se and abs(r.single_gain) < 3 * r.single_gain_se, r
    assert r.coverage >= 0.92 and r.delta_coverage >= 0.88, r


def test_adaptive_replay_intervals_cover_the_truth() -> None:
    from calib_adaptive import PoolScenario
    from calib_adaptive import simulate as simulate_replay

    # 60 repetitions and 20 orders per item: a coarse check; the benchmark runs 300 x 100
    c = simulate_replay(PoolScenario(100), 60, orders=20, seed=4)
    assert c.accuracy >= 0.88 and c.samples >= 0.85, c
