"""Role replies: judge, critique, refine, classify, next step and value.

Every role re-reads the problem from the prompt's `### Problem` section and works it with
the model's own error rates, so verification is noisy and can be fooled, critiques miss
errors and flag correct work, refinements sometimes break a right answer, and next-step /
value calls over arithmetic step lines make beam search and MCTS meaningful.
"""

from __future__ import annotations

import re

from tts_bench import prompts
from tts_bench.sim import tasks_arithmetic as arith
from tts_bench.sim.call import Call
from tts_bench.sim.tasks import Draft, identify, same, solve_answer
from tts_bench.sim.text import fmt_num

VERIFY_EASE = 0.6  # re-solving to check a candidate errs less than solving cold
_FINAL = re.compile(r"final answer\s*[:\-]\s*(.+)", re.I)
_STEP_REF = re.compile(r"\bStep (\d+)\b")
_LABELS = re.compile(r"one word:\s*(.+?)\.?\s*$", re.I | re.M)


def final_of(text: str, call: Call) -> str | None:
    """The answer a written solution ends with (its final-answer line), or None."""
    prefix = call.form.prefix.strip().lower()
    for line in reversed(text.strip().splitlines()):
        low = line.strip().lower()
        if prefix and low.startswith(prefix):
            return line.strip()[len(prefix) :].strip().rstrip(".") or None
        m = _FINAL.search(line)
        if m:
            return m.group(1).strip().rstrip(".") or None
    return None


def _careful(call: Call, ease: float = 1.0) -> Call:
    """Work step by step; `ease` < 1 when checking a given answer rather than solving."""
    call.cot = True
    call.ease = ease
    return call


def _judge(call: Call, problem: str, candidate: str) -> Draft:
    rng = call.rng
    cand = final_of(candidate, call)
    own = solve_answer(_careful(call, VERIFY_EASE), problem)
    task = identify(problem)
    if cand is None:
        score, why = rng.choice([0, 1, 2]), "The candidate gives no final answer."
    elif own.final is not None and same(task, own.final, cand):
        score = rng.choice([8, 9, 9, 10, 10, 10])
        why = f"I get {own.final} as well; the candidate's answer {cand} matches."
    else:
        # Disagreement: usually a low score, but a fluent, confident candidate can talk the
        # judge round, more so when it shows worked steps.
        fooled = call.prof["judge_fooled"] * (1.3 if arith.STEP_RE.search(candidate) else 1.0)
        if call.chance(min(fooled, 0.9)):
            score = rng.choice([7, 8, 8, 9])
            why = f"I got {own.final}, but the candidate's reasoning for {cand} looks sound."
        else:
            score = rng.choice([0, 1, 2, 2, 3, 4])
            why = f"I get {own.final}, not {cand}."
    return Draft(lines=[why, f"Score: {score}"], units=own.units)


def _critique(call: Call, problem: str, solution: str) -> Draft:
    found = identify(problem)
    prof = call.prof
    if found and found[0] == "arithmetic":
        prob: arith.Problem = found[1]  # type: ignore[assignment]
        steps = arith.parse_steps(solution)
        if steps:
            bad = arith.check(prob, steps)
            if bad is not None and call.chance(prof["critique_detect"]):
                return Draft(lines=[_describe(prob, steps, bad)], units=prob.steps)
            if bad is None and call.chance(prof["critique_false_flag"]):
                j = call.rng.randrange(len(steps))
                return Draft(
                    lines=[f"Step {j + 1} is wrong: the operation does not follow the problem."],
                    units=prob.steps,
                )
            return Draft(lines=["No errors found."], units=prob.steps)
    cand = final_of(solution, call)
    own = solve_answer(_careful(call), problem)
    right = cand is not None and own.final is not None and same(found, own.final, cand)
    if not right and call.chance(prof["critique_detect"]):
        line = f"The final answer {cand} is wrong; working it through gives {own.final}."
        if cand is None:
            line = "The solution never states a final answer."
        return Draft(lines=[line], units=own.units)
    if right and call.chance(prof["critique_false_flag"]):
        return Draft(lines=[f"The final answer {cand} looks wrong; recheck it."], units=own.units)
    return Draft(lines=["No errors found."], units=own.units)


def _describe(prob: arith.Problem, steps: list[arith.Step], i: int) -> str:
    s = steps[i]
    if i >= prob.steps:
        return f"Step {i + 1} is wrong: the problem has only {prob.steps} steps."
    op = prob.ops[i]
    if s.kind != op.kind or abs(s.n - op.n) > 0.011:
        return (
            f"Step {i + 1} is wrong: the problem says '{op.text}', which is "
            f"{op.kind} {fmt_num(op.n)}, not {s.kind} {fmt_num(s.n)}."
        )
    prev = prob.start if i == 0 else steps[i - 1].result
    if abs(s.a - prev) > 0.011:
        return f"Step {i + 1} is wrong: it starts from {fmt_num(s.a)} instead of {fmt_num(prev)}."
    right = arith.apply(s.kind, s.a, s.n)
    return (
        f"Step {i + 1} is wrong: {fmt_num(s.a)} {s.kind} {fmt_num(s.n)} = {fmt_num(right)}, "
        f"not {fmt_num(s.result)}."
    )


def _refine(call: Call, problem: str, solution: str, feedback: str) -> Draft:
    if prompts.NO_ERRORS in feedback.lower():
        kept = final_of(solution, call)
        if kept is not None:
            body = [ln for ln in solution.strip().splitlines() if not _FINAL.search(ln)]
            return Draft(lines=body, final=kept, form_line=call.form.line(kept))
    found = identify(problem)
    ref = _STEP_REF.search(feedback)
    if found and found[0] == "arithmetic" and ref:
        prob: arith.Problem = found[1]  # type: ignore[assignment]
        steps = arith.parse_steps(solution)
        k = int(ref.group(1)) - 1
        if 0 <= k < min(len(steps), prob.steps):
            kept = steps[:k]
            if arith.check(prob, steps[: k + 1]) is None and call.chance(call.prof["refine_break"]):
                # Told to fix a step that was right, the model changes it anyway.
                prev = kept[-1].result if kept else prob.start
                broken = arith.err_step(call, prev, prob.ops[k])
                done = arith.solve(call, prob, done=[*kept, broken])
            else:
                done = arith.solve(call, prob, done=kept)
            for s, op in zip(done, prob.ops, strict=False):
                s.text = s.text or op.text
            final = fmt_num(done[-1].result)
            lines = [f"Start: {fmt_num(prob.start)}."] + [s.line(i + 1) for i, s in enumerate(done)]
            return Draft(
                lines=lines, final=final, units=prob.steps, form_line=call.form.line(final)
            )
    return solve_answer(call, problem)


def _classify(call: Call, problem: str, instructions: str) -> Draft:
    m = _LABELS.search(instructions)
    labels = [x.strip() for x in re.split(r",\s*|\s+or\s+", m.group(1))] if m else ["easy", "hard"]
    labels = [x for x in labels if x] or ["easy", "hard"]
    found = identify(problem)
    noise = call.rng.gauss(0, call.prof["classify_noise"])
    if found is None:
        level = 0.5
    elif found[0] == "arithmetic":
        steps = found[1].steps  # type: ignore[attr-defined]
        level = (steps + noise - 2) / 8  # 0 at 2 steps, 1 at 10
    else:
        from tts_bench.sim import tasks_contracts, tasks_knowledge, tasks_support, tasks_tickets

        mod = {"knowledge": tasks_knowledge, "contracts": tasks_contracts, "tickets": tasks_tickets}
        mod["support"] = tasks_support
        level = mod[found[0]].difficulty(call, found[1]) + noise / 8
    idx = min(max(int(level * len(labels)), 0), len(labels) - 1)
    return Draft(lines=[labels[idx]], units=1)


def _next_step(call: Call, problem: str, partial: str) -> Draft:
    found = identify(problem)
    if not found or found[0] != "arithmetic":
        return solve_answer(call, problem)
    prob: arith.Problem = found[1]  # type: ignore[assignment]
    steps = arith.parse_steps(partial)
    if len(steps) >= prob.steps:
        final = fmt_num(steps[-1].result)
        return Draft(final=final, units=1, form_line=call.form.line(final))
    done = arith.solve(_careful(call), prob, done=steps, upto=len(steps) + 1)
    new = done[-1]
    new.text = prob.ops[len(steps)].text
    return Draft(lines=[new.line(len(steps) + 1)], units=1)


def _value(call: Call, problem: str, partial: str) -> Draft:
    found = identify(problem)
    rng, prof = call.rng, call.prof
    noise = rng.gauss(0, prof["value_noise"])
    if not found or found[0] != "arithmetic":
        v, why = 0.5 + noise, "I cannot check this partial solution step by step."
    else:
        prob: arith.Problem = found[1]  # type: ignore[assignment]
        steps = arith.parse_steps(partial)
        bad = arith.check(prob, steps)
        if bad is not None and call.chance(prof["value_detect"]):
            v, why = 0.08 + abs(noise) / 2, f"Step {bad + 1} looks wrong."
        else:
            left = max(prob.steps - len(steps), 0)
            v = (1 - prof["cot_step_error"] * call.error_scale(prob.steps)) ** left + noise
            why = "The steps so far look right." if steps else "Nothing done yet."
    v = min(max(v, 0.01), 0.99)
    return Draft(lines=[why, f"Value: {v:.2f}"], units=1)


def respond(call: Call, text: str, role: str) -> Draft:
    sec = prompts.sections(text)
    problem = sec.get("problem", text)
    if role == "judge":
        return _judge(call, problem, sec.get("candidate", ""))
    if role == "critique":
        return _critique(call, problem, sec.get("solution", ""))
    if role == "refine":
        return _refine(call, problem, sec.get("solution", ""), sec.get("feedback", ""))
    if role == "classify":
        return _classify(call, problem, sec.get("instructions", ""))
    if role == "next_step":
        return _next_step(call, problem, sec.get("partial", ""))
    if role == "value":
        return _value(call, problem, sec.get("partial", ""))
    return solve_answer(call, problem)
