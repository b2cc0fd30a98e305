"""`builtin:contracts` — contract review: list the numbers of the risky clauses.

Each contract has numbered clauses: ordinary ones, decoys that mention a risky topic
harmlessly (a mutual renewal, a liability cap), and 1-4 risk clauses (auto-renewal,
unlimited liability, exclusivity, unilateral changes, broad indemnity, IP assignment),
each worded obviously or subtly. Columns: id, question, answer (sorted list of clause
numbers as strings), length (short 6-9 clauses / long 13-18), subtlety (obvious: every
risk clause is worded plainly; subtle: at least one is not), n_risks.

Params: size (default 200), seed (0), subtle_share (0.5: chance each risk clause is subtle).
"""

from __future__ import annotations

import random
from typing import Any

RISKS: dict[str, tuple[str, str]] = {
    "auto_renewal": (
        "This Agreement automatically renews for successive one-year terms unless cancelled in writing.",
        "Unless either party gives notice at least ninety days before the end of the Term, the Term "
        "continues for a further twelve months, and likewise thereafter.",
    ),
    "unlimited_liability": (
        "The Customer's liability under this Agreement is unlimited.",
        "The limitations set out in the clause on limits do not apply to any claim brought by the "
        "Provider against the Customer.",
    ),
    "exclusivity": (
        "The Customer shall purchase such services exclusively from the Provider.",
        "During the Term the Customer shall not engage any other supplier for services similar to "
        "the Services.",
    ),
    "unilateral_change": (
        "The Provider may change the fees at any time without notice.",
        "Prices in Schedule A may be revised by the Provider from time to time, effective upon posting "
        "on its website.",
    ),
    "broad_indemnity": (
        "The Customer shall indemnify the Provider against all claims whatsoever, including claims "
        "caused by the Provider's own negligence.",
        "The Customer shall hold the Provider harmless from any loss arising in connection with the "
        "Services, howsoever caused.",
    ),
    "ip_assignment": (
        "All intellectual property created by the Customer, including pre-existing intellectual "
        "property, is assigned to the Provider.",
        "Any improvements, feedback or derivative materials the Customer provides shall vest in the "
        "Provider upon creation.",
    ),
}
DECOYS = [
    "Either party may renew this Agreement by mutual written agreement before it expires.",
    "Each party's liability is limited to the fees paid in the twelve months before the claim.",
    "The Provider may change its support hours with thirty days' written notice and the "
    "Customer's consent.",
    "Each party keeps ownership of the intellectual property it owned before this Agreement.",
    "The Provider shall indemnify the Customer against third-party claims that the Services "
    "infringe any patent.",
]
ORDINARY = [
    "The Customer shall pay each invoice within thirty days of receipt.",
    "Each party shall keep the other party's confidential information secret.",
    "This Agreement is governed by the laws of Almoria.",
    "Notices must be sent in writing to the addresses stated above.",
    "Neither party is liable for delays caused by events beyond its reasonable control.",
    "The Provider shall maintain adequate insurance during the Term.",
    "Headings are for convenience only and do not affect interpretation.",
    "This Agreement is the entire agreement between the parties.",
    "Any amendment must be in writing and signed by both parties.",
    "The Provider shall perform the Services with reasonable skill and care.",
    "Disputes shall first be referred to the parties' senior managers.",
    "The Customer shall provide the Provider with timely access to its premises.",
    "Either party may terminate this Agreement for material breach not cured within thirty days.",
    "The Provider shall comply with all applicable data protection laws.",
    "If any provision is held invalid, the remaining provisions stay in force.",
    "The Provider shall deliver monthly service reports.",
]
QUESTION = (
    "Review the contract below. List the numbers of all clauses that pose a risk to the Customer "
    "(auto-renewal, unlimited liability, exclusivity, unilateral changes, broad indemnities, "
    "assignment of intellectual property)."
)


def contract(rng: random.Random, long: bool, subtle_share: float) -> tuple[str, list[str], bool]:
    """(text, risky clause numbers, any subtle) of one generated contract."""
    n = rng.randint(13, 18) if long else rng.randint(6, 9)
    n_risks = rng.randint(1, 4 if long else 2)
    risks = rng.sample(list(RISKS), n_risks)
    subtle = [rng.random() < subtle_share for _ in risks]
    n_decoys = min(rng.randint(1, 3 if long else 2), n - n_risks)
    body: list[tuple[str, bool]] = [
        (RISKS[r][int(s)], True) for r, s in zip(risks, subtle, strict=True)
    ]
    body += [(d, False) for d in rng.sample(DECOYS, n_decoys)]
    body += [(o, False) for o in rng.sample(ORDINARY, n - len(body))]
    rng.shuffle(body)
    lines = ["SERVICES AGREEMENT between Provider and Customer."]
    lines += [f"{i}. {text}" for i, (text, _) in enumerate(body, 1)]
    risky = [str(i) for i, (_, bad) in enumerate(body, 1) if bad]
    return "\n".join(lines), risky, any(subtle)


def generate(size: int = 200, seed: int = 0, subtle_share: float = 0.5) -> list[dict[str, Any]]:
    """`size` contracts, half short and half long."""
    if not 0 <= subtle_share <= 1:
        raise ValueError("subtle_share must be between 0 and 1")
    rng = random.Random(f"contracts:{seed}")
    rows = []
    for i in range(size):
        long = i % 2 == 1
        text, risky, subtle = contract(rng, long, subtle_share)
        rows.append(
            {
                "id": f"contract-{seed}-{i:05d}",
                "question": f"{QUESTION}\n\n{text}",
                "answer": risky,
                "length": "long" if long else "short",
                "subtlety": "subtle" if subtle else "obvious",
                "n_risks": len(risky),
            }
        )
    return rows
