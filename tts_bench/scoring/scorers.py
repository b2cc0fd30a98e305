"""Scorers: extract a canonical answer, key it for voting, score it against the target.

Built by `make_scorer(ScorerSpec)`. Canonical answers: numeric -> "42" / "3.5"; choice -> a
letter (or one of `choices`); set -> "C3, C12" (unique, natural order); exact / regex -> the
cleaned answer text. `key()` is the identity used to pool votes. `spec.normalize` (steps of
`scoring.normalize`) is applied to answer and target before exact, regex and set_f1
comparisons, to choice names, and inside `key()`, so votes pool normalised answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tts_bench.errors import UserError
from tts_bench.inputcheck import short
from tts_bench.scoring import extract as ex
from tts_bench.scoring.normalize import pipeline

REL_TOL = 1e-9


@dataclass
class ScoreResult:
    correct: bool | None
    value: float | None
    metrics: dict[str, float] = field(default_factory=dict)


def normalise_text(s: Any, *, case_sensitive: bool = False) -> str:
    """Whitespace collapsed, trailing period stripped, case-folded unless case_sensitive."""
    t = re.sub(r"\s+", " ", str(s)).strip()
    t = t[:-1].rstrip() if t.endswith(".") else t
    return t if case_sensitive else t.casefold()


class Scorer:
    """Extraction + scoring for one `ScorerSpec` (type, tolerance, pattern, extract mode,
    case_sensitive, choices, normalize)."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.type: str = spec.type
        mode = spec.extract
        # "auto" resolves to a mode of its own for numeric ("numeric": marker, last line, any
        # number) and exact/regex ("text": marker, else the last line)
        self.mode: str = (
            {"numeric": "numeric", "choice": "choice", "set_f1": "set", "judge": "raw"}.get(
                self.type, "text"
            )
            if mode == "auto"
            else mode
        )
        self._choices = [str(c) for c in (spec.choices or ex.LETTERS)]
        self.normalize: list[str] = list(getattr(spec, "normalize", None) or [])
        self._norm = pipeline(self.normalize)
        self._pattern: re.Pattern[str] | None = None
        if self.type == "regex" and spec.pattern is not None:
            self._pattern = _compile(spec.pattern, spec.case_sensitive, "scorer.pattern")

    # ---- extraction -------------------------------------------------------------------
    def _raw(self, text: str) -> str | list[str] | None:
        m = self.mode
        if m == "numeric":
            return ex.numeric_auto(text)
        if m == "text":
            got = ex.final_line(text)
            return got if got is not None else ex.last_line(text)
        if m == "final_line":
            return ex.final_line(text)
        if m == "last_number":
            return ex.last_number(text)
        if m == "choice":
            got = ex.choice(text, self._choices)
            if got is None and self._norm is not None:  # "Answer: cafe" for the choice "café"
                line = ex.final_line(text) or ex.last_line(text)
                got = None if line is None else self._choice(line)
            return got
        if m == "json":
            return ex.json_answer(text)
        if m == "set":
            return ex.id_set(text)
        return ex.raw(text)

    def extract(self, text: str) -> str | None:
        """The canonical answer in `text`, or None when nothing extractable."""
        got = self._raw(text or "")
        if got is None:
            return None
        return self.canonical(got)

    def canonical(self, value: Any) -> str | None:
        """Put an extracted value (or a target) into this scorer's canonical form."""
        if isinstance(value, list) and self.type != "set_f1":  # `extract: set` on another type
            value = ", ".join(ex.canonical_set(value))
        if self.type == "numeric":
            n = ex.parse_number(value)
            return None if n is None else ex.canonical_number(n)
        if self.type == "choice":
            return self._choice(value)
        if self.type == "set_f1":
            return ", ".join(self._ids(value))
        s = ex.clean(str(value)) if self.mode != "raw" else str(value).strip()
        if self._norm is not None and not self._text(s):
            return None  # nothing the comparison would look at ("..." under letters_only)
        return s or None

    def _text(self, s: str) -> str:
        """Text identity: `normalise_text`, then the `normalize` steps."""
        t = normalise_text(s, case_sensitive=self.spec.case_sensitive)
        return t if self._norm is None else self._norm(t)

    def _choice(self, value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool):
            # integer targets (e.g. MMLU's `answer: 1`) are 0-based indices into the choices
            return self._choices[value] if 0 <= value < len(self._choices) else None
        s = str(value).strip()
        for c in self._choices:
            if s.casefold() == c.casefold():
                return c
        if self._norm is not None:  # a named choice written with other accents/punctuation
            for c in self._choices:
                if self._text(s) == self._text(c):
                    return c
        return ex.choice_in(s, self._choices, strict=True)

    def _ids(self, value: Any) -> list[str]:
        if isinstance(value, (list, tuple, set)):
            return ex.canonical_set(value)
        s = str(value).strip()
        if s.startswith("["):
            got = ex.json_value(s)
            if isinstance(got, list):
                return ex.canonical_set(got)
        return ex.canonical_set(ex.split_ids(s))

    def _id_keys(self, value: Any) -> set[str]:
        """The set's ids as compared: case-folded unless case_sensitive, then normalised
        (ids left empty by the steps are dropped)."""
        ids = (i if self.spec.case_sensitive else i.casefold() for i in self._ids(value))
        if self._norm is None:
            return set(ids)
        return {k for k in map(self._norm, ids) if k}

    # ---- identity, display --------------------------------------------------------------
    def key(self, answer: str) -> str:
        """Identity of an answer for voting: equal keys are the same answer."""
        if self.type == "numeric":
            n = ex.parse_number(answer)
            return answer.strip() if n is None else ex.canonical_number(n)
        if self.type == "choice":
            return self._choice(answer) or answer.strip().upper()
        if self.type == "set_f1":
            if self._norm is not None:
                return ",".join(sorted(self._id_keys(answer)))
            ids = self._ids(answer)
            return ",".join(i if self.spec.case_sensitive else i.casefold() for i in ids)
        return self._text(answer)

    def target_text(self, target: Any) -> str | None:
        """The target as displayed (canonical form where the type has one); None for a
        judged suite without a target."""
        if target is None and self.type == "judge":
            return None
        if self.type == "exact" and isinstance(target, (list, tuple)):
            return " | ".join(str(t) for t in target)
        if self.type in ("numeric", "choice", "set_f1"):
            got = self.canonical(target)
            if got is not None:
                return got
        return str(target)

    def check_target(self, target: Any) -> str | None:
        """Why this target cannot be scored (e.g. a numeric target that is not a number), or
        None when it is fine. `check_targets` raises on the first bad item."""
        if self.type == "judge":
            return None  # a judged suite's target is at most a reference for the judge
        if target is None:
            return "target is null"
        if self.type == "numeric" and ex.parse_number(target) is None:
            return f"target {short(target)} is not a number"
        if self.type == "choice" and self._choice(target) is None:
            return f"target {short(target)} is not one of the choices {', '.join(self._choices)}"
        if self.type == "regex" and self._pattern is None:
            try:
                re.compile(str(target))
            except re.error as exc:
                return f"target {target!r} is not a valid regular expression ({exc})"
        if self._norm is not None and self.type == "exact":
            targets = target if isinstance(target, (list, tuple)) else [target]
            for t in targets:
                if not self._text(ex.clean(str(t))):
                    steps = ", ".join(self.normalize)
                    return f"target {t!r} is empty after normalize [{steps}]"
        return None

    def check_targets(self, items: Iterable[Any], *, where: str = "dataset") -> None:
        """Raise UserError naming the first item (with .id and .target) this scorer cannot score."""
        for it in items:
            problem = self.check_target(it.target)
            if problem:
                raise UserError(f"{where}: item {it.id!r}: {problem} (scorer: {self.type})")

    # ---- scoring ------------------------------------------------------------------------
    def score(self, answer: str | None, target: Any) -> ScoreResult:
        """Score an extracted answer. None -> correct False, value 0."""
        if answer is None:
            metrics = {"precision": 0.0, "recall": 0.0} if self.type == "set_f1" else {}
            return ScoreResult(False, 0.0, metrics)
        return _SCORERS[self.type](self, answer, target)

    def _exact(self, answer: str, target: Any) -> ScoreResult:
        targets = target if isinstance(target, (list, tuple)) else [target]
        a = self._text(answer)
        return _binary(any(a == self._text(ex.clean(str(t))) for t in targets))

    def _numeric(self, answer: str, target: Any) -> ScoreResult:
        a, t = ex.parse_number(answer), ex.parse_number(target)
        if t is None:
            raise UserError(f"numeric scorer: target {short(target)} is not a number")
        if a is None:
            return _binary(False)
        diff = abs(a - t)
        return _binary(diff <= self.spec.tolerance or diff <= REL_TOL * max(abs(a), abs(t)))

    def _choice_score(self, answer: str, target: Any) -> ScoreResult:
        t = self._choice(target)
        if t is None:
            raise UserError(f"choice scorer: target {short(target)} is not one of the choices")
        return _binary(self._choice(answer) == t)

    def _regex(self, answer: str, target: Any) -> ScoreResult:
        pattern = self._pattern or _compile(str(target), self.spec.case_sensitive, "target")
        # the pattern is the user's own: only the answer is normalised
        a = answer.strip() if self._norm is None else self._norm(answer.strip())
        return _binary(pattern.fullmatch(a) is not None)

    def _set_f1(self, answer: str, target: Any) -> ScoreResult:
        pred, gold = self._id_keys(answer), self._id_keys(target)
        if not pred and not gold:
            return ScoreResult(True, 1.0, {"precision": 1.0, "recall": 1.0})
        tp = len(pred & gold)
        p = tp / len(pred) if pred else 0.0
        r = tp / len(gold) if gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return ScoreResult(pred == gold, f1, {"precision": p, "recall": r})


def _binary(ok: bool) -> ScoreResult:
    return ScoreResult(ok, 1.0 if ok else 0.0, {})


def _compile(pattern: str, case_sensitive: bool, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        raise UserError(f"{where}: invalid regular expression {pattern!r} ({exc})") from None


_SCORERS: dict[str, Callable[[Scorer, str, Any], ScoreResult]] = {
    "exact": Scorer._exact,
    "numeric": Scorer._numeric,
    "choice": Scorer._choice_score,
    "regex": Scorer._regex,
    "set_f1": Scorer._set_f1,
    # the judge's verdict is filled in after the run's calls (scoring/judge.py)
    "judge": lambda self, answer, target: ScoreResult(None, None, {}),
}


def make_scorer(spec: Any) -> Scorer:
    """The scorer for a `ScorerSpec`; an invalid `pattern` raises UserError."""
    return Scorer(spec)
