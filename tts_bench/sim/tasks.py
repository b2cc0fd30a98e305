"""Which task a prompt poses, and the answer (or role reply) the simulated model writes.

Tasks are tried in order; each module's `parse()` returns None unless the text is its kind
of problem. A prompt nobody recognises gets a vague, unreliable answer, as from a model
that is out of its depth.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from types import ModuleType

from tts_bench.sim import tasks_arithmetic as arith
from tts_bench.sim.call import Call
from tts_bench.sim.text import TEXTS, current_problem, numbers


@dataclass
class Draft:
    """A reply: visible lines, then the final-answer value (None: no final line)."""

    lines: list[str] = field(default_factory=list)
    final: str | None = None
    units: float = 1.0  # how much hidden reasoning the reply takes (about: steps)
    form_line: str | None = None

    @property
    def text(self) -> str:
        tail = [self.form_line] if self.form_line else []
        return "\n".join(self.lines + tail)


@functools.lru_cache(maxsize=TEXTS)
def identify(text: str) -> tuple[str, object] | None:
    """(task name, parsed problem) for the problem in `text`, or None. Memoised per text
    (the parsed problems are frozen, so sharing them is safe)."""
    for name in ("contracts", "knowledge", "tickets", "support", "arithmetic"):
        prob = _module(name).parse(text)
        if prob is not None:
            return name, prob
    return None


_MODULES: dict[str, ModuleType] = {}


def _module(name: str) -> ModuleType:
    if not _MODULES:
        from tts_bench.sim import tasks_contracts, tasks_knowledge, tasks_support, tasks_tickets

        _MODULES.update(
            arithmetic=arith,
            contracts=tasks_contracts,
            knowledge=tasks_knowledge,
            tickets=tasks_tickets,
            support=tasks_support,
        )
    return _MODULES[name]


def same(found: tuple[str, object] | None, a: str, b: str) -> bool:
    """Do two answers to the same problem agree (by the task's notion of identity)?"""
    if found is None:
        return a.strip().lower() == b.strip().lower()
    key = _module(found[0]).key
    return key(a) == key(b)


def solve_answer(call: Call, text: str) -> Draft:
    """The model's own full answer to the problem in `text`."""
    found = identify(text)
    if found is None:
        return _unknown(call, text)
    name, prob = found
    lines, final, units = _module(name).answer_lines(call, prob)
    form_line = None if final is None else call.form.line(final)  # open-ended: no final line
    return Draft(lines=lines, final=final, units=units, form_line=form_line)


def _unknown(call: Call, text: str) -> Draft:
    nums = numbers(current_problem(text))
    guess = call.rng.choice(nums) if nums else call.rng.randint(1, 100)
    final = str(int(guess)) if float(guess).is_integer() else str(guess)
    lines = ["I am not certain how to solve this, but my best estimate follows."]
    return Draft(lines=lines, final=final, units=3.0, form_line=call.form.line(final))


def respond(call: Call, text: str, role: str | None) -> Draft:
    if role is None:
        return solve_answer(call, text)
    if role == "eval_judge":
        from tts_bench.sim import judge

        return judge.respond(call, text)
    from tts_bench.sim import roles

    return roles.respond(call, text, role)
