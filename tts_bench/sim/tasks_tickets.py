"""Support-ticket classification: an easy task where scaling buys nothing.

The model scores each listed category by cue words. Errors are rare and mostly systematic
(a ticket whose aside pulls it toward another category is misread the same way on every
sample), so more samples or more thinking add cost and no accuracy.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tts_bench.sim.call import Call
from tts_bench.sim.text import MEMO, current_problem, rng_for

_ASK = re.compile(r"Classify the ticket into one category:\s*(.+?)\.?\s*$", re.I | re.M)
_TICKET = re.compile(r"Support ticket:\s*(.+)", re.I)
CUES: dict[str, str] = {
    "billing": r"charg|invoice|bill|payment|discount|fee|refund",
    "technical": r"crash|error|button|sync|slow|bug|website|app\b",
    "account": r"log ?in|password|email|profile|account|two-factor|devices",
    "shipping": r"parcel|tracking|deliver|package|order|arriv",
}
SHARED = 0.95  # share of errors that are the item's own (same on every sample)


@dataclass(frozen=True)
class Ticket:
    text: str
    categories: tuple[str, ...]


def parse(text: str) -> Ticket | None:
    body = current_problem(text)
    ask, ticket = _ASK.search(body), _TICKET.search(body)
    if not ask or not ticket:
        return None
    cats = tuple(c.strip().lower() for c in re.split(r",|\bor\b", ask.group(1)) if c.strip())
    return Ticket(ticket.group(1).strip(), cats) if len(cats) >= 2 else None


def _scores(t: Ticket) -> list[tuple[int, str]]:
    return sorted(
        ((len(re.findall(CUES.get(c, re.escape(c)), t.text, re.I)), c) for c in t.categories),
        reverse=True,
    )


@functools.lru_cache(maxsize=MEMO)
def _reading(t: Ticket) -> tuple[str, bool]:
    """(the category the ticket is mainly about, does it carry cues of another too?)"""
    ranked = _scores(t)
    best = ranked[0][1]
    # The first sentence with a cue carries the request; a later aside only adds a cue.
    for sentence in re.split(r"(?<=[.!?,])\s+", t.text):
        hits = [c for c in t.categories if re.search(CUES.get(c, re.escape(c)), sentence, re.I)]
        if hits:
            best = hits[0]
            break
    return best, sum(1 for n, _ in ranked if n > 0) > 1


@functools.lru_cache(maxsize=MEMO, typed=True)
def _item_draws(
    name: str, seed: int, text: str, others: tuple[str, ...]
) -> tuple[float] | tuple[float, float, str]:
    """The ticket's item-level draws: (shared?, then if shared: wrong?, the wrong pick)."""
    irng = rng_for("item", name, seed, "ticket", text)
    first = irng.random()
    if first >= SHARED:
        return (first,)
    second = irng.random()
    return first, second, irng.choice(others)


def answer_lines(call: Call, t: Ticket) -> tuple[list[str], str, float]:
    best, ambiguous = _reading(t)
    p = call.prof["ticket_error"] * (4.0 if ambiguous else 0.3) * call.error_scale()
    others = [c for c in t.categories if c != best]
    draws = _item_draws(call.name, call.seed, t.text, tuple(others))
    if draws[0] < SHARED:
        wrong = draws[1] < p
        pick = draws[2]
    else:
        wrong = call.chance(p)
        pick = call.rng.choice(others)
    label = pick if wrong and others else best
    lines = [f"Step 1: The ticket is mainly about {label}."] if call.cot else []
    lines.append(f"Category: {label}.")
    return lines, label, 1.0


def difficulty(call: Call, t: Ticket) -> float:
    return 0.2


def key(answer: str) -> str:
    return answer.strip().strip(".").lower()
