"""`builtin:arithmetic` — seeded multi-step word problems in several phrasings.

Each problem starts from a quantity and applies 2-10 operations (add, subtract, multiply,
divide evenly), one sentence each, in one of three settings (a person's items, a warehouse
stock, a bank balance). Values stay positive integers. Columns: id, question, answer,
difficulty (easy 2-3 steps, medium 4-6, hard 7-10), steps.

Params: size (default 300), seed (0), min_steps (2), max_steps (10).
"""

from __future__ import annotations

import random
from typing import Any

DIFFICULTY = {"easy": (2, 3), "medium": (4, 6), "hard": (7, 10)}
NAMES = ["Maria", "Tom", "Aisha", "Kenji", "Lena", "Omar", "Priya", "Diego", "Sofia", "Jonas"]
ITEMS = ["marbles", "stickers", "apples", "coins", "pencils", "stamps", "shells", "cards"]
GOODS = ["boxes", "crates", "bags of rice", "chairs", "lamps", "bottles"]

# (setting, op) -> phrasings. {p} pronoun, {P} capitalised, {o} object pronoun, {n} operand,
# {it} the items, {pos} possessive. Multiply/divide phrasings carry their own factor.
PHRASES: dict[str, dict[str, list[str]]] = {
    "person": {
        "+": [
            "{P} buys {n} more {it}.",
            "A friend gives {o} {n} {it}.",
            "Then {p} finds {n} more {it}.",
            "{P} receives {n} {it} as a gift.",
        ],
        "-": [
            "{P} gives away {n} {it}.",
            "Then {p} loses {n} of them.",
            "{P} sells {n} {it} at the market.",
        ],
        "*": [
            "{P} doubles {pos} collection.|2",
            "The number of {it} {p} has triples.|3",
            "{P} ends up with {n} times as many {it} as before.|n",
        ],
        "/": [
            "{P} splits {pos} {it} equally into {n} bags and keeps one bag.|n",
            "{P} gives half of {pos} {it} to a cousin.|2",
        ],
    },
    "warehouse": {
        "+": ["A delivery brings {n} more {it}.", "Then {n} {it} are added to the stock."],
        "-": ["{n} {it} are shipped out.", "Then {n} {it} are removed as damaged."],
        "*": ["The stock is doubled.|2", "The stock is multiplied by {n}.|n"],
        "/": [
            "The stock is divided equally among {n} stores and one share stays.|n",
            "The stock is halved.|2",
        ],
    },
    "account": {
        "+": ["{P} deposits ${n}.", "A refund of ${n} arrives in the account."],
        "-": ["{P} withdraws ${n}.", "Then a bill of ${n} is paid from the account."],
        "*": ["The balance doubles.|2", "The balance grows to {n} times its size.|n"],
        "/": ["The balance is split equally into {n} accounts and only one is kept.|n"],
    },
}


def _op_sentence(rng: random.Random, setting: str, op: str, value: int) -> tuple[str, int] | None:
    """A phrasing for `op` that keeps the value a positive integer, and its operand."""
    choices = PHRASES[setting][op]
    rng.shuffle(choices := list(choices))
    for phrase in choices:
        text, _, factor = phrase.partition("|")
        if op == "+":
            n = rng.randint(2, 40)
        elif op == "-":
            if value < 4:
                return None
            n = rng.randint(1, min(40, value - 1))
        elif op == "*":
            n = int(factor) if factor != "n" else rng.randint(2, 4)
            if value * n > 5000:
                continue
        else:
            divisors = [int(factor)] if factor != "n" else [2, 3, 4, 5]
            ok = [d for d in divisors if value % d == 0 and value // d >= 2]
            if not ok:
                continue
            n = rng.choice(ok)
        return text.replace("{n}", str(n)), n
    return None


def _apply(op: str, value: int, n: int) -> int:
    return {"+": value + n, "-": value - n, "*": value * n, "/": value // n}[op]


def problem(rng: random.Random, steps: int) -> tuple[str, int]:
    """One word problem with exactly `steps` operations, and its answer."""
    setting = rng.choice(list(PHRASES))
    name = rng.choice(NAMES)
    she = rng.random() < 0.5
    pron = {
        "p": "she" if she else "he",
        "o": "her" if she else "him",
        "pos": "her" if she else "his",
    }
    value = rng.randint(5, 60) if setting != "account" else rng.randint(20, 200)
    if setting == "person":
        it = rng.choice(ITEMS)
        first = f"{name} has {value} {it}."
        ask = f"How many {it} does {name} have now?"
    elif setting == "warehouse":
        it = rng.choice(GOODS)
        first = f"A warehouse holds {value} {it}."
        ask = f"How many {it} are in the warehouse at the end?"
    else:
        it = "dollars"
        first = f"{name}'s savings account holds ${value}."
        ask = "What is the balance of the account at the end, in dollars?"
    sentences = [first]
    done = 0
    while done < steps:
        op = rng.choices(["+", "-", "*", "/"], weights=[3, 3, 1.5, 1.5])[0]
        made = _op_sentence(rng, setting, op, value)
        if made is None:
            continue
        text, n = made
        text = text.format(P=pron["p"].capitalize(), it=it, **pron)
        sentences.append(text[0].upper() + text[1:])
        value = _apply(op, value, n)
        done += 1
    sentences.append(ask)
    return " ".join(sentences), value


def generate(
    size: int = 300, seed: int = 0, min_steps: int = 2, max_steps: int = 10
) -> list[dict[str, Any]]:
    """`size` problems, difficulty drawn uniformly, steps uniform within the difficulty."""
    if not 1 <= min_steps <= max_steps <= 12:
        raise ValueError("need 1 <= min_steps <= max_steps <= 12")
    rng = random.Random(f"arithmetic:{seed}")
    levels = [d for d, (lo, hi) in DIFFICULTY.items() if hi >= min_steps and lo <= max_steps]
    rows = []
    for i in range(size):
        level = rng.choice(levels)
        lo, hi = DIFFICULTY[level]
        steps = rng.randint(max(lo, min_steps), min(hi, max_steps))
        question, answer = problem(rng, steps)
        rows.append(
            {
                "id": f"arith-{seed}-{i:05d}",
                "question": question,
                "answer": str(answer),
                "difficulty": level,
                "steps": steps,
            }
        )
    return rows
