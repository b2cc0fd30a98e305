"""Reading prompts and writing answers the way the simulated models do.

Seeded randomness (`rng_for`), token counting, the final-answer form a prompt asks for,
whether a prompt asks for step-by-step work, and how many worked examples it shows.
"""

from __future__ import annotations

import _random
import functools
import hashlib
import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tts_bench import prompts
from tts_bench.prompts import COT_INSTRUCTION

CHARS_PER_TOKEN = 4.0
REFUSAL = "I'm sorry, I can't help with that."
_FORM = re.compile(r"""['"]([^'"\n<]{0,40})<([^>\n]{1,40})>([^'"\n]{0,10})['"]""")
_COT = re.compile(r"step[- ]by[- ]step|show your (?:work|reasoning)|think it through", re.I)
_EXAMPLE = re.compile(r"^Example (?:problem|question)\b", re.I | re.M)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


# Every seed hashes json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False): that
# text must never change (it would change every simulated reply). json.dumps builds a new
# encoder per call; the C encoder it builds is made once here instead (no circular-reference
# check: keys are small and acyclic; the output is the same).
_ENCODE = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False).encode
_C_ENCODER = (
    json.encoder.c_make_encoder(
        None, str, json.encoder.encode_basestring, None, ": ", ", ", True, False, True
    )
    if json.encoder.c_make_encoder is not None
    else None
)
_Random = random.Random
_seed = _random.Random.seed
_encode_str = json.encoder.encode_basestring  # the encoder's own, for ensure_ascii=False
# Memo sizes. Items in flight (a run's concurrency) need a few dozen draws and texts each;
# a bound keeps a run of any length at a few MB per memo.
MEMO = 1 << 14  # entries per memo of item-level draws
TEXTS = 2048  # entries per memo of prompt reading


def _encode(value: object) -> str:
    if _C_ENCODER is None or isinstance(value, str):
        return _ENCODE(value)
    return "".join(_C_ENCODER(value, 0))


class Encoded:
    """A part of an RNG key already JSON-encoded (a request's messages, encoded once per call
    rather than once per key that contains them)."""

    __slots__ = ("json",)

    def __init__(self, value: object) -> None:
        self.json = _encode(value)


def _part(p: object) -> str:
    """One part as it is written inside a sequence: the same text as on its own."""
    t = type(p)
    if t is str:
        return _encode_str(p)
    if t is int:
        return int.__repr__(p)  # type: ignore[arg-type]
    if t is Encoded:
        return p.json  # type: ignore[attr-defined]
    if p is None:
        return "null"
    if t is float and math.isfinite(p):  # type: ignore[arg-type]
        return float.__repr__(p)  # type: ignore[arg-type]
    return _encode(p)


def _blob(parts: tuple[object, ...]) -> str:
    """The JSON text of `parts`, Encoded parts spliced in as they are: a sequence is written
    "[" + ", ".join(items) + "]", each item as it would be on its own."""
    return "[" + ", ".join(map(_part, parts)) + "]"


def rng_for(*parts: object) -> random.Random:
    """A Random seeded by a stable hash of `parts` (the same on every machine and run)."""
    digest = hashlib.blake2b(_blob(parts).encode(), digest_size=8).digest()
    # Random(n) without its Python-level __init__ (which seeds the same way and resets the
    # cached second normal deviate): seeding is most of a simulated call's cost.
    rng = _Random.__new__(_Random)
    _seed(rng, int.from_bytes(digest, "big"))
    rng.gauss_next = None
    return rng


@functools.lru_cache(maxsize=MEMO, typed=True)
def first_gauss(*parts: object) -> float:
    """`rng_for(*parts).gauss(0, 1)`, memoised: item-level latents are drawn once per key,
    not once per step, sample and call (`parts` must be hashable scalars or tuples)."""
    return rng_for(*parts).gauss(0, 1)


@functools.lru_cache(maxsize=MEMO, typed=True)
def first_randoms(*parts: object) -> tuple[float, float]:
    """The first two `random()` draws of `rng_for(*parts)`, memoised like `first_gauss`."""
    rng = rng_for(*parts)
    return rng.random(), rng.random()


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


# Prompt reading is memoised per message text: the samples, roles and configs of one item
# send the same texts again and again, and their parse is a pure function of the text.


@functools.lru_cache(maxsize=TEXTS)
def role_of(text: str) -> str | None:
    """`prompts.role_of`, memoised."""
    return prompts.role_of(text)


@functools.lru_cache(maxsize=TEXTS)
def sections(text: str) -> Mapping[str, str]:
    """`prompts.sections`, memoised (read-only: the mapping is shared)."""
    return MappingProxyType(prompts.sections(text))


@functools.lru_cache(maxsize=TEXTS)
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
        _asks_cot(str(m.get("content", ""))) for m in messages if m.get("role") != "assistant"
    )


@functools.lru_cache(maxsize=TEXTS)
def _asks_cot(text: str) -> bool:
    return COT_INSTRUCTION in text or _COT.search(text) is not None


def n_examples(messages: list[dict[str, str]]) -> int:
    """Worked examples shown: inline "Example problem:" blocks or earlier assistant turns."""
    inline = sum(_inline_examples(str(m.get("content", ""))) for m in messages)
    turns = sum(1 for m in messages[:-1] if m.get("role") == "assistant")
    return inline + turns


@functools.lru_cache(maxsize=TEXTS)
def _inline_examples(text: str) -> int:
    return len(_EXAMPLE.findall(text))


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
