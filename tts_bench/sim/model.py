"""The simulated model: read the request, pick the task and role, write the answer, and
report tokens and a simulated latency (nothing sleeps).

Randomness is a pure function of the request: the per-sample RNG hashes (model, messages,
temperature, seed, reasoning knobs) and, above temperature 0 only, the sample index. So at
T=0 every sample is the same text, and a rerun reproduces a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tts_bench.errors import UserError
from tts_bench.sim import profiles as _profiles
from tts_bench.sim import tasks
from tts_bench.sim.call import EFFORTS, Call
from tts_bench.sim.judge import role_of as judge_role
from tts_bench.sim.text import (
    REFUSAL,
    Encoded,
    answer_form,
    input_tokens,
    n_examples,
    rng_for,
    role_of,
    sections,
    spelled,
    tokens,
    truncate,
    wants_cot,
)


@dataclass
class SimResult:
    text: str
    finish_reason: str  # "stop" | "length"
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    latency_s: float
    ttft_s: float
    recognised: bool = True  # the problem is one of the built-in tasks the simulator solves


def _knobs(params: dict[str, Any] | None) -> tuple[str | None, int | None]:
    params = params or {}
    effort = params.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        raise UserError(f"reasoning_effort: must be one of {', '.join(EFFORTS)}, got {effort!r}")
    budget = params.get("thinking_budget")
    if budget is not None and (not isinstance(budget, int) or budget <= 0):
        raise UserError(f"thinking_budget: must be a positive integer, got {budget!r}")
    return effort, budget


_BUILTIN_HITS: dict[str, tuple[str, dict[str, Any]]] = {}


def _profile(model: str, profiles: dict[str, dict] | None) -> tuple[str, dict[str, Any]]:
    """`profiles.get`, whose lookup key is the suite's profiles as JSON: without suite
    profiles the answer per model never changes, so it is looked up once."""
    if profiles:
        return _profiles.get(model, profiles)
    hit = _BUILTIN_HITS.get(model)
    if hit is None:
        hit = _BUILTIN_HITS[model] = _profiles.get(model, None)
    return hit


def simulate(
    model: str,
    messages: list[dict[str, str]],
    *,
    temperature: float,
    max_tokens: int,
    sample_index: int = 0,
    seed: int = 0,
    params: dict | None = None,
    profiles: dict[str, dict] | None = None,
) -> SimResult:
    """One simulated chat completion (see the module docstring)."""
    name, prof = _profile(model, profiles)
    effort, budget = _knobs(params)
    if not messages:
        raise UserError(f"{model}: a request needs at least one message")
    temperature = max(float(temperature), 0.0)
    varied = sample_index if temperature > 0 else None
    encoded = Encoded(messages)  # both seeds hash the whole request: encode it once
    rng = rng_for("sample", name, encoded, temperature, seed, effort, budget, varied)
    last = str(messages[-1].get("content", ""))
    role = role_of(last) or judge_role(last)
    form_src = sections(last).get("problem", last) if role else last
    call = Call(
        name=name,
        prof=prof,
        temperature=temperature,
        rng=rng,
        seed=seed,
        cot=wants_cot(messages) if role is None else role in ("refine",),
        examples=n_examples(messages),
        effort=(effort or "medium") if prof["reasoning"] else None,
        thinking_budget=budget if prof["reasoning"] else None,
        form=answer_form(form_src),
    )
    draft = tasks.respond(call, last, role)
    text = draft.text
    if role is None and draft.final is not None:
        if call.chance(prof["refusal_rate"]):
            text = REFUSAL
        elif call.chance(prof["format_violation_rate"]):
            text = _violation(call, draft, last)
    reasoning = 0
    if call.reasoning:
        per = call.tokens_per_step(max(int(draft.units), 1))
        noise = math.exp(rng.gauss(0, 0.2))
        reasoning = int((prof["reasoning_overhead_tokens"] + per * max(draft.units, 1)) * noise)
    out_tokens = tokens(text)
    finish = "stop"
    if reasoning + out_tokens > max_tokens:
        finish = "length"
        reasoning = min(reasoning, max_tokens)
        text = truncate(text, max_tokens - reasoning)
        out_tokens = tokens(text)
    in_tokens = input_tokens(messages)
    ttft, latency = _latency(
        prof, name, encoded, temperature, seed, sample_index, in_tokens, out_tokens + reasoning
    )
    return SimResult(
        text=text,
        finish_reason=finish,
        input_tokens=in_tokens,
        output_tokens=out_tokens,
        reasoning_tokens=reasoning,
        latency_s=latency,
        ttft_s=ttft,
        recognised=tasks.identify(form_src) is not None,  # memoised: the task's own look-up
    )


def recognises(messages: list[dict[str, str]]) -> bool:
    """Would `simulate` recognise the problem in this request as a built-in task? (Its own
    look-up, for a reply replayed from the cache that `simulate` did not write now.)"""
    last = str(messages[-1].get("content", "")) if messages else ""
    role = role_of(last) or judge_role(last)
    return tasks.identify(sections(last).get("problem", last) if role else last) is not None


# Digit-free replies: neither a final-answer marker nor a number an extractor could read.
_SPELLED = (
    "Working through each change in order, it comes to {}.",
    "After all of that, the total is {}.",
    "It ends up at {}.",
)
_HEDGE = (
    "More than one reading seems possible here; the question would need more detail to settle it."
)


def _violation(call: Call, draft: tasks.Draft, problem: str) -> str:
    """A reply that ignores the requested final-answer line. A third still state the answer
    where a lenient extractor finds it (the working without the final line, or "I believe it
    is X."); two thirds give nothing to extract (an arithmetic result spelled out in words,
    else a hedge naming no answer), so the violation shows as a `format_violation` label."""
    if call.rng.random() < 1 / 3:
        return "\n".join(draft.lines) if draft.lines else f"I believe it is {draft.final}."
    found = tasks.identify(problem)
    words = spelled(str(draft.final)) if found and found[0] == "arithmetic" else None
    return call.rng.choice(_SPELLED).format(words) if words else _HEDGE


def _latency(
    prof: dict[str, Any],
    name: str,
    messages: Encoded,
    temperature: float,
    seed: int,
    sample_index: int,
    in_tokens: int,
    gen_tokens: int,
) -> tuple[float, float]:
    """(ttft, total) seconds: log-normal TTFT plus prefill, then tokens / log-normal speed.
    Seeded with the sample index even at T=0: identical text, but each call is its own.
    `messages`: the request's messages, JSON-encoded."""
    rng = rng_for("latency", name, messages, temperature, seed, sample_index)
    ttft = prof["ttft_median_s"] * math.exp(rng.gauss(0, prof["ttft_sigma"]))
    ttft += in_tokens / prof["prefill_tokens_per_s"]
    tps = prof["tokens_per_s"] * math.exp(rng.gauss(0, prof["tps_sigma"]))
    return round(ttft, 4), round(ttft + gen_tokens / max(tps, 1.0), 4)
