"""Multi-step word problems: read the problem, work it out, make realistic mistakes.

A wrong step is a slip (right operation, wrong result), a misread operand, or the wrong
operation; its value carries into every later step, so each sampled path that errs lands
on its own wrong number. Step lines look like `Step 3: He withdraws $12: 40 - 12 = 28.` and
are parsed back by `parse_steps` (critique, next step and value roles work over them).
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass, replace

from tts_bench.sim.call import Call
from tts_bench.sim.text import MEMO, current_problem, fmt_num, rng_for

_SENT = re.compile(r"(?<=[.?!])\s+")
_START = re.compile(r"\b(?:has|holds|starts with|contains)\s+\$?(\d+(?:\.\d+)?)", re.I)
_NUM = re.compile(r"\$?(\d+(?:\.\d+)?)")
_KINDS = [
    ("/", re.compile(r"\bsplit|\bdivided\b|\bhalved\b|\bhalf of\b", re.I)),
    ("*", re.compile(r"\bdoubl|\btripl|\btimes\b|\bmultiplied\b", re.I)),
    (
        "-",
        re.compile(
            r"gives away|\bloses\b|\bsells\b|shipped out|\bremoved\b|withdraws|paid from|\bspends\b",
            re.I,
        ),
    ),
    (
        "+",
        re.compile(
            r"\bbuys\b|gives (?:her|him)\b|\bfinds\b|\breceives\b|\bbrings\b|\badded\b|deposits"
            r"|\brefund\b|\bmore\b",
            re.I,
        ),
    ),
]
_OPENINGS = (
    "Start: {}.",
    "We start with {}.",
    "Starting value: {}.",
    "Let me go through it one step at a time, starting from {}.",
)
_CLOSINGS = ("", "So the result is {}.", "That leaves {} at the end.")
STEP_RE = re.compile(
    r"^Step (\d+):.*?(-?\d+(?:\.\d+)?) ([-+*/]) (-?\d+(?:\.\d+)?) = (-?\d+(?:\.\d+)?)\.?\s*$", re.M
)


@dataclass(frozen=True)
class Op:
    kind: str
    n: float
    text: str


@dataclass(frozen=True)
class Problem:
    start: float
    ops: tuple[Op, ...]
    text: str

    @property
    def steps(self) -> int:
        return len(self.ops)

    def truth(self) -> list[float]:
        """The correct running values after each step."""
        out, v = [], self.start
        for op in self.ops:
            v = apply(op.kind, v, op.n)
            out.append(v)
        return out


@dataclass
class Step:
    a: float
    kind: str
    n: float
    result: float
    text: str
    error: str | None = None  # slip | misread | wrong_op

    def line(self, i: int) -> str:
        what = self.text.rstrip(".")
        return f"Step {i}: {what}: {fmt_num(self.a)} {self.kind} {fmt_num(self.n)} = {fmt_num(self.result)}."


def apply(kind: str, a: float, n: float) -> float:
    """One operation, rounded to cents as a person writing it down would."""
    if kind == "+":
        r = a + n
    elif kind == "-":
        r = a - n
    elif kind == "*":
        r = a * n
    else:
        r = a / n if n else a
    return round(r, 2)


def _operand(kind: str, sentence: str) -> float | None:
    low = sentence.lower()
    if kind == "/" and ("half" in low or "halved" in low):
        return 2.0
    if kind == "*" and "doubl" in low:
        return 2.0
    if kind == "*" and "tripl" in low:
        return 3.0
    nums = _NUM.findall(sentence)
    return float(nums[-1]) if nums else None


def parse(text: str) -> Problem | None:
    """The last word problem in `text` (after any worked examples), or None."""
    sentences = _SENT.split(current_problem(text).strip())
    starts = [i for i, s in enumerate(sentences) if _START.search(s) and not s.endswith("?")]
    if not starts:
        return None
    i0 = starts[-1]
    start = float(_START.search(sentences[i0]).group(1))  # type: ignore[union-attr]
    ops: list[Op] = []
    for s in sentences[i0 + 1 :]:
        if s.endswith("?"):
            break
        for kind, pat in _KINDS:
            if pat.search(s):
                n = _operand(kind, s)
                if n is not None:
                    ops.append(Op(kind, n, s))
                break
    if not ops:
        return None
    return Problem(start=start, ops=tuple(ops), text=" ".join(sentences[i0:]))


def parse_steps(partial: str) -> list[Step]:
    """Step lines of a written solution, in order."""
    return [
        Step(a=float(m[2]), kind=m[3], n=float(m[4]), result=float(m[5]), text="")
        for m in STEP_RE.finditer(partial)
    ]


def err_step(call: Call, a: float, op: Op, rng: random.Random | None = None) -> Step:
    """A wrong version of one step, chosen among the kinds of slip people and models make."""
    return _wrong(rng or call.rng, a, op)


def _wrong(rng: random.Random, a: float, op: Op) -> Step:
    kind = rng.choices(["slip", "misread", "wrong_op"], weights=[0.45, 0.3, 0.25])[0]
    if kind == "slip":
        right = apply(op.kind, a, op.n)
        delta = rng.choice([-10, -2, -1, 1, 2, 10, 3, -3])
        return Step(a, op.kind, op.n, right + delta, op.text, "slip")
    if kind == "misread":
        n = op.n + rng.choice([-2, -1, 1, 2, 5]) if op.kind in "+-" else op.n + rng.choice([-1, 1])
        n = max(n, 1.0)
        return Step(a, op.kind, n, apply(op.kind, a, n), op.text, "misread")
    other = {"+": "-", "-": "+", "*": "+", "/": "-"}[op.kind]
    return Step(a, other, op.n, apply(other, a, op.n), op.text, "wrong_op")


def step_error(call: Call, i: int, steps: int, prob_key: str = "") -> float:
    """Chance that step i (1-based) of a `steps`-step solution goes wrong."""
    p = call.prof
    if call.careful:
        base = p["cot_step_error"] + p["cot_step_growth"] * (i - 1)
    else:
        base = p["plain_step_error"] + p["plain_step_growth"] * (i - 1)
    # Weak spots: steps this model is unsure of on this item (more of them in longer
    # problems); they make an item's per-sample accuracy low while its other items stay high.
    if call.weak_spot(p["weak_step_rate"] * steps / 10, ("arith-step", prob_key), i):
        base += p["weak_step_error"]
    return min(base * call.error_scale(steps) * call.hardness("arith", prob_key), 0.9)


_ERRORS: dict[tuple, tuple[float, ...]] = {}
# every profile knob step_error reads (besides those behind call.error_scale)
_STEP_KNOBS = (
    "cot_step_error",
    "cot_step_growth",
    "plain_step_error",
    "plain_step_growth",
    "weak_step_rate",
    "weak_step_error",
    "item_hardness_sigma",
)


def step_errors(call: Call, prob: Problem) -> tuple[float, ...]:
    """`step_error` of every step of `prob`, memoised on all it reads: the samples, roles
    and configs of an item ask for the same chances again and again."""
    p = call.prof
    key = (
        call.name,
        type(call.seed),  # 1 and 1.0 are one key but two seeds
        call.seed,
        prob.text,
        prob.steps,
        call.careful,
        call.error_scale(prob.steps),
        *(p[k] for k in _STEP_KNOBS),
    )
    hit = _ERRORS.get(key)
    if hit is None:
        if len(_ERRORS) >= MEMO:
            _ERRORS.clear()
        hit = tuple(step_error(call, i + 1, prob.steps, prob.text) for i in range(prob.steps))
        _ERRORS[key] = hit
    return hit


def trap(call: Call, prob: Problem) -> Step | None:
    """The item's shared misreading of one step, if it has one (same for all samples)."""
    rate = call.prof["trap_rate"] * (prob.steps / 10) ** 1.5
    wrong = _trap(call.name, call.seed, prob, rate)
    return None if wrong is None else replace(wrong)


@functools.lru_cache(maxsize=MEMO, typed=True)
def _trap(name: str, seed: int, prob: Problem, rate: float) -> Step | None:
    """`trap`, memoised per (model, seed, problem, rate): it draws from the item's own RNG
    only, so every sample and role of the item gets the same answer."""
    rng = rng_for("item", name, seed, "arith-trap", prob.text)
    if rng.random() >= rate:
        return None
    j = rng.randrange(prob.steps)
    wrong = _wrong(rng, 0.0, prob.ops[j])
    wrong.text = str(j)  # remembers which step
    return wrong


def solve(
    call: Call, prob: Problem, done: list[Step] | None = None, upto: int | None = None
) -> list[Step]:
    """Work the problem from the steps already `done`, up to step `upto` (default: all)."""
    steps = list(done or [])
    value = steps[-1].result if steps else prob.start
    t = trap(call, prob)
    fire_p = call.prof["trap_fire"] * (0.75 if call.careful else 1.0) * min(call.effort_scale(), 1)
    end = prob.steps if upto is None else min(upto, prob.steps)
    errors = step_errors(call, prob)
    for i in range(len(steps), end):
        op = prob.ops[i]
        if t is not None and int(t.text) == i and call.chance(fire_p):
            # The shared misreading: same operand/operation on every path that falls for it.
            step = Step(value, t.kind, t.n, apply(t.kind, value, t.n), op.text, t.error)
            if t.error == "slip":
                step = Step(value, op.kind, op.n, apply(op.kind, value, op.n) + 10, op.text, "slip")
        elif call.chance(errors[i]):
            step = err_step(call, value, op)
        else:
            step = Step(value, op.kind, op.n, apply(op.kind, value, op.n), op.text)
        steps.append(step)
        value = step.result
    return steps


def answer_lines(call: Call, prob: Problem) -> tuple[list[str], str, float]:
    """(visible lines, final value, hidden reasoning units) of a full answer."""
    steps = solve(call, prob)
    final = fmt_num(steps[-1].result)
    if call.cot:
        # Sampled paths differ in wording even when they agree on every step.
        start = call.rng.choice(_OPENINGS).format(fmt_num(prob.start))
        lines = [start] + [s.line(i + 1) for i, s in enumerate(steps)]
        close = call.rng.choice(_CLOSINGS)
        if close:
            lines.append(close.format(final))
    else:
        lead = call.rng.choice(
            ["The result is {}.", "After all the changes it comes to {}.", "That gives {}."]
        )
        lines = [lead.format(final)]
    return lines, final, float(prob.steps)


def check(prob: Problem, steps: list[Step]) -> int | None:
    """Index of the first wrong step line (recomputed against the problem), or None."""
    value = prob.start
    for i, s in enumerate(steps):
        if i >= prob.steps:
            return i
        op = prob.ops[i]
        if abs(s.a - value) > 0.011 or s.kind != op.kind or abs(s.n - op.n) > 0.011:
            return i
        if abs(s.result - apply(s.kind, s.a, s.n)) > 0.011:
            return i
        value = s.result
    return None


def key(answer: str) -> float | str:
    """Answer identity: numbers compare by value."""
    try:
        return round(float(answer.replace("$", "").replace(",", "").strip()), 2)
    except ValueError:
        return answer.strip().lower()
