"""The simulated judge: how a simulated model answers the judge scorer's prompt.

It reads the prompt's sections (problem, rubric, reference, answer, instructions; see
tts_bench/scoring/judge.py), never the hidden truth. On a support reply it checks the points
the reference makes (without a reference: the points the policy asks for) and the promises
the reply makes that the reference does not, as far as the rubric asks (`_checks`). That
reading is exact; the flaws are the profile's, applied in this order:

- judge_length_bias: a failing reply of at least `judge_long_words` words passes with this
  chance. The draw is per (judge model, reply), shared by every sample: a bias, which a vote
  of several judges does not remove;
- judge_error: the verdict flips with this chance, drawn per sample (a vote reduces it);
- judge_malformed: the reply carries no verdict line (the scorer asks again).

So P(pass | bad, long) = b(1-e) + (1-b)e, P(pass | bad, short) = e, P(fail | good) = e.
Other tasks: the answer passes when it contains the reference (normalised), else fails; with
neither a reference nor a known task, a coin decides.
"""

from __future__ import annotations

import re

from tts_bench.sim import tasks_support as support
from tts_bench.sim.call import Call
from tts_bench.sim.tasks import Draft, identify
from tts_bench.sim.text import rng_for, sections

# the scoring side's header (tts_bench/scoring/judge.py HEADER; a test keeps them equal)
HEADER = "You are an impartial grader. Grade the answer to the problem against the rubric."
ROLE = "eval_judge"
_LABELS = re.compile(r"one label of:\s*(.+?)\.?\s*$", re.I | re.M)


def role_of(text: str) -> str | None:
    """`eval_judge` for the judge scorer's prompt, else None."""
    return ROLE if text.startswith(HEADER) else None


def _checks(rubric: str) -> tuple[bool, bool]:
    """(check the required points?, check forbidden promises?) as the rubric asks; a rubric
    that names neither gets both."""
    low = rubric.lower()
    points = any(w in low for w in ("point", "cover", "address", "policy", "every", "complete"))
    promises = any(w in low for w in ("promise", "never", "forbid", "policy", "must not"))
    return (points, promises) if points or promises else (True, True)


def _assess(call: Call, sec: dict[str, str]) -> tuple[bool, str]:
    """(does the answer meet the rubric, the judge's reason), read exactly."""
    answer, reference = sec.get("answer", ""), sec.get("reference")
    found = identify(sec.get("problem", ""))
    if found is not None and found[0] == "support":
        ticket: support.Ticket = found[1]  # type: ignore[assignment]
        need = (
            support.points_in(reference)
            if reference
            else set(support.required(ticket, ticket.twist))
        )
        need -= set(support.FORBIDDEN)
        got = support.points_in(answer)
        want_points, want_promises = _checks(sec.get("rubric", ""))
        missing = sorted(need - got) if want_points else []
        extra = sorted((got & set(support.FORBIDDEN)) - need) if want_promises else []
        if missing or extra:
            why = "; ".join(
                x
                for x in (
                    f"it misses {', '.join(missing)}" if missing else "",
                    f"it makes a forbidden promise ({', '.join(extra)})" if extra else "",
                )
                if x
            )
            return False, f"The reply falls short: {why}."
        return True, "The reply makes every point the rubric asks for."
    if reference:
        norm = " ".join(reference.lower().split()).rstrip(".")
        ok = norm in " ".join(answer.lower().split())
        return ok, "The answer agrees with the reference." if ok else "It does not match."
    return call.chance(0.5), "I cannot check this answer; my verdict is a guess."


def respond(call: Call, text: str) -> Draft:
    """The judge's reply: a reason line, then `Verdict: <label>` (module docstring)."""
    sec = dict(sections(text))
    prof, rng = call.prof, call.rng
    ok, why = _assess(call, sec)
    answer = sec.get("answer", "")
    if not ok and len(answer.split()) >= prof["judge_long_words"]:
        shared = rng_for("item", call.name, call.seed, "judge-bias", answer).random()
        if shared < prof["judge_length_bias"]:
            ok, why = True, "The reply is thorough and attentive; it meets the rubric."
    if call.chance(prof["judge_error"]):
        ok = not ok
    if call.chance(prof["judge_malformed"]):
        return Draft(lines=[why, "Overall it is hard to say."], units=2)
    instructions = sec.get("instructions", "")
    m = _LABELS.search(instructions)
    if m:
        labels = [x.strip() for x in m.group(1).split(",") if x.strip()]
        label = labels[0] if ok else labels[-1]
    elif "<1-5>" in instructions:
        label = str(rng.choice([4, 5]) if ok else rng.choice([1, 2, 3]))
    else:
        label = "pass" if ok else "fail"
    return Draft(lines=[why, f"Verdict: {label}"], units=2)
