"""Internal scaling: one request that thinks more (the baseline, chain-of-thought)."""

from __future__ import annotations

from tts_bench.prompts import COT_INSTRUCTION
from tts_bench.strategies.base import Context, Messages, Solve, StrategyResult, strategy


def cot_messages(ctx: Context, examples: bool = True) -> Messages:
    """The suite prompt with a step-by-step instruction (and few-shot worked examples)."""
    msgs = [dict(m) for m in ctx.messages()]
    shots = ctx.examples if examples else []
    if shots:
        demo = "\n\n".join(f"Example problem:\n{q}\nExample solution:\n{a}" for q, a in shots)
        msgs[-1]["content"] = f"{demo}\n\nNow the problem:\n{msgs[-1]['content']}"
    msgs[-1]["content"] = f"{msgs[-1]['content']}\n{COT_INSTRUCTION}"
    return msgs


def result_of(ctx: Context, completion_text: str, finish: str | None, status: str) -> StrategyResult:
    answer = ctx.extract(completion_text) if status == "ok" else None
    return StrategyResult(answer=answer, text=completion_text, finish_reason=finish, status=status)


@strategy("single")
def single() -> Solve:
    """The baseline: one plain call with the suite's prompt. No knobs."""

    async def solve(ctx: Context) -> StrategyResult:
        c = await ctx.generate(ctx.messages())
        return result_of(ctx, c.text, c.finish_reason, c.status)

    return solve


@strategy("cot")
def cot(examples: bool = True) -> Solve:
    """Chain-of-thought: ask for step-by-step reasoning before the final answer.

    Knobs: `examples` — prepend the suite's `prompt.examples` as worked few-shot examples.
    """

    async def solve(ctx: Context) -> StrategyResult:
        c = await ctx.generate(cot_messages(ctx, examples))
        return result_of(ctx, c.text, c.finish_reason, c.status)

    return solve
