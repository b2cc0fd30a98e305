"""Contract review: read the numbered clauses and flag the risky ones.

Plainly worded risks are almost always caught; subtle ones are missed with a probability
per sample (part of the miss is shared by all samples of a contract, as a blind spot), so
voting or taking the union over samples cuts misses. Harmless clauses that mention a risky
topic are sometimes flagged. Step-by-step review writes one line per clause (long output,
hence latency) and catches more subtle risks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tts_bench.sim.call import Call
from tts_bench.sim.text import MEMO, current_problem, first_randoms

_CLAUSE = re.compile(r"^\s*(\d+)\.\s+(.+?)\s*$", re.M)
_ASK = re.compile(r"clauses? that (?:pose|carry|create) a risk|risky clauses|risk clauses", re.I)
_RISK = [
    ("auto-renewal", r"automatically renews", r"Term continues for a further"),
    (
        "unlimited liability",
        r"liability under this Agreement is unlimited",
        r"do not apply to any claim brought by the Provider",
    ),
    ("exclusivity", r"exclusively from the Provider", r"shall not engage any other supplier"),
    (
        "unilateral change",
        r"change the fees at any time without notice",
        r"revised by the Provider from time to time",
    ),
    (
        "broad indemnity",
        r"against all claims whatsoever",
        r"harmless from any loss.*howsoever caused",
    ),
    ("IP assignment", r"is assigned to the Provider", r"shall vest in the Provider"),
]
_BAIT = re.compile(r"renew|liabilit|may change|intellectual property|indemnif", re.I)
LONG_AT = 12  # clauses: beyond this, attention is spread thinner


@dataclass(frozen=True)
class Contract:
    clauses: tuple[tuple[str, str], ...]  # (number, text)


def parse(text: str) -> Contract | None:
    body = current_problem(text)
    if not _ASK.search(body):
        return None
    clauses = tuple(_CLAUSE.findall(body))
    return Contract(clauses) if len(clauses) >= 2 else None


@functools.lru_cache(maxsize=MEMO)
def _kind(clause: str) -> tuple[str, bool] | None:
    """(risk name, subtle?) for a risky clause, else None."""
    for name, plain, subtle in _RISK:
        if re.search(plain, clause, re.I):
            return name, False
        if re.search(subtle, clause, re.I):
            return name, True
    return None


def flags(call: Call, c: Contract) -> list[tuple[str, str | None]]:
    """(clause number, risk name or None) for each clause, as this sample sees them."""
    prof = call.prof
    long = len(c.clauses) > LONG_AT
    share = prof["contract_item_share"]
    out: list[tuple[str, str | None]] = []
    for num, text in c.clauses:
        kind = _kind(text)
        if kind is not None:
            name, subtle = kind
            p = prof["contract_detect"]["subtle" if subtle else "obvious"]
            if subtle and call.careful:
                p += prof["contract_cot_gain"]
            p = 1 - (1 - p) * call.error_scale() ** 0.5 * (1.2 if long else 1.0)
            # A blind spot shared by every sample, or this sample's own lapse: the clause's
            # first two item-level draws decide which, and the blind spot's value.
            first, second = first_randoms("item", call.name, call.seed, "clause", c.clauses, num)
            u = second if first < share else call.rng.random()
            out.append((num, name if u < p else None))
        else:
            p = prof["contract_false_flag"] * (4 if _bait(text) else 1) * call.error_scale()
            out.append((num, "possible risk" if call.chance(p) else None))
    return out


@functools.lru_cache(maxsize=MEMO)
def _bait(clause: str) -> bool:
    """Does a harmless clause mention a risky topic?"""
    return _BAIT.search(clause) is not None


def answer_lines(call: Call, c: Contract) -> tuple[list[str], str, float]:
    seen = flags(call, c)
    risky = [num for num, kind in seen if kind]
    final = ", ".join(risky) if risky else "none"
    if call.cot:
        lines = [
            f"Step {i}: Clause {num}: " + (f"risk ({kind})." if kind else "no risk.")
            for i, (num, kind) in enumerate(seen, 1)
        ]
    else:
        lines = [f"Risky clauses: {final}."]
    return lines, final, len(c.clauses) / 2


def difficulty(call: Call, c: Contract) -> float:
    return min(len(c.clauses) / 20, 1.0)


def key(answer: str) -> frozenset[str]:
    return frozenset(re.findall(r"\d+", answer))
