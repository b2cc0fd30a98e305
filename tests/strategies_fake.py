"""A small scripted model world for the strategy tests: sums of numbers, role prompts.

Problems are `Add: 3 5 7`; a full answer writes `Step j: t + a = t'` lines and
`Final answer: T`. The fake reads role prompts like the simulator does (judge, critique,
refine, classify, next_step, value), is seeded by the whole request, and gives every call its
own latency and cost, so tests can recompute a strategy's cost and critical path from calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from tts_bench import prompts
from tts_bench.llm.types import Completion, ModelSpec, Usage
from tts_bench.strategies.base import Context, Item, StrategyResult, reset_clock

# Probability that a plain answer is right, per model name.
SKILL = {"fake/good": 0.95, "fake/mid": 0.5, "fake/bad": 0.1}
FINAL = re.compile(r"Final answer:\s*(-?\d+(?:\.\d+)?)", re.I)
STEP = re.compile(r"^Step \d+: (-?\d+) \+ (-?\d+) = (-?\d+)\.?$", re.M)


def _rng(*parts: object) -> random.Random:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return random.Random(int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), "big"))


def _nums(problem: str) -> list[int]:
    m = re.search(r"Add:\s*([-\d ]+)", problem)
    return [int(x) for x in m.group(1).split()] if m else []


def _final(text: str) -> float | None:
    m = FINAL.findall(text)
    return float(m[-1]) if m else None


def _steps_ok(nums: list[int], partial: str) -> bool:
    total = nums[0] if nums else 0
    for j, (a, b, c) in enumerate(STEP.findall(partial)):
        if (
            j + 1 >= len(nums)
            or int(a) != total
            or int(b) != nums[j + 1]
            or int(c) != total + int(b)
        ):
            return False
        total = int(c)
    f = _final(partial)
    return f is None or f == sum(nums)


@dataclass
class Logged:
    spec: ModelSpec
    messages: list[dict[str, str]]
    role: str | None
    sample_index: int
    latency_s: float
    text: str
    partial: str | None = None


@dataclass
class FakeClient:
    """`generate(spec, messages, sample_index=)` like tts_bench.llm.Client; `log` keeps every
    request in call order. Models named `fail/...` always fail with a server error."""

    log: list[Logged] = field(default_factory=list)
    logprobs: bool = False

    async def generate(
        self, spec: ModelSpec, messages: list[dict[str, str]], *, sample_index: int = 0
    ) -> Completion:
        await asyncio.sleep(0)  # a real suspension, so parallel branches really interleave
        varied = sample_index if spec.temperature > 0 else None
        rng = _rng(spec.model, messages, spec.temperature, varied)
        lat = round(0.5 + _rng("lat", spec.model, messages, sample_index).random() * 1.5, 4)
        last = messages[-1]["content"]
        role = prompts.role_of(last)
        secs = prompts.sections(last) if role else {}
        if spec.model.startswith("fail/"):
            self.log.append(Logged(spec, messages, role, sample_index, lat, ""))
            return Completion(
                text="",
                finish_reason=None,
                usage=Usage(),
                cost_usd=0.0,
                latency_s=lat,
                status="server_error",
                retries=4,
                model=spec.model,
            )
        nums = _nums(secs.get("problem", last))
        skill = SKILL.get(spec.model, 0.5) * (1.0 if spec.temperature <= 0.8 else 0.8)
        text = self._reply(role, secs, nums, skill, rng)
        self.log.append(Logged(spec, messages, role, sample_index, lat, text, secs.get("partial")))
        n_in = sum(len(m["content"]) for m in messages) // 4
        n_out = max(len(text) // 4, 1)
        return Completion(
            text=text,
            finish_reason="stop",
            usage=Usage(input_tokens=n_in, output_tokens=n_out),
            cost_usd=round(1e-6 * n_in + 4e-6 * n_out, 10),
            latency_s=lat,
            model=spec.model,
            simulated=True,
            logprob=-rng.random() if self.logprobs else None,
        )

    @staticmethod
    def _reply(
        role: str | None, secs: dict[str, str], nums: list[int], skill: float, rng: random.Random
    ) -> str:
        truth = sum(nums)
        if role is None or role == "refine":
            ok = rng.random() < (0.8 if role == "refine" else skill)
            total, lines = nums[0], []
            for j, a in enumerate(nums[1:], 1):
                lines.append(f"Step {j}: {total} + {a} = {total + a}.")
                total += a
            final = truth if ok else truth + rng.choice([-3, -1, 1, 2, 5])
            return "\n".join([*lines, f"Final answer: {final}"])
        if role == "judge":
            right = _final(secs.get("candidate", "")) == truth
            says_right = right if rng.random() < 0.8 else not right
            return f"I checked it.\nScore: {rng.choice([8, 9, 10]) if says_right else rng.choice([1, 2, 3])}"
        if role == "critique":
            return (
                "No errors found."
                if _final(secs.get("solution", "")) == truth
                else "The final sum is wrong."
            )
        if role == "classify":
            return "hard" if len(nums) > 3 else "easy"
        partial = secs.get("partial", "")
        partial = "" if partial == "(none)" else partial
        if role == "value":
            v = 0.8 if _steps_ok(nums, partial) else 0.2
            return f"Value: {min(1.0, max(0.0, v + rng.uniform(-0.15, 0.15))):.2f}"
        # next_step
        done = STEP.findall(partial)
        if len(done) >= len(nums) - 1:
            total = int(done[-1][2]) if done else nums[0]
            return f"Final answer: {total}"
        total = int(done[-1][2]) if done else nums[0]
        a = nums[len(done) + 1]
        slip = 0 if rng.random() < skill + 0.3 else rng.choice([-1, 1, 2])
        return f"Step {len(done) + 1}: {total} + {a} = {total + a + slip}."


class Answerer:
    def extract(self, text: str) -> str | None:
        f = _final(text)
        if f is not None:
            return str(int(f)) if f.is_integer() else str(f)
        nums = re.findall(r"-?\d+", text)
        return nums[-1] if nums else None

    def key(self, answer: str) -> str:
        return str(float(answer))


def render(item: Item) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You add numbers."},
        {
            "role": "user",
            "content": f"Add: {item.inputs['question']}\nEnd with 'Final answer: <number>'.",
        },
    ]


def make_ctx(
    question: str,
    *,
    model: str = "fake/mid",
    temperature: float = 0.7,
    client: FakeClient | None = None,
    config: str = "cfg",
    item_id: str = "i1",
    **kw: Any,
) -> Context:
    return Context(
        item=Item(id=item_id, inputs={"question": question}),
        config=config,
        model=ModelSpec(model=model, temperature=temperature, params=kw.pop("params", {})),
        client=client or FakeClient(),
        answerer=Answerer(),
        render=render,
        **kw,
    )


def run(solve: Any, ctx: Context) -> tuple[StrategyResult, float]:
    """Run a strategy on a fresh virtual clock; returns (result, critical-path latency)."""

    async def go() -> tuple[StrategyResult, float]:
        reset_clock()
        result = await solve(ctx)
        return result, ctx.elapsed

    return asyncio.run(go())


def total_cost(ctx: Context) -> float:
    return sum(c.cost_usd or 0.0 for c in ctx.calls)
