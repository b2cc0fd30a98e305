"""Multiple-choice questions about the synthetic world: recall, misremember or guess.

Whether a model knows a fact is decided once per (model, fact), from the entity's
popularity and the profile's coverage, so more samples or more thinking cannot conjure a
fact it lacks. Of the facts it lacks, a share is misremembered (one wrong value, firmly
believed: confidently wrong on every sample) and the rest are guessed (a letter that
varies by sample, with a weak favourite: low vote agreement), often with high stated
confidence anyway.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tts_bench.sim import world
from tts_bench.sim.call import Call
from tts_bench.sim.text import MEMO, current_problem, rng_for

_OPTION = re.compile(r"^\s*\(?([A-D])[.)]\s+(.+?)\s*$", re.M)
_TEMPLATES = [
    (cat, attr, re.compile(re.escape(tpl).replace(re.escape("{e}"), r"(?P<e>[A-Z][\w&' ]+?)")))
    for cat, attrs in world.SCHEMA.items()
    for attr, (tpl, _) in attrs.items()
]
FAVOURITE = 0.35  # a guess's pull toward the same letter on every sample


@dataclass(frozen=True)
class Question:
    category: str
    attribute: str
    entity: str
    options: tuple[tuple[str, str], ...]  # (letter, value)


def parse(text: str) -> Question | None:
    body = current_problem(text)
    for cat, attr, rx in _TEMPLATES:
        hits = list(rx.finditer(body))
        if not hits:
            continue
        m = hits[-1]
        options = tuple(_OPTION.findall(body[m.end() :]))[:4]
        if len(options) >= 2:
            return Question(cat, attr, m.group("e").strip(), options)
    return None


def _state(call: Call, q: Question) -> tuple[str, str | None]:
    """('known'|'misremembered'|'guess', believed letter) — fixed per model and fact."""
    cov = call.prof["knowledge_coverage"][world.popularity(q.entity)]
    return _belief(call.name, call.seed, q, cov, call.prof["misremember_share"])


@functools.lru_cache(maxsize=MEMO, typed=True)
def _belief(name: str, seed: int, q: Question, cov: float, share: float) -> tuple[str, str | None]:
    """`_state`, memoised: it draws from the fact's own RNG only."""
    irng = rng_for("item", name, seed, "know", q.entity, q.attribute)
    truth = world.fact(q.category, q.entity, q.attribute)
    letters = [L for L, _ in q.options]
    right = next((L for L, v in q.options if v == truth), None)
    u = irng.random()
    if u < cov and right is not None:
        return "known", right
    wrong = sorted(L for L in letters if L != right)
    if u < cov + (1 - cov) * share and wrong:
        return "misremembered", irng.choice(wrong)
    return "guess", irng.choice(sorted(letters))


def answer_lines(call: Call, q: Question) -> tuple[list[str], str, float]:
    rng = call.rng
    letters = [L for L, _ in q.options]
    state, belief = _state(call, q)
    if state == "known":
        slip = call.prof["knowledge_slip"] * call.error_scale()
        letter = (
            belief if not call.chance(slip) else rng.choice([L for L in letters if L != belief])
        )
        conf = rng.randint(85, 99)
    elif state == "misremembered":
        letter = belief if call.chance(0.85) else rng.choice(letters)
        conf = rng.randint(80, 95)
    else:
        letter = belief if call.chance(FAVOURITE) else rng.choice(letters)
        high = call.chance(call.prof["guess_confidence"])
        conf = rng.randint(80, 95) if high else rng.randint(30, 60)
    value = dict(q.options)[letter]  # type: ignore[index]
    lines = []
    if call.cot:
        lines.append(f"Step 1: The question asks about the {q.attribute} of {q.entity}.")
        lines.append(f"Step 2: From what I recall, it is {value}.")
        lines.append(f"Step 3: That matches option {letter}.")
    else:
        lines.append(f"{q.entity}: {value}.")
    lines.append(f"Confidence: {conf}%")
    return lines, letter, 2.0


def difficulty(call: Call, q: Question) -> float:
    """The model's own sense of difficulty: low when it believes it knows the fact."""
    state, _ = _state(call, q)
    return 0.25 if state != "guess" else 0.75


def key(answer: str) -> str:
    m = re.search(r"\b([A-D])\b", answer.upper())
    return m.group(1) if m else answer.strip().upper()
