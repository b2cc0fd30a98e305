"""Coverage of every interval the analysis prints, by simulation with a known truth.

    nice -n 10 .venv/bin/python benchmarks/coverage_intervals.py [--reps 4000] [--boot-reps 1000]

Prints Markdown tables (coverage of the nominal 95% interval, %, and the mean width) for
n = 50, 100, 200, 500: one config's accuracy (Wilson; the former percentile bootstrap for
contrast), the paired accuracy delta (Tango, the analysis'; Newcombe's method 10, percentile
and studentized bootstraps for contrast), F1 mean (Wilson on the summed F1) and delta (Tango
scaled to the differences' size; studentized and percentile bootstraps for contrast), cost
ratio (studentized log ratio; percentile for contrast), P50/P95 latency ratios (percentile), one config's P95 (order statistics), the strata table's family-wise
error under a global null, and the exact power at the normal formula's item count. Score
intervals use `--reps` repetitions per cell, bootstrap intervals `--boot-reps` (2,000
resamples each); the comparison candidates the analysis does not use run at n = 50 and 100
only (where they differ). The harness is tests/calibration_sim.py; the results are in
docs/analysis.md. `--quick` runs a small grid to check the script itself.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.calibration_sim import (  # noqa: E402
    Paired,
    cover_accuracy,
    cover_clustered,
    cover_delta,
    cover_f1,
    cover_timing,
    strata_table_fwer,
)

LEVELS = [(0.45, 0.5), (0.75, 0.8), (0.95, 0.98)]


Row = tuple[str, Callable[[int], tuple[float, float]]]
CONTRAST_NS = (50, 100)  # comparison candidates (not what the analysis uses) run at these n


def table(title: str, rows: list[Row], ns: list[int], contrast: set[str] | None = None) -> None:
    """One Markdown table; rows labelled in `contrast` run at CONTRAST_NS only ("—" else)."""
    print(f"\n**{title}**\n")
    print("| interval | " + " | ".join(f"n={n}" for n in ns) + " |")
    print("|---|" + "---|" * len(ns))
    for label, fn in rows:
        cells = []
        for n in ns:
            if contrast and label in contrast and n not in CONTRAST_NS:
                cells.append("—")
                continue
            cov, width = fn(n)
            cells.append(f"{100 * cov:.1f}% ({width:.3g})")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


def exact_wilson(ns: list[int]) -> None:
    """Wilson's coverage computed exactly (a sum over the binomial), at p = 0.5, 0.8, 0.98
    and its minimum and mean over p in [0.5, 0.999] (by symmetry the same below 0.5)."""
    import numpy as np
    from scipy.stats import binom

    from tts_bench.analysis.stats import wilson

    print("\n**Wilson (the analysis', with the boundary bound), exact coverage**\n")
    print("| p | " + " | ".join(f"n={n}" for n in ns) + " |")
    print("|---|" + "---|" * len(ns))
    grid = np.linspace(0.5, 0.999, 500)
    rows: dict[str, list[str]] = {"0.5": [], "0.8": [], "0.98": [], "min": [], "mean": []}
    for n in ns:
        iv = np.array([wilson(k, n) for k in range(n + 1)])
        ks = np.arange(n + 1)

        def cover(p: float, iv: np.ndarray = iv, ks: np.ndarray = ks, n: int = n) -> float:
            inside = (iv[:, 0] <= p) & (p <= iv[:, 1])
            return float(binom.pmf(ks[inside], n, p).sum())

        for q in ("0.5", "0.8", "0.98"):
            rows[q].append(f"{100 * cover(float(q)):.1f}%")
        on_grid = np.array([cover(p) for p in grid])
        rows["min"].append(f"{100 * on_grid.min():.1f}%")
        rows["mean"].append(f"{100 * on_grid.mean():.1f}%")
    labels = {"min": "min over p ∈ [0.5, 0.999]", "mean": "mean over p ∈ [0.5, 0.999]"}
    for key, cells in rows.items():
        print(f"| {labels.get(key, key)} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=4000, help="repetitions for score intervals")
    ap.add_argument("--boot-reps", type=int, default=1000, help="repetitions for bootstraps")
    ap.add_argument("--quick", action="store_true", help="a small grid (smoke test)")
    a = ap.parse_args()
    ns = [50, 100] if a.quick else [50, 100, 200, 500]
    reps, boot = (200, 40) if a.quick else (a.reps, a.boot_reps)
    t0 = time.perf_counter()
    print(f"repetitions: {reps} (score intervals), {boot} (bootstraps); cells: coverage (width)")

    exact_wilson(ns)

    acc_rows = []
    for p in (0.5, 0.8, 0.98):
        for strata in (False, True):
            tag = f"p={p}{', strata' if strata else ''}"
            acc_rows.append(
                (
                    f"Wilson, {tag}",
                    lambda n, p=p, s=strata: cover_accuracy(n, p, "wilson", reps, 1, s),
                )
            )
            acc_rows.append(
                (
                    f"percentile bootstrap (former), {tag}",
                    lambda n, p=p, s=strata: cover_accuracy(n, p, "percentile", boot, 1, s),
                )
            )
    contrast = {label for label, _ in acc_rows if "percentile" in label}
    table("Accuracy of one config (width in points)", acc_rows, ns, contrast)

    delta_rows = []
    for pb, pc in LEVELS:
        for strata in (False, True):
            tag = f"{pb}→{pc}{', strata' if strata else ''}"
            for method, r in (
                ("tango", reps),
                ("newcombe", reps),
                ("percentile", boot),
                ("studentized", boot),
            ):
                delta_rows.append(
                    (
                        f"{method}, {tag}",
                        lambda n, m=method, r=r, pb=pb, pc=pc, s=strata: cover_delta(
                            Paired(n, pb, pc, 0.5, s), m, r, seed=2
                        ),
                    )
                )
    contrast = {label for label, _ in delta_rows if "percentile" in label or "student" in label}
    table("Paired accuracy delta, 0/1 scores, phi 0.5 (width in points)", delta_rows, ns, contrast)

    f1_rows = []
    for level, tag in ((0.0, "mean F1 ≈ 0.57"), (2.5, "mean F1 ≈ 0.98")):
        for fig, ours in (("delta", "tango_scaled"), ("mean", "wilson")):
            for m in (ours, "studentized", "percentile"):
                r = reps if m == ours else boot
                f1_rows.append(
                    (
                        f"F1 {fig}, {m}, {tag}",
                        lambda n, f=fig, m=m, r=r, lv=level: cover_f1(n, f, m, r, 3, lv),
                    )
                )
    contrast = {label for label, _ in f1_rows if "percentile" in label or "student" in label}
    table("F1 (set answers; width in points)", f1_rows, ns, contrast)

    timing_rows = [
        ("cost ratio, studentized log ratio", lambda n: cover_timing(n, "cost_ratio", boot, 4)),
        (
            "cost ratio, percentile (former)",
            lambda n: cover_timing(n, "cost_ratio", boot, 4, method="percentile"),
        ),
        ("P50 latency ratio, percentile", lambda n: cover_timing(n, "p50_ratio", boot, 4)),
        ("P95 latency ratio, percentile", lambda n: cover_timing(n, "p95_ratio", boot, 4)),
        ("P95 of one config, order statistics", lambda n: cover_timing(n, "p95", reps, 4)),
    ]
    contrast = {"cost ratio, percentile (former)"}
    table("Cost and latency (lognormal; width as a ratio or in seconds)", timing_rows, ns, contrast)

    print("\n**Clustered items (clusters of 5 sharing a difficulty shift of ±0.2)**\n")
    print("| interval | 20 clusters (n=100) | 40 clusters (n=200) | 100 clusters (n=500) |")
    print("|---|---|---|---|")
    for fig, name in (
        ("accuracy", "accuracy (0.75), Wilson"),
        ("delta", "delta (0.7→0.75), Tango"),
    ):
        for adjust in (True, False):
            cells = []
            for g in (20, 40, 100):
                cov, width = cover_clustered(g, 5, fig, reps, seed=6, adjust=adjust)
                cells.append(f"{100 * cov:.1f}% ({width:.3g})")
            how = "design effect (the analysis')" if adjust else "ignoring clusters"
            print(f"| {name}, {how} | " + " | ".join(cells) + " |", flush=True)

    print("\n**Strata table under a global null: runs with at least one starred cell**\n")
    print("| configs × strata | n per stratum | Holm over the table | Holm within each stratum |")
    print("|---|---|---|---|")
    for k, s in ((3, 4), (5, 6)):
        for n in (50, 200):
            table_fwer = strata_table_fwer(n, k, s, reps, seed=5, family="table")
            stratum_fwer = strata_table_fwer(n, k, s, reps, seed=5, family="stratum")
            print(f"| {k} × {s} | {n} | {100 * table_fwer:.1f}% | {100 * stratum_fwer:.1f}% |")

    from tts_bench.analysis.power import exact_power, items_needed

    print("\n**Power at 80%, alpha 0.05, exact McNemar test**\n")
    print("| discordance | delta | normal-formula n | its exact power | exact n | its power |")
    print("|---|---|---|---|---|---|")
    from scipy.special import ndtri

    for psi, delta in ((0.1, 0.05), (0.2, 0.05), (0.2, 0.1), (0.3, 0.05), (0.4, 0.1)):
        var = psi - delta**2
        n_norm = int(-(-((ndtri(0.975) + ndtri(0.8)) ** 2) * var // delta**2))
        n_ex = items_needed(delta, psi)
        p10, p01 = (psi + delta) / 2, (psi - delta) / 2
        print(
            f"| {psi:.0%} | {100 * delta:.0f} pts | {n_norm} | "
            f"{100 * exact_power(n_norm, p10, p01):.1f}% | {n_ex} | "
            f"{100 * exact_power(n_ex, p10, p01):.1f}% |"
        )
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
