"""Which (item, config) pairs a process runs, and in what order: the seeded item order, the
pair list, and shards.

A shard is a pure function of the items' ids and strata, the suite seed and the shard count:
the dataset's row order, the configs and the machine play no part, so every config of an
item lands in the same shard and n processes that each run `--shard i/n` together run every
item exactly once. Shards are numbered 1..n (`--shard 1/3`, `2/3`, `3/3`), here, on the
command line and in the manifest alike.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeVar

from tts_bench.errors import UserError


class _HasIdStrata(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def strata(self) -> dict[str, str]: ...


T = TypeVar("T", bound=_HasIdStrata)

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def item_order(item_ids: Iterable[str], seed: int) -> list[str]:
    """The run's item order: ids sorted, then shuffled by the suite seed. Every config of an
    item is scheduled together in this order, so a partial run is a representative, paired
    sample; a merge of shards writes its records in this order over all the shards' items."""
    ids = sorted(item_ids)
    random.Random(f"order:{seed}").shuffle(ids)
    return ids


def pairs(
    ordered_ids: Iterable[str], configs: Sequence[str], done: set[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """Every (item, config) pair not in `done`, items in the given order, configs in suite
    order within an item."""
    skip = done or set()
    return [(i, c) for i in ordered_ids for c in configs if (i, c) not in skip]


def check_shard(index: int, count: int, where: str = "--shard") -> tuple[int, int]:
    """(index, count) when 1 <= index <= count; UserError otherwise."""
    if not all(type(v) is int for v in (index, count)):
        raise UserError(f"{where}: expected two whole numbers i/n, got {index!r}/{count!r}")
    if count < 1 or not 1 <= index <= count:
        raise UserError(
            f"{where} {index}/{count}: the shard number must be between 1 and {max(count, 1)} "
            f"(shards are numbered 1..n, e.g. --shard 1/{max(count, 2)})"
        )
    return index, count


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/3"` → (2, 3): shard 2 of 3, numbered from 1; UserError naming the form otherwise."""
    m = _SHARD.fullmatch(text or "")
    if not m:
        raise UserError(f"--shard {text!r}: expected i/n, e.g. --shard 1/3 (shards are 1..n)")
    return check_shard(int(m.group(1)), int(m.group(2)))


def _rank(seed: int, item_id: str) -> bytes:
    # a hash, not a shuffle: an item's place depends on its own id only, never on which
    # other items the dataset holds or in what order it lists them
    return hashlib.sha256(f"shard:{seed}:{item_id}".encode()).digest()


def _stratum(item: _HasIdStrata) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in item.strata.items()))


def assignment(items: Sequence[_HasIdStrata], count: int, seed: int) -> dict[str, int]:
    """{item id: its shard (1..count)}. Items are sorted by stratum, then by a seeded hash
    of their id, and dealt round-robin: each stratum's items split as evenly as whole
    numbers allow (counts differ by at most one between shards) and so do the shards'
    sizes."""
    check_shard(1, count)
    ranked = sorted(items, key=lambda it: (_stratum(it), _rank(seed, str(it.id)), str(it.id)))
    return {str(it.id): pos % count + 1 for pos, it in enumerate(ranked)}


def shard_items(items: Sequence[T], index: int, count: int, seed: int) -> list[T]:
    """The items of shard `index` of `count` (numbered 1..count), in the order given.

    items: anything with `id` and `strata` (data.LoadedItem); seed: the suite seed. A pure
    function of the items' ids and strata, the seed and count (see `assignment`)."""
    check_shard(index, count)
    where = assignment(items, count, seed)
    return [it for it in items if where[str(it.id)] == index]


def strata_order(items: Iterable[_HasIdStrata]) -> dict[str, list[str]]:
    """Each strata column's values in the order they first appear in `items` (dataset order):
    the key order of an unsplit run's `strata_counts`, which sets the analysis' stratum order;
    a merge of shards restores it from here."""
    out: dict[str, dict[str, None]] = {}
    for it in items:
        for col, value in it.strata.items():
            out.setdefault(str(col), {})[str(value)] = None
    return {col: list(values) for col, values in out.items()}


def shard_field(
    index: int,
    count: int,
    suite_fingerprint: str,
    seed: int,
    n_items: int,
    order: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The manifest's `shard` field: which shard of which items this run directory holds.
    suite_fingerprint: the dataset fingerprint of every item split (all the shards'),
    n_items: this shard's item count, order: `strata_order` of every item split."""
    return {
        "index": index,
        "count": count,
        "suite_fingerprint": suite_fingerprint,
        "seed": seed,
        "items": n_items,
        "strata_order": order or {},
    }


def select_shard(
    items: Sequence[T],
    shard: tuple[int, int] | None,
    seed: int,
    manifest: dict[str, Any] | None = None,
    where: str = "run",
) -> tuple[list[T], dict[str, Any] | None]:
    """(the items to run, the manifest's `shard` field or None) for `run --shard i/n`.

    items: every item of the run (after `--limit`); shard: (i, n) or None; manifest: the
    existing run's, when resuming (its shard is kept when `shard` is None; another shard,
    a shard of a plain run, a shard of other items, or a partial merge is refused); where:
    the run directory, for messages."""
    from tts_bench.data.loader import fingerprint

    before = (manifest or {}).get("shard")
    if isinstance((manifest or {}).get("partial"), dict):
        # its manifest counts only the merged shards' items: finish those shards instead
        raise UserError(
            f"{where}: a partial merge of shards cannot be resumed; finish the missing or "
            "unfinished shards (`run --shard i/n`, or --resume them) and merge again"
        )
    if manifest and shard is not None and not before:
        raise UserError(f"{where}: this run is not a shard; resume it without --shard")
    if isinstance(before, dict):
        kept = check_shard(before.get("index"), before.get("count"), f"{where}: shard")
        if shard is not None and tuple(shard) != kept:
            raise UserError(
                f"{where}: this run is shard {kept[0]}/{kept[1]}, not {shard[0]}/{shard[1]}"
            )
        shard = kept
    if shard is None:
        return list(items), None
    index, count = check_shard(*shard)
    split = fingerprint(items)  # of every item split: shards of other splits never merge
    if isinstance(before, dict) and before.get("suite_fingerprint") != split:
        raise UserError(
            f"{where}: the items split into shards differ from this run's "
            "(another dataset or --limit)"
        )
    chosen = shard_items(items, index, count, seed)
    if not chosen:
        raise UserError(
            f"--shard {index}/{count}: this shard has no items ({len(items)} items, {count} shards)"
        )
    return chosen, shard_field(index, count, split, seed, len(chosen), strata_order(items))


def limit_items(items: list[Any], limit: int, seed: int) -> list[Any]:
    """A quick look at `limit` items that keeps every stratum's share (`run --limit`)."""
    from tts_bench.data import stratified_sample

    if limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    if limit >= len(items):
        return items
    cols = sorted({c for it in items for c in it.strata})
    rows = [it.strata for it in items]
    keep = stratified_sample(rows, by=cols, size=limit, seed=seed, where="--limit")
    return [items[i] for i in keep]
