"""Which outputs a reviewer sees: a stratified random sample of items, every config's output
for each, in a shuffled order.

Items are drawn, not (item, config) outputs, so every config is labelled on the same items
(the paired corrected delta needs that) and a reviewer reads each question once per config
rather than once per output. Items are eligible when at least one config scored them. The
allocation over strata (`by` columns) is proportional with at least `MIN_PER_STRATUM` items
per stratum where the stratum has them (a stratum's agreement needs more than one item), so
strata are sampled at different rates: `design.json` keeps each stratum's population and
allocation and the analysis weights by them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tts_bench.errors import UserError

MIN_PER_STRATUM = 2


@dataclass
class Draw:
    """A review sample: `items` drawn (in shuffled order), `units` [(item, config)] in page
    order, and the design (`by`, `population` and `allocated` per stratum key)."""

    items: list[str]
    units: list[tuple[str, str]]
    by: list[str]
    population: dict[str, int]
    allocated: dict[str, int]
    seed: int
    allocation: str

    def design(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "seed": self.seed,
            "allocation": self.allocation,
            "size": len(self.items),
            "population": self.population,
            "allocated": self.allocated,
            "items": self.items,
        }


def stratum_key(strata: dict[str, Any], by: list[str]) -> str:
    """One stratum's key: `col=value` pairs joined by `|` ('' when `by` is empty)."""
    return "|".join(f"{c}={strata.get(c, 'missing')}" for c in by)


def draw(
    records: list[dict[str, Any]],
    configs: list[str],
    *,
    size: int,
    by: list[str],
    seed: int = 0,
    allocation: str = "proportional",
) -> Draw:
    """Draw `size` items (all when fewer) stratified by `by`, and lay out their scored
    outputs: items shuffled, each item's configs shuffled (so position never says which
    config wrote an output). UserError for an unknown column or a size below 1."""
    from tts_bench.data.sampling import allocate

    if size < 1:
        raise UserError(f"--size {size}: review at least one item")
    scored: dict[str, dict[str, Any]] = {}
    by_item: dict[str, set[str]] = {}
    for r in records:
        if r.get("correct") is None:
            continue  # unscored (infrastructure or judge failure): nothing to compare
        item = str(r["item_id"])
        scored.setdefault(item, r.get("strata") or {})
        by_item.setdefault(item, set()).add(str(r["config"]))
    if not scored:
        raise UserError("no scored outputs in the run: nothing to review")
    known = {c for s in scored.values() for c in s}
    for col in by:
        if col not in known:
            raise UserError(
                f"--by {col}: not a strata column of the run ({', '.join(sorted(known)) or 'none'})"
            )
    groups: dict[str, list[str]] = {}
    for item in sorted(scored):
        groups.setdefault(stratum_key(scored[item], by), []).append(item)
    keys = sorted(groups)
    pops = [len(groups[k]) for k in keys]
    n = min(size, sum(pops))
    weights = [float(p) for p in pops] if allocation == "proportional" else [1.0] * len(pops)
    minimum = min(MIN_PER_STRATUM, n // max(len(keys), 1))
    alloc = allocate(pops, n, weights=weights, minimum=minimum)
    chosen: list[str] = []
    for k, a in zip(keys, alloc, strict=True):
        # seeded per stratum: one stratum's draw does not move when another's size changes
        rng = random.Random(f"{seed}|{k}")
        chosen.extend(rng.sample(groups[k], a))
    rng = random.Random(seed)
    rng.shuffle(chosen)
    units = []
    for item in chosen:
        cfgs = [c for c in configs if c in by_item[item]]
        cfgs += sorted(by_item[item] - set(cfgs))
        rng.shuffle(cfgs)
        units.extend((item, c) for c in cfgs)
    return Draw(
        items=chosen,
        units=units,
        by=list(by),
        population=dict(zip(keys, pops, strict=True)),
        allocated=dict(zip(keys, alloc, strict=True)),
        seed=seed,
        allocation=allocation,
    )
