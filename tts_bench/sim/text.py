"""Reading prompts and writing answers the way the simulated models do.

Seeded randomness (`rng_for`), token counting, the final-answer form a prompt asks for,
whether a prompt asks for step-by-step work, and how many worked examples it shows.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass

from tts_bench.prompts import COT_INSTRUCTION

CHARS_PER_TOKEN = 4.0
REFUSAL = "I'm sorry, I can't help with that."
_FORM = re.compile(r"""['"]([^'"\n<]{0,40})<([^>\n]{1,40})>([^'"\n]{0,10})['"]""")
_COT = re.compile(r"step[- ]by[- ]step|show your (?:work|reasoning)|think it through", re.I)
_EXAMPLE = re.compile(r"^Example (?:problem|question)\b", re.I | re.M)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def rng_for(*parts: object) -> random.Random:
    """A Random seeded by a stable hash of `parts` (the same on every machine and run)."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big"))


def tokens(text: str) -> int:
    """Approximate token count (about four characters per token, as for English BPE)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def input_tokens(messages: list[dict[str, str]]) -> int:
    """Prompt tokens including a few per message of chat-format overhead."""
    return sum(tokens(str(m.get("content", ""))) + 4 for m in messages) + 2


@dataclass(frozen=True)
class Form:
    """The final-answer line a prompt asks for: prefix + value + suffix."""

    prefix: str = "Final answer: "
    suffix: str = ""

    def line(self, value: str) -> str:
        return f"{self.prefix}{value}{self.suffix}"


def answer_form(text: str) -> Form:
    """Find a quoted template with a <placeholder> (e.g. "End with 'Final answer: <number>'")."""
    found = _FORM.findall(text)
    if not found:
        return Form()
    prefix, _, suffix = found[-1]
    return Form(prefix=prefix or "Final answer: ", suffix=suffix.rstrip(".") if suffix else "")


def wants_cot(messages: list[dict[str, str]]) -> bool:
    """Does the prompt ask for step-by-step work?"""
    return any(
        COT_INSTRUCTION in str(m.get("content", "")) or _COT.search(str(m.get("content", "")))
        for m in messages
        if m.get("role") != "assistant"
    )


def n_examples(messages: list[dict[str, str]]) -> int:
    """Worked examples shown: inline "Example problem:" blocks or earlier assistant turns."""
    inline = sum(len(_EXAMPLE.findall(str(m.get("content", "")))) for m in messages)
    turns = sum(1 for m in messages[:-1] if m.get("role") == "assistant")
    return inline + turns


def current_problem(text: str) -> str:
    """The part of a user message after any worked examples."""
    for marker in ("Now the problem:", "Now the question:", "Problem:\n"):
        if marker in text:
            return text.rsplit(marker, 1)[1]
    return text


def fmt_num(x: float) -> str:
    """42 for integral values, else at most two decimals (how a model would write it)."""
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def numbers(text: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(text)]


def truncate(text: str, max_tokens: int) -> str:
    """The first `max_tokens` tokens' worth of text."""
    return text[: int(max_tokens * CHARS_PER_TOKEN)]


_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _int_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        rest = f" and {_int_words(n % 100)}" if n % 100 else ""
        return f"{_ONES[n // 100]} hundred{rest}"
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            tail = (" and " if rest < 100 else ", ") + _int_words(rest) if rest else ""
            return f"{_int_words(n // size)} {name}{tail}"
    raise AssertionError(n)


def spelled(value: str) -> str | None:
    """A number written out in words ("-12.5" -> "minus twelve point five"), digit-free so no
    extractor reads it back; None for what is not a number or is too large to spell."""
    try:
        x = float(value.replace("$", "").replace(",", ""))
    except ValueError:
        return None
    if not math.isfinite(x) or abs(x) >= 10**12:
        return None
    text = fmt_num(abs(x))
    whole, _, frac = text.partition(".")
    out = _int_words(int(whole))
    if frac:
        out += " point " + " ".join(_ONES[int(d)] for d in frac)
    return ("minus " if x < 0 else "") + out
