"""Role replies (judge, critique, refine, classify, next step, value)."""

from __future__ import annotations

from tts_bench import prompts
from tts_bench.sim.call import Call


def respond(call: Call, text: str, role: str):
    from tts_bench.sim.tasks import solve_answer

    return solve_answer(call, prompts.sections(text).get("problem", text))
