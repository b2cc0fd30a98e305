"""Answer extraction from model output text: pure functions, one per mode.

Modes: `final_line` (the content of the LAST "Final answer: X" / "Answer: X" / "**Answer:** X" /
"the answer is X" / \\boxed{X}), `last_number`, `choice`, `json`, `set`, `raw`. Each returns a
string (or None when nothing is extractable); the scorer then puts it in canonical form.
`extract_confidence` reads a stated confidence ("Confidence: 85%") for any mode.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from tts_bench.inputcheck import MAX_JSON_DEPTH, json_depth

_MD = r"(?:\*\*|__|\*|_)?"
# "Final answer: X", "**Answer:** X", "Answer - X", "The final answer is X", "My answer is: X".
_MARKER = re.compile(
    rf"(?i)(?:^|(?<=[\s>#*_(\[]))"
    rf"(?:(?:the|my|our|so|thus|hence)\s+(?:final\s+|correct\s+)?answer{_MD}\s+is{_MD}\s*:?"
    rf"|(?:final\s+)?answer{_MD}\s*(?::|：|=|-(?=\s)){_MD})"
    r"\s*(?P<content>.*)$",
    re.MULTILINE,
)
_BOXED = re.compile(r"\\boxed\{")

NUMBER = re.compile(
    r"(?<![\w.])"
    r"(?P<sign>[-+−–]?)(?:[$€£¥]\s?)?(?P<sign2>[-−]?)"  # "84 - 19" is not -19
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\.\d+)(?!\.\d)"  # not 1.2.3
    r"(?:\s*/\s*(?P<den>\d+)(?![\d.]))?"
    r"(?P<pct>\s?%)?"
)


def _boxed(text: str) -> list[tuple[int, str]]:
    """(position, content) of every \\boxed{...}, braces balanced."""
    out = []
    for m in _BOXED.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append((m.start(), text[m.end() : i - 1]))
    return out


def clean(s: str) -> str:
    """Strip markdown emphasis, code ticks, LaTeX $ and wrapping quotes, and a trailing period."""
    s = s.strip()
    for _ in range(3):
        before = s
        s = re.sub(r"^(\*\*|`+|\$+)(.*?)\1$", r"\2", s).strip()  # not __: dunder names
        s = s.strip("*").strip()
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
            s = s[1:-1].strip()
        s = re.sub(r"^\\text\{(.*)\}$", r"\1", s).strip()
        if s.endswith(".") and not s.endswith(".."):  # keep an ellipsis
            s = s[:-1].rstrip()
        if s == before:
            break
    return s


def final_line(text: str) -> str | None:
    """Content of the last answer marker in the text (markers and \\boxed{}); None if none."""
    hits: list[tuple[int, str]] = [(m.start(), m.group("content")) for m in _MARKER.finditer(text)]
    hits += _boxed(text)
    hits = [(pos, c) for pos, c in hits if clean(c)]
    if not hits:
        return None
    pos, content = max(hits, key=lambda h: h[0])
    boxed = _boxed(content)
    return clean(boxed[-1][1] if boxed else content)


def last_line(text: str) -> str | None:
    """The last non-empty line, cleaned."""
    lines = [ln for ln in text.strip().splitlines() if clean(ln)]
    return clean(lines[-1]) if lines else None


def numbers(text: str) -> list[float]:
    """Every number in the text, in order: 1,234 -> 1234, $12 -> 12, 40% -> 40, 3/4 -> 0.75."""
    out = []
    for m in NUMBER.finditer(text):
        try:
            value = float(m.group("num").replace(",", ""))
        except ValueError:
            continue
        den = m.group("den")
        if den is not None:
            # float, not int: a 5,000-digit denominator must not raise (int's digit limit)
            if float(den) == 0:
                continue
            value /= float(den)
        if (m.group("sign") in "-−–" and m.group("sign")) or m.group("sign2"):
            value = -value
        if math.isfinite(value):
            out.append(value)
    return out


def canonical_number(value: float) -> str:
    """Integral -> "42"; else the shortest repr after removing float noise (0.1+0.2 -> 0.3)."""
    value = float(f"{value:.12g}")
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def parse_number(s: Any) -> float | None:
    """A single number from a value: int/float as is, strings via `numbers` (the last one)."""
    if isinstance(s, bool):
        return None
    if isinstance(s, int):
        return float(s) if abs(s) < 1e308 else None  # float() of a longer int overflows
    if isinstance(s, float):
        return s if math.isfinite(s) else None
    found = numbers(str(s))
    return found[-1] if found else None


def last_number(text: str) -> str | None:
    found = numbers(text)
    return canonical_number(found[-1]) if found else None


def numeric_auto(text: str) -> str | None:
    """Final-answer content (the part after its last "="), else the last number of the last
    line, else the last number anywhere."""
    content = final_line(text)
    if content is not None:
        found = numbers(content.rsplit("=", 1)[-1]) or numbers(content)
        if found:
            return canonical_number(found[0])
    line = last_line(text)
    if line is not None and (found := numbers(line)):
        return canonical_number(found[-1])
    return last_number(text)


LETTERS = tuple("ABCDEFGHIJ")


def choice_in(s: str, choices: Sequence[str], *, strict: bool, head: bool = True) -> str | None:
    """A choice at the start of `s` ("B", "(B)", "B)", "B. text", "Option B"); with
    strict=False also the last "(B)" / "option B" / lone "B" anywhere in `s`; head=False
    skips the start-of-string forms."""
    got = _choice_letter(s, choices, strict=strict, head=head)
    return next((c for c in choices if got is not None and c.casefold() == got.casefold()), got)


def _choice_letter(s: str, choices: Sequence[str], *, strict: bool, head: bool) -> str | None:
    letters = all(len(c) == 1 for c in choices)
    if not letters:
        low = s.casefold()
        hits = [(low.rfind(c.casefold()), c) for c in choices]
        pat = [(p, c) for p, c in hits if p >= 0 and re.search(rf"(?i)\b{re.escape(c)}\b", s)]
        return max(pat)[1] if pat else None
    alt = "".join(re.escape(c) for c in {*choices, *(c.upper() for c in choices)})
    for rx, flags in (
        ()
        if not head
        else (
            (rf"^\s*(?:option|choice)\s+[(\[]?([{alt}])\b", re.IGNORECASE),
            (rf"^\s*[(\[]([{alt}])[)\]]", re.IGNORECASE),
            (rf"^\s*([{alt}])(?:[).:,]|\s*$)", 0),  # "B", "B.", "B) text"; not "I think"
            (rf"^\s*([{alt}])[.)]?\s*$", re.IGNORECASE),  # a lone lower-case "b"
        )
    ):
        if head := re.match(rx, s, flags):
            return head.group(1).upper()
    if strict:
        return None
    # "(B)", "option B", "choice C", or an upper-case letter that stands alone at line end.
    # A bare capital "A" inside prose is the article, so a lone letter must end the text.
    found = [
        (m.start(), m.group(1))
        for rx in (
            rf"[(\[]([{alt}])[)\]]",
            rf"(?i)\b(?:option|choice)\s+([{alt}])\b",
            rf"(?<![\w'])([{alt.upper()}])[.)]?\s*$",  # "I think it's D"
        )
        for m in re.finditer(rx, s)
    ]
    return max(found)[1].upper() if found else None


def choice(text: str, choices: Sequence[str] | None = None) -> str | None:
    """A choice letter (A-J or `choices`) from the answer marker, else the last line, else
    "(B)" / "option B" anywhere (last wins)."""
    opts = list(choices or LETTERS)
    content = final_line(text)
    if content is not None:
        # right after a marker a capital letter is the choice even in prose: "Answer: A is right"
        m = re.match(r"^[(\[]?([A-Z])\b", content)
        if m and m.group(1).casefold() in {o.casefold() for o in opts}:
            return choice_in(m.group(1), opts, strict=True)
        if c := choice_in(content, opts, strict=False):
            return c
    line = last_line(text)
    if line is not None and (c := choice_in(line, opts, strict=False)):
        return c
    if all(len(c) == 1 for c in opts):
        return choice_in(text, opts, strict=False, head=False)
    return None


def json_value(text: str) -> Any | None:
    """The "answer" field of the last JSON object in the text (```json blocks first); a bare
    JSON list or scalar in a ```json block is returned as is. None when there is none."""
    if json_depth(text) > MAX_JSON_DEPTH:
        return None  # not an answer; and decoding from every bracket would take minutes
    dec = json.JSONDecoder()
    blocks = re.findall(r"```(?:json)?\s*\n?(.*?)```", text, re.DOTALL | re.IGNORECASE)
    for block in reversed(blocks):
        try:
            value = json.loads(block)
        except (ValueError, RecursionError):  # not JSON, too deep, or an over-long integer
            continue
        got = _answer_field(value)
        if got is not None:
            return got
        if not isinstance(value, dict):
            return value
    for pos in reversed([m.start() for m in re.finditer(r"[{\[]", text)]):
        try:
            value, _ = dec.raw_decode(text, pos)
        except (ValueError, RecursionError):
            continue
        got = _answer_field(value)
        if got is not None:
            return got
    return None


def _answer_field(value: Any) -> Any | None:
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).casefold() in ("answer", "final_answer", "finalanswer"):
                return v
    return None


def json_answer(text: str) -> str | None:
    value = json_value(text)
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float):
        return canonical_number(value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


_ID = re.compile(r"(?<![\w.])([A-Za-z]{1,4}[-_]?\d+|\d+)(?![\w.]|\.\d)")
_EMPTY = {"", "none", "no", "nothing", "empty", "{}", "[]", "∅", "n/a", "null"}


def split_ids(s: str) -> list[str]:
    """IDs in a string: "C3, C12 and C7" -> [C3, C12, C7]; "3, 7, 12" -> [3, 7, 12]; when
    prefixed ids exist, bare numbers are dropped; no ids -> comma/semicolon-separated items."""
    if clean(s).casefold() in _EMPTY:
        return []
    ids = _ID.findall(s)
    prefixed = [i for i in ids if not i.isdigit()]
    if prefixed:
        return prefixed
    if ids:
        return ids
    parts = re.split(r"\s*(?:[,;]|\band\b)\s*", clean(s).strip("[](){}"))
    return [clean(p) for p in parts if clean(p)]


def id_set(text: str) -> list[str] | None:
    """Set answer: a JSON list (or "answer" list), else the answer marker, else the bullet
    lines that end the text (first id of each), else the id-like tokens of the last line.
    Sorted naturally, unique. [] is a valid (empty) set; None means nothing extractable."""
    value = json_value(text)
    if isinstance(value, list):
        return canonical_set(str(v) for v in value)
    content = final_line(text)
    if content is not None:
        return canonical_set(split_ids(content))
    bullets: list[str] = []  # the trailing block of "- C3" / "* C3" / "1. C3" lines
    for ln in reversed([ln for ln in text.strip().splitlines() if ln.strip()]):
        m = re.match(r"^\s*(?:[-*•+]|\d+[.)])\s+(.*)$", ln)
        if not m:
            break
        bullets.append(m.group(1))
    if bullets:
        return canonical_set(i for b in reversed(bullets) for i in split_ids(b)[:1])
    line = last_line(text)  # unmarked prose: only id-like tokens count, else nothing
    ids = _ID.findall(line or "")
    prefixed = [i for i in ids if not i.isdigit()]
    if line is not None and clean(line).casefold() in _EMPTY:
        return []
    return canonical_set(prefixed or ids) if ids else None


def _natural(s: str) -> tuple:
    # a digit run sorts by (significant digits, digits): numeric order without int(), which
    # refuses runs of more than 4,300 digits
    return tuple(
        (len(t.lstrip("0")), t.lstrip("0")) if t.isdigit() else t.casefold()
        for t in re.split(r"(\d+)", s)
    )


def canonical_set(ids: Any) -> list[str]:
    """Unique (case-insensitively), naturally sorted: [c12, C3, C3] -> [C3, c12]."""
    seen: dict[str, str] = {}
    for i in ids:
        i = clean(str(i))
        if i:
            seen.setdefault(i.casefold(), i)
    return sorted(seen.values(), key=_natural)


def raw(text: str) -> str | None:
    s = text.strip()
    return s or None


# "Confidence: 85%", "**Confidence:** 0.85", "confidence level = 90 %"; the last one wins.
_CONFIDENCE = re.compile(
    r"(?i)\bconfidence(?:\s+(?:level|score))?[*_]*\s*[:=][*_]*\s*"
    r"(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<pct>%|percent\b)?"
)


def extract_confidence(text: str) -> float | None:
    """The confidence a model states, in [0, 1]: the last "Confidence: NN%" / "Confidence:
    0.85" in the text. A bare number above 1 is read as a percentage (85 -> 0.85); anything
    above 100% (or no statement) -> None."""
    hits = list(_CONFIDENCE.finditer(text or ""))
    if not hits:
        return None
    m = hits[-1]
    value = float(m.group("num"))
    if m.group("pct") or value > 1:
        value /= 100.0
    return value if 0.0 <= value <= 1.0 else None
