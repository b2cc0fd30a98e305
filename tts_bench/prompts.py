"""Prompt texts for the roles a strategy plays beyond answering (judge, critique, ...).

Each role prompt quotes the original question between `### Problem` and the next `###`
heading, so any model — and the simulator, which reads prompts like a model does — can find
it. `sections()` splits such a prompt back into its parts.
"""

from __future__ import annotations

import re

COT_INSTRUCTION = "Let's think step by step. Write each step on its own line."

ROLE_HEADERS = {
    "judge": "You are a strict verifier. Check whether the candidate answer to the problem is correct.",
    "critique": "You are a careful reviewer. Find the first error in the solution, if there is one.",
    "refine": "Revise the solution to the problem, fixing the error the reviewer found.",
    "classify": "Classify how difficult the problem is for a language model.",
    "next_step": "Continue the partial solution to the problem with exactly one next step.",
    "value": "Estimate how likely the partial solution is to lead to a correct final answer.",
}

_SECTION = re.compile(r"^### (\w[\w ]*)\n", re.M)


def _block(name: str, body: str) -> str:
    return f"### {name}\n{body.strip()}\n"


def judge(problem: str, candidate: str) -> str:
    return (
        f"{ROLE_HEADERS['judge']}\n{_block('Problem', problem)}{_block('Candidate', candidate)}"
        "### Instructions\nSolve the problem yourself, compare, and end with "
        "'Score: <0-10>' (10 = certainly correct).\n"
    )


def critique(problem: str, solution: str) -> str:
    return (
        f"{ROLE_HEADERS['critique']}\n{_block('Problem', problem)}{_block('Solution', solution)}"
        "### Instructions\nIf the solution is correct, reply exactly 'No errors found.' "
        "Otherwise describe the first error.\n"
    )


def refine(problem: str, solution: str, feedback: str) -> str:
    return (
        f"{ROLE_HEADERS['refine']}\n{_block('Problem', problem)}{_block('Solution', solution)}"
        f"{_block('Feedback', feedback)}"
        "### Instructions\nWrite the corrected solution and end with the final-answer line "
        "the problem asks for.\n"
    )


def classify(problem: str, labels: tuple[str, ...] = ("easy", "hard")) -> str:
    return (
        f"{ROLE_HEADERS['classify']}\n{_block('Problem', problem)}"
        f"### Instructions\nReply with one word: {' or '.join(labels)}.\n"
    )


def next_step(problem: str, partial: str) -> str:
    return (
        f"{ROLE_HEADERS['next_step']}\n{_block('Problem', problem)}{_block('Partial', partial or '(none)')}"
        "### Instructions\nWrite only the next step on one line. If the solution is complete, "
        "write the final-answer line the problem asks for.\n"
    )


def value(problem: str, partial: str) -> str:
    return (
        f"{ROLE_HEADERS['value']}\n{_block('Problem', problem)}{_block('Partial', partial or '(none)')}"
        "### Instructions\nEnd with 'Value: <0.0-1.0>'.\n"
    )


def role_of(text: str) -> str | None:
    """The role a prompt asks for, or None for a plain answering prompt."""
    for role, header in ROLE_HEADERS.items():
        if text.startswith(header):
            return role
    return None


def sections(text: str) -> dict[str, str]:
    """`### Name` blocks of a role prompt, by lower-case name."""
    parts = _SECTION.split(text)
    out: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        out[parts[i].strip().lower()] = parts[i + 1].strip()
    return out


SCORE_RE = re.compile(r"Score:\s*(-?\d+(?:\.\d+)?)", re.I)
VALUE_RE = re.compile(r"Value:\s*(-?\d+(?:\.\d+)?)", re.I)
NO_ERRORS = "no errors found"
