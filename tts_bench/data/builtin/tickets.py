"""`builtin:tickets` — classify customer support tickets into a category.

Categories: billing, technical, account, shipping. Most tickets are plain; a few mention a
second topic in passing (ambiguous). Columns: id, question (ticket text, the category list
and "Answer with the category name."), answer (category), category, ambiguous (yes/no).

Params: size (default 200), seed (0), ambiguous_share (0.15).
"""

from __future__ import annotations

import random
from typing import Any

CATEGORIES = ("billing", "technical", "account", "shipping")
PHRASES: dict[str, list[str]] = {
    "billing": [
        "I was charged twice for my subscription this month.",
        "My invoice shows a fee I never agreed to.",
        "Can you explain the extra charge on my last bill?",
        "The discount code was not applied to my payment.",
    ],
    "technical": [
        "The app crashes every time I open the settings page.",
        "I get an error 500 when uploading a file.",
        "The export button does nothing in the browser.",
        "Sync between my phone and laptop stopped working.",
    ],
    "account": [
        "I cannot log in since I reset my password.",
        "Please change the email address on my profile.",
        "How do I delete my account and my data?",
        "My two-factor code is never accepted.",
    ],
    "shipping": [
        "My parcel has not arrived after two weeks.",
        "The tracking number you sent does not work.",
        "The package was delivered to the wrong address.",
        "Can I change the delivery date of my order?",
    ],
}
ASIDES: dict[str, str] = {
    "billing": "I also wonder whether I will be charged for this.",
    "technical": "The website was also a bit slow today.",
    "account": "I am logged in on two devices, if that matters.",
    "shipping": "My last order also arrived late.",
}
GREETINGS = ["Hello,", "Hi team,", "Good morning,", ""]
CLOSINGS = ["Thanks.", "Please help.", "Regards, a customer.", ""]


def generate(size: int = 200, seed: int = 0, ambiguous_share: float = 0.15) -> list[dict[str, Any]]:
    if not 0 <= ambiguous_share <= 1:
        raise ValueError("ambiguous_share must be between 0 and 1")
    rng = random.Random(f"tickets:{seed}")
    rows = []
    for i in range(size):
        cat = CATEGORIES[i % len(CATEGORIES)]
        parts = [rng.choice(GREETINGS), rng.choice(PHRASES[cat])]
        ambiguous = rng.random() < ambiguous_share
        if ambiguous:
            parts.append(ASIDES[rng.choice([c for c in CATEGORIES if c != cat])])
        parts.append(rng.choice(CLOSINGS))
        ticket = " ".join(p for p in parts if p)
        question = (
            f"Support ticket: {ticket}\n"
            f"Classify the ticket into one category: {', '.join(CATEGORIES)}.\n"
            "Answer with the category name."
        )
        rows.append(
            {
                "id": f"ticket-{seed}-{i:05d}",
                "question": question,
                "answer": cat,
                "category": cat,
                "ambiguous": "yes" if ambiguous else "no",
            }
        )
    return rows
