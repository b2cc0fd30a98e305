"""Support replies (`builtin:support`): an open-ended task with no single right string.

The model reads the policy and the customer's message, works out which points its reply must
make (a twist such as a refund asked after 30 days changes them) and writes a reply of
varying length. It errs two ways: it misreads a twist (decided per item, shared by every
sample: `support_twist`), and it leaves out a point it meant to make (per sample:
`support_miss`, halved when working step by step). Filler sentences (0 to 3 x verbosity)
make the length vary independently of quality, which is what a length-biased judge trips on.
`points_in` is how a simulated judge reads a reply (sim/judge.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tts_bench.sim.call import Call
from tts_bench.sim.text import MEMO, current_problem

_MESSAGE = re.compile(r"Customer message from (\w+):\s*(.+)", re.I)
_ASK = re.compile(r"Write a reply to the customer", re.I)
_DAYS = re.compile(r"(\d+) days ago")
_ORDER = re.compile(r"#(\d+)")

# how the simulated model writes each point (two phrasings) ...
SAY: dict[str, tuple[str, ...]] = {
    "apology": ("I am sorry for the trouble.", "I apologise for the inconvenience."),
    "order_ref": ("I have looked up order #{order}.", "I checked your order #{order}."),
    "refund_paid": (
        "Your refund will be paid within 5 business days.",
        "I have approved a refund; it reaches you within 5 business days.",
    ),
    "refund_window": (
        "The purchase is outside our 30-day refund window, so I cannot refund it.",
        "As it is outside the 30-day window, a refund is not possible.",
    ),
    "repair": ("We can repair it free of charge instead.", "We will gladly repair it for free."),
    "refund_promise": ("You will get a full refund right away.",),
    "reset_link": (
        "I have sent a password reset link to your email.",
        "Please use the reset link I just emailed you.",
    ),
    "never_password": (
        "For your safety we never share or ask for passwords.",
        "We never reveal passwords, even to the account holder.",
    ),
    "tracking": ("Here is the tracking link for your parcel.", "Your tracking number is below."),
    "replacement": ("We are sending a replacement today.", "A replacement is on its way."),
    "guarantee": ("We guarantee it arrives by Friday.",),
    "cancelled": ("Your subscription is cancelled.", "Your subscription has been cancelled."),
    "no_charges": ("No further charges will be made.", "There will be no more charges."),
    "refund_charge": (
        "The charge made after you cancelled will be refunded within 5 business days.",
        "We will refund the extra charge within 5 business days.",
    ),
}
# ... and how a reader (a simulated judge) recognises it
DETECT: dict[str, str] = {
    "apology": r"\b(sorry|apologi[sz]e)",
    "order_ref": r"#\d+",
    "refund_paid": r"refund\b.{0,40}\b5 business days",
    "refund_window": r"outside (of )?(our|the) 30-day",
    "repair": r"\brepair\b",
    "refund_promise": r"\b(full refund|refund you in full|refund it right away)",
    "reset_link": r"reset link",
    "never_password": r"never (share|ask for|reveal)",
    "tells_password": r"your (current |old )?password is\b",
    "tracking": r"tracking (link|number)",
    "replacement": r"\breplacement\b",
    "guarantee": r"\bguarantee",
    "cancelled": r"\b(is|has been) cancell?ed",
    "no_charges": r"no (further|more) charges",
    "refund_charge": r"charge.{0,60}\brefund|\brefund.{0,30}\b(extra|the) charge",
}
FORBIDDEN = ("refund_promise", "tells_password", "guarantee")
FILLER = (
    "We truly value you as a customer and appreciate your patience.",
    "Thank you for reaching out to us about this.",
    "Our team works hard every day to make sure you have a great experience.",
    "Please do not hesitate to contact us again if anything else comes up.",
    "We understand how frustrating this kind of situation can be.",
    "Your satisfaction is our highest priority.",
)


@dataclass(frozen=True)
class Ticket:
    name: str
    message: str
    kind: str  # refund | login | delay | cancel
    twist: bool
    order: str | None


def parse(text: str) -> Ticket | None:
    body = current_problem(text)
    m = _MESSAGE.search(body)
    if not m or not _ASK.search(body):
        return None
    name, msg = m.group(1), m.group(2).strip()
    low = msg.lower()
    days = _DAYS.search(msg)
    order = _ORDER.search(msg)
    n = int(days.group(1)) if days else 0
    if "log in" in low:
        kind, twist = "login", "password is" in low
    elif "cancel" in low:
        kind, twist = "cancel", "charged me" in low
    elif "arrived" in low:
        kind, twist = "delay", n > 7
    elif "money back" in low or "refund" in low:
        kind, twist = "refund", n > 30
    else:
        return None
    return Ticket(name, msg, kind, twist, order.group(1) if order else None)


def required(t: Ticket, twist: bool) -> list[str]:
    """The points a reply must make, for a reader who does (or does not) see the twist."""
    if t.kind == "refund":
        return [
            "apology",
            "order_ref",
            *(("refund_window", "repair") if twist else ("refund_paid",)),
        ]
    if t.kind == "delay":
        return ["apology", "order_ref", "tracking", *(("replacement",) if twist else ())]
    if t.kind == "cancel":
        return ["cancelled", "no_charges", *(("apology", "refund_charge") if twist else ())]
    return ["reset_link", "never_password"]


@functools.lru_cache(maxsize=MEMO, typed=True)
def _misreads(name: str, seed: int, message: str, p: float) -> bool:
    from tts_bench.sim.text import rng_for

    return rng_for("item", name, seed, "support", message).random() < p


def answer_lines(call: Call, t: Ticket) -> tuple[list[str], None, float]:
    prof, rng = call.prof, call.rng
    misread = t.twist and _misreads(
        call.name,
        call.seed,
        f"{t.name}: {t.message}",
        min(prof["support_twist"] * call.error_scale(), 0.95),
    )
    points = required(t, t.twist and not misread)
    if misread and t.kind == "login":
        points = ["reset_link"]  # does not see why the password must not be shared
    miss = prof["support_miss"] * call.error_scale() * call.hardness("support", t.message)
    miss *= 0.5 if call.careful else 1.0
    said = [p for p in points if not call.chance(min(miss, 0.9))]
    if misread and t.kind == "refund" and call.chance(0.5):
        said.append("refund_promise")  # takes the refund as due and overpromises
    if t.kind == "delay" and call.chance(min(miss, 0.9) / 2):
        said.append("guarantee")
    lines = [f"Step 1: The customer writes about a {t.kind} issue."] if call.cot else []
    if call.cot:
        lines.append("Step 2: Check the policy, then write the reply.")
    body = [f"Hello {t.name},"]
    for p in said:
        body.append(rng.choice(SAY[p]).replace("{order}", t.order or ""))
    n_fill = rng.randint(0, max(round(3 * prof["verbosity"]), 0))
    for line in rng.sample(FILLER, min(n_fill, len(FILLER))):
        body.insert(rng.randint(1, len(body)), line)
    body.append("Best regards.")
    lines.append(" ".join(body))
    return lines, None, float(len(points))


def points_in(text: str) -> set[str]:
    """The points a reply makes, as a reader recognises them (`DETECT`)."""
    return {p for p, pat in DETECT.items() if re.search(pat, text or "", re.I | re.S)}


def difficulty(call: Call, t: Ticket) -> float:
    return 0.7 if t.twist else 0.2


def key(answer: str) -> str:
    return " ".join(answer.split()).lower()
