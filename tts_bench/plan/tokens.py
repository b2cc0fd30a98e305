"""Token estimates for `plan`: input tokens counted on the rendered prompts (`Counter`),
static output lengths per kind of call, and reasoning tokens per step by effort."""

from __future__ import annotations

import math
from typing import Any

PLAIN_OUT = 16  # a short answer line ("That gives 42. Final answer: 42")
COT_EXTRA = 16  # a worked solution ~ restates the problem plus the final-answer line
STEP_OUT = 24  # one step line (search expansions and rollouts)
ROLE_OUT = {"classify": 4, "value": 12, "critique": 40}
CANDIDATE_TOKENS_PER_LINE = 15  # for the reasoning-step estimate of a worked solution
REASONING = {"overhead": 80, "low": 40, "medium": 120, "high": 320}  # tokens (per step)


class Counter:
    """Input-token counting per model: the simulator's own count, litellm's tokenizer where
    litellm knows the model, else chars/4 (and the note says so)."""

    def __init__(self) -> None:
        self.how: dict[str, str] = {}
        self._litellm: Any = None

    def method(self, model: str) -> str:
        if model not in self.how:
            if model.startswith("sim/"):
                self.how[model] = "simulator"
            else:
                from tts_bench.llm.pricing import in_price_map

                known = in_price_map(model)  # read from litellm's file: no import (seconds)
                if known:
                    from tts_bench.llm.offline import import_litellm

                    self._litellm = self._litellm or import_litellm()
                self.how[model] = "litellm" if known else "chars/4"
        return self.how[model]

    def count(self, model: str, messages: list[dict[str, str]]) -> int:
        how = self.method(model)
        if how == "simulator":
            from tts_bench.sim.text import input_tokens

            return input_tokens(messages)
        if how == "litellm":
            return int(self._litellm.token_counter(model=model, messages=messages))
        return sum(math.ceil(len(str(x.get("content", ""))) / 4) + 4 for x in messages) + 2

    def note(self) -> str:
        """One line saying how input tokens were counted, per model ("" when nothing was
        counted, e.g. every config's figures came from a prior run)."""
        names = {
            "simulator": "counted by the simulator",
            "litellm": "counted by litellm's tokenizer",
            "chars/4": "estimated (chars/4, tokenizer unknown)",
        }
        parts = [
            f"{names[h]} for {', '.join(sorted(m for m, x in self.how.items() if x == h))}"
            for h in names
            if h in self.how.values()
        ]
        return "input tokens: " + "; ".join(parts) if parts else ""


class Shim:
    """What `cot_messages` reads from a Context: the rendered prompt and the examples."""

    def __init__(self, msgs: list[dict[str, str]], examples: list[tuple[str, str]]) -> None:
        self._msgs, self.examples = msgs, examples

    def messages(self) -> list[dict[str, str]]:
        return self._msgs


def reasoner(spec: Any, sim_profiles: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    if spec.model.startswith("sim/"):
        from tts_bench.sim import profiles

        prof = profiles.get(spec.model, sim_profiles)[1]
        per = dict(prof["reasoning_tokens_per_step"], overhead=prof["reasoning_overhead_tokens"])
        return bool(prof["reasoning"]), per
    explicit = "reasoning_effort" in spec.params or "thinking_budget" in spec.params
    return explicit, REASONING
