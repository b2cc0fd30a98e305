"""`builtin:knowledge` — multiple-choice questions about a seeded synthetic world.

Entities (cities, scientists, companies) have attributes whose true values and popularity
come from `tts_bench.sim.world`. Columns: id, question (with options A-D and "Answer with
the letter."), answer (letter), category, popularity (high/medium/low).

Params: size (default 300), seed (0).
"""

from __future__ import annotations

import random
from typing import Any

from tts_bench.sim import world

LETTERS = "ABCD"


def generate(size: int = 300, seed: int = 0) -> list[dict[str, Any]]:
    """`size` questions, balanced over popularity levels, categories drawn uniformly."""
    rng = random.Random(f"knowledge:{seed}")
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    while len(rows) < size:
        want = world.POPULARITY[len(rows) % len(world.POPULARITY)]
        category = rng.choice(list(world.SCHEMA))
        entity = world.entity_name(category, rng)
        if world.popularity(entity) != want:
            continue
        attribute = rng.choice(list(world.SCHEMA[category]))
        if (entity, attribute) in seen:
            continue
        seen.add((entity, attribute))
        template, pool = world.SCHEMA[category][attribute]
        truth = world.fact(category, entity, attribute)
        options = [truth, *rng.sample([v for v in pool if v != truth], 3)]
        rng.shuffle(options)
        lines = [template.format(e=entity)]
        lines += [f"{L}. {opt}" for L, opt in zip(LETTERS, options, strict=True)]
        lines.append("Answer with the letter.")
        rows.append(
            {
                "id": f"know-{seed}-{len(rows):05d}",
                "question": "\n".join(lines),
                "answer": LETTERS[options.index(truth)],
                "category": category,
                "popularity": want,
            }
        )
    return rows
