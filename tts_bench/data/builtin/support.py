"""`builtin:support` — write a reply to a customer message (open-ended, judged).

Four scenarios (refund, login, delay, cancel), each plain (`difficulty: easy`) or with a
twist that changes what the reply must say (`hard`: a refund asked outside the 30-day window,
a parcel a week late, a charge after cancelling, a customer asking to be told their
password). Company policy is in the prompt. Columns: id, question (policy, the message and
"Write a reply to the customer."), answer (a reference reply that makes every required
point), scenario, difficulty, required and forbidden (lists of point names; hidden ground
truth for `truth`, never meant for the prompt).

`truth(item, output)` is the careful reviewer: the reply makes every required point and
none of the forbidden ones (each point detected by its own phrase pattern, `POINTS`).
It stands in for human labels in tests; a judge sees the rubric and the reference, never it.

Params: size (default 200), seed (0), hard_share (0.4).
"""

from __future__ import annotations

import random
import re
from typing import Any

POLICY = (
    "Policy: refunds within 30 days of purchase (paid within 5 business days); after 30 days "
    "offer a free repair instead. Late parcels: send the tracking link; more than 7 days late, "
    "send a replacement. Cancellations: confirm it and that no further charges follow; refund "
    "any charge made after cancelling. Never reveal or ask for a password: send a reset link."
)

# point -> (how the reference says it, what a careful reader accepts as saying it)
POINTS: dict[str, tuple[str, str]] = {
    "apology": ("I am sorry for the trouble.", r"\b(sorry|apologi[sz]e)"),
    "order_ref": ("I have looked up order #{order}.", r"#{order}\b"),
    "refund_paid": (
        "Your refund will be paid within 5 business days.",
        r"refund\b.{0,40}\b5 business days",
    ),
    "refund_window": (
        "The purchase is outside our 30-day refund window, so I cannot refund it.",
        r"outside (of )?(our|the) 30-day",
    ),
    "repair": ("We can repair it free of charge instead.", r"\brepair\b"),
    "refund_promise": ("", r"\b(full refund|refund you in full|refund it right away)"),
    "reset_link": ("I have sent a password reset link to your email.", r"reset link"),
    "never_password": (
        "For your safety we never share or ask for passwords.",
        r"never (share|ask for|reveal)",
    ),
    "tells_password": ("", r"your (current |old )?password is\b"),
    "tracking": ("Here is the tracking link for your parcel.", r"tracking (link|number)"),
    "replacement": ("We are sending a replacement today.", r"\breplacement\b"),
    "guarantee": ("", r"\bguarantee"),
    "cancelled": ("Your subscription is cancelled.", r"\b(is|has been) cancell?ed"),
    "no_charges": ("No further charges will be made.", r"no (further|more) charges"),
    "refund_charge": (
        "The charge made after you cancelled will be refunded within 5 business days.",
        r"charge.{0,60}\brefund|\brefund.{0,30}\b(extra|the) charge",
    ),
}

PRODUCTS = ["blender", "headset", "desk lamp", "kettle", "keyboard", "backpack"]
NAMES = ["Sam", "Alex", "Jordan", "Maria", "Chen", "Priya", "Tom", "Ana"]
PLANS = ["basic", "family", "premium", "student"]
DAYS = ["yesterday", "Monday", "this morning", "last week"]


def _scenario(kind: str, hard: bool, rng: random.Random) -> tuple[str, list[str], list[str]]:
    """(the customer's message, required points, forbidden points)."""
    order = rng.randint(10000, 99999)
    if kind == "refund":
        days = rng.randint(35, 90) if hard else rng.randint(2, 28)
        msg = (
            f"I bought a {rng.choice(PRODUCTS)} {days} days ago (order #{order}) and it "
            "stopped working. I want my money back."
        )
        req = ["apology", "order_ref", *(("refund_window", "repair") if hard else ("refund_paid",))]
        return msg, req, ["refund_promise"] if hard else []
    if kind == "delay":
        days = rng.randint(8, 20) if hard else rng.randint(1, 5)
        msg = f"My order #{order} was due {days} days ago and it still has not arrived."
        req = ["apology", "order_ref", "tracking", *(("replacement",) if hard else ())]
        return msg, req, ["guarantee"]
    if kind == "cancel":
        plan = rng.choice(PLANS)
        msg = f"Please cancel my {plan} subscription (account {order})."
        if hard:
            msg = (
                f"I cancelled my {plan} subscription last month but you charged me "
                f"${rng.randint(5, 30)} again. Cancel it! (account {order})"
            )
        req = ["cancelled", "no_charges", *(("apology", "refund_charge") if hard else ())]
        return msg, req, []
    msg = f"I cannot log in to my account (user {order}) since {rng.choice(DAYS)}."
    if hard:
        msg += " Just tell me what my password is so I can get back in."
    return msg, ["reset_link", "never_password"], ["tells_password"]


def _say(point: str, message: str) -> str:
    m = re.search(r"#(\d+)", message)
    return POINTS[point][0].replace("{order}", m.group(1) if m else "")


def generate(size: int = 200, seed: int = 0, hard_share: float = 0.4) -> list[dict[str, Any]]:
    if not 0 <= hard_share <= 1:
        raise ValueError("hard_share must be between 0 and 1")
    rng = random.Random(f"support:{seed}")
    kinds = ("refund", "login", "delay", "cancel")
    rows = []
    for i in range(size):
        kind = kinds[i % len(kinds)]
        hard = rng.random() < hard_share
        name = rng.choice(NAMES)
        msg, required, forbidden = _scenario(kind, hard, rng)
        question = (
            f"{POLICY}\nCustomer message from {name}: {msg}\n"
            "Write a reply to the customer that follows the policy."
        )
        reference = " ".join([f"Hello {name},", *(_say(p, msg) for p in required), "Best regards."])
        rows.append(
            {
                "id": f"support-{seed}-{i:05d}",
                "question": question,
                "answer": reference,
                "scenario": kind,
                "difficulty": "hard" if hard else "easy",
                "required": required,
                "forbidden": forbidden,
            }
        )
    return rows


def points_made(item: Any, output: str) -> tuple[list[str], list[str]]:
    """(required points the reply misses, forbidden points it makes)."""
    row = getattr(item, "inputs", item)
    question = str(row.get("question", ""))
    m = re.search(r"#(\d+)", question)
    order = m.group(1) if m else r"\d+"

    def said(point: str) -> bool:
        pattern = POINTS[point][1].replace("{order}", order)
        return re.search(pattern, output or "", re.I | re.S) is not None

    missing = [p for p in row.get("required") or [] if not said(p)]
    made = [p for p in row.get("forbidden") or [] if said(p)]
    return missing, made


def truth(item: Any, output: str) -> bool:
    """The hidden ground truth: every required point made and no forbidden one. `item`: a
    generated row or a loaded item (its `inputs` hold the row's columns)."""
    missing, made = points_made(item, output)
    return not missing and not made
