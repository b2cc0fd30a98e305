"""Named answer-normalisation steps: `scorer.normalize: [nfkd, letters_only, casefold]`.

A scorer applies the listed steps, in the order given, to the extracted answer and to the
target before comparing them, and to every answer before a vote (equal normalised forms are
one answer). The input is first put in Unicode NFC, so a precomposed "é" and "e" + combining
accent are the same text; the result is trimmed. Steps:

- `casefold`: Unicode case folding ("Straße" -> "strasse").
- `nfkd`: compatibility decomposition, then combining marks dropped: accents fold ("é" -> "e"),
  ligatures and full-width forms become plain letters ("ﬁ" -> "fi", "Ａ" -> "A").
- `nfkc`: compatibility composition: ligatures and full-width forms become plain, accents stay.
- `strip_punct`: delete Unicode punctuation (categories P*: - . , ! ? ' " « » 、 。 …);
  symbols such as $ + ^ stay.
- `collapse_space`: runs of whitespace become one space.
- `drop_space`: delete all whitespace ("a b c" -> "abc").
- `letters_only`: keep Unicode letters (categories L*) only; marks and digits go.
- `alnum_only`: keep Unicode letters and numbers (L*, N*) only.
- `digits_only`: keep decimal digits (Nd) only.
- `drop_articles`: delete the English words "a", "an", "the" (any case), as SQuAD-style
  exact match does.

Every step is idempotent. `nfkd`/`nfkc` can create punctuation and spaces ("⑴" -> "(1)"), so
list them first when other steps should see their output.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from tts_bench.errors import UserError


def _nfkd(s: str) -> str:
    # by combining class, not category Mn: Indic vowel signs (class 0) are letters' parts
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def _keep(*prefixes: str) -> Callable[[str], str]:
    def keep(s: str) -> str:
        return "".join(c for c in s if unicodedata.category(c).startswith(prefixes))

    return keep


def _strip_punct(s: str) -> str:
    return "".join(c for c in s if not unicodedata.category(c).startswith("P"))


_ARTICLE = re.compile(r"(?i)\b(?:a|an|the)\b\s*")

STEPS: dict[str, Callable[[str], str]] = {
    "casefold": str.casefold,
    "nfkd": _nfkd,
    "nfkc": lambda s: unicodedata.normalize("NFKC", s),
    "strip_punct": _strip_punct,
    "collapse_space": lambda s: re.sub(r"\s+", " ", s),
    "drop_space": lambda s: re.sub(r"\s+", "", s),
    "letters_only": _keep("L"),
    "alnum_only": _keep("L", "N"),
    "digits_only": _keep("Nd"),
    "drop_articles": lambda s: _ARTICLE.sub("", s),
}


def check_steps(steps: Sequence[str]) -> list[str]:
    """The steps as a list; ValueError on an unknown or repeated name (listing the known)."""
    out: list[str] = []
    for name in steps:
        if name not in STEPS:
            raise ValueError(f"unknown normalisation step {name!r} (known: {', '.join(STEPS)})")
        if name in out:
            raise ValueError(f"normalisation step {name!r} is listed twice")
        out.append(name)
    return out


def parse_steps(text: str, *, where: str = "--normalize") -> list[str]:
    """`"nfkd,letters_only, casefold"` -> the checked list; UserError (one line) when bad."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    try:
        return check_steps(names)
    except ValueError as exc:
        raise UserError(f"{where}: {exc}") from None


def pipeline(steps: Sequence[str] | None) -> Callable[[str], str] | None:
    """The composed normaliser for `steps` (NFC first, the steps in order, then a trim), or
    None when there are no steps, so callers keep their plain behaviour."""
    if not steps:
        return None
    fns = [STEPS[name] for name in check_steps(steps)]

    def normalise(s: str) -> str:
        s = unicodedata.normalize("NFC", s)
        for fn in fns:
            s = fn(s)
        return s.strip()

    return normalise
