"""Prediction-powered corrected accuracy: the point estimate against a brute-force sum, and
the coverage of its 95% interval on simulated judged runs with a known judge error rate and a
known bias (the judge passes long wrong answers), beside the judge-only interval, which the
bias pulls off the truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tts_bench.analysis.ppi import ppi_mean, review_size
from tts_bench.analysis.stats import wilson

REPS = 2000


def brute(f_all, s_all, f_lab, y_lab, s_lab):
    """theta and Var one stratum at a time, with plain Python sums: Var(mean_N f +
    mean_n (y - f)) = s2(y)/N + (1 - n/N) s2(y - f)/n per stratum, weighted."""
    n_total = len(f_all)
    theta = var = 0.0
    for h in sorted(set(s_all)):
        fa = [f for f, s in zip(f_all, s_all, strict=True) if s == h]
        fl = [f for f, s in zip(f_lab, s_lab, strict=True) if s == h]
        r = [y - f for f, y, s in zip(f_lab, y_lab, s_lab, strict=True) if s == h]
        big, n, w = len(fa), len(r), len(fa) / n_total
        mf, mr, ml = sum(fa) / big, sum(r) / n, sum(fl) / n
        theta += w * (mf + mr)
        vf = sum((x - mf) ** 2 for x in fa) / (big - 1)
        vr = sum((x - mr) ** 2 for x in r) / (n - 1)
        cov = sum((a - ml) * (b - mr) for a, b in zip(fl, r, strict=True)) / (n - 1)
        # Var(y) = Var(f) + Var(y - f) + 2 Cov(f, y - f); labelled items among the judged
        var += w * w * ((vf + vr + 2 * cov) / big + (1 - n / big) * vr / n)
    return theta, var


@pytest.mark.parametrize("seed", range(4))
def test_point_and_variance_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    s = np.where(rng.random(n) < 0.3, "hard", "easy")
    y = (rng.random(n) < np.where(s == "hard", 0.4, 0.8)).astype(float)
    f = np.where(rng.random(n) < 0.85, y, 1 - y)
    lab = np.zeros(n, bool)
    lab[rng.choice(n, 60, replace=False)] = True
    got = ppi_mean(f, s, f[lab], y[lab], s[lab])
    theta, var = brute(list(f), list(s), list(f[lab]), list(y[lab]), list(s[lab]))
    assert got["stratified"] is True
    assert got["value"] == pytest.approx(theta, abs=1e-12)
    assert got["se"] == pytest.approx(math.sqrt(var), abs=1e-12)
    # one stratum with a single label: falls back to one stratum, as documented
    lab1 = lab & (s == "easy")
    lab1[np.flatnonzero(s == "hard")[0]] = True
    one = ppi_mean(f, s, f[lab1], y[lab1], s[lab1])
    t1, v1 = brute(list(f), ["x"] * n, list(f[lab1]), list(y[lab1]), ["x"] * int(lab1.sum()))
    assert one["stratified"] is False and one["value"] == pytest.approx(t1, abs=1e-12)
    assert one["se"] == pytest.approx(math.sqrt(v1), abs=1e-12)


def simulate(rng, reps, n_items, p, hard_share, long_share, err, bias):
    """(truth per item, judge per item, stratum) arrays of shape (reps, n_items): hard items
    first. The judge flips a verdict at rate `err` and passes a long wrong output at `bias`."""
    n_hard = int(n_items * hard_share)
    hard = np.arange(n_items) < n_hard
    rate = np.where(hard, p["hard"], p["easy"])
    y = rng.random((reps, n_items)) < rate
    long = rng.random((reps, n_items)) < long_share
    f = np.where(rng.random((reps, n_items)) < err, ~y, y)
    f |= long & ~y & (rng.random((reps, n_items)) < bias)
    return y.astype(float), f.astype(float), np.where(hard, "hard", "easy")


def test_corrected_interval_covers_and_judge_only_does_not() -> None:
    """1,000 judged items (30% hard), a judge wrong 8% of the time that also passes half of
    the long wrong outputs; 150 items labelled, half of them hard (oversampled, so the
    stratum weights matter). The truth is the population pass rate."""
    rng = np.random.default_rng(2024)
    p = {"easy": 0.8, "hard": 0.4}
    n_items, hard_share = 1000, 0.3
    truth = hard_share * p["hard"] + (1 - hard_share) * p["easy"]
    y, f, s = simulate(rng, REPS, n_items, p, hard_share, 0.6, 0.08, 0.5)
    n_hard = int(n_items * hard_share)
    lab = np.zeros(n_items, bool)
    lab[:75] = True  # 75 hard items (iid: the first ones are a random draw)
    lab[n_hard : n_hard + 75] = True  # 75 easy items
    covered = judge_covered = 0
    errors = []
    for r in range(REPS):
        est = ppi_mean(f[r], s, f[r, lab], y[r, lab], s[lab])
        lo, hi = est["ci"]
        covered += lo <= truth <= hi
        errors.append(est["value"] - truth)
        jlo, jhi = wilson(float(f[r].sum()), n_items)
        judge_covered += jlo <= truth <= jhi
    coverage, judge_coverage = covered / REPS, judge_covered / REPS
    assert 0.93 <= coverage <= 0.97, coverage
    assert judge_coverage < 0.5, judge_coverage
    assert abs(np.mean(errors)) < 0.005  # unbiased, where the judge is ~+8 pts off


def test_corrected_delta_covers() -> None:
    """The paired delta of a verbose config (long outputs, which the judge favours) against a
    terse baseline of the same true accuracy: the corrected interval covers 0 at 93-97%, the
    judge-only one finds a gain that is not there."""
    rng = np.random.default_rng(11)
    n_items, reps, n_lab = 800, REPS, 160
    p = {"easy": 0.75, "hard": 0.75}
    yb, fb, s = simulate(rng, reps, n_items, p, 0.0, 0.1, 0.08, 0.5)
    yc, fc, _ = simulate(rng, reps, n_items, p, 0.0, 0.9, 0.08, 0.5)
    lab = np.arange(n_items) < n_lab
    covered = judge_covered = 0
    for r in range(reps):
        df, dy = fc[r] - fb[r], yc[r] - yb[r]
        est = ppi_mean(df, s, df[lab], dy[lab], s[lab], bounds=(-1.0, 1.0))
        covered += est["ci"][0] <= 0.0 <= est["ci"][1]
        m, se = df.mean(), df.std(ddof=1) / math.sqrt(n_items)
        judge_covered += m - 1.96 * se <= 0.0 <= m + 1.96 * se
    assert 0.93 <= covered / reps <= 0.97, covered / reps
    assert judge_covered / reps < 0.5, judge_covered / reps


def test_review_size_reaches_its_width() -> None:
    """The labels `review_size` asks for give about the width asked, on simulated data."""
    rng = np.random.default_rng(5)
    n_items, err = 2000, 0.1
    n = review_size(0.04, items=n_items, disagreement=err, judge_pass=0.7)
    assert n is not None
    y, f, s = simulate(rng, 300, n_items, {"easy": 0.7, "hard": 0.7}, 0.0, 0.0, err, 0.0)
    lab = np.arange(n_items) < n
    halves = [
        (lambda e: (e["ci"][1] - e["ci"][0]) / 2)(ppi_mean(f[r], s, f[r, lab], y[r, lab], s[lab]))
        for r in range(300)
    ]
    assert 0.034 <= float(np.mean(halves)) <= 0.041, (n, np.mean(halves))
    assert review_size(0.01, items=100, disagreement=0.1) is None  # the judge term alone


def test_review_note_sizes_a_reachable_width() -> None:
    """`plan`'s note: ±5 pts when the items allow it, else the narrowest whole width they do."""
    from tts_bench.analysis.ppi import review_note

    wide = review_note(2000)
    assert "±5 pts" in wide and "out of reach" not in wide
    n = int(wide.split("about ")[1].split()[0])
    assert n == review_size(0.05, items=2000, disagreement=0.1)
    small = review_note(300)
    assert "±5 pts is out of reach with 300 items" in small and "±7 pts" in small
