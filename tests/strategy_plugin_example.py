"""A user module as a suite would name it: `strategy: strategy_plugin_example:draft_and_check`,
`selector: strategy_plugin_example:shortest`, `classifier: strategy_plugin_example:by_terms`."""

from __future__ import annotations

from tts_bench import prompts
from tts_bench.strategies.base import Context, Sample, StrategyResult, sample_from


def draft_and_check(drafts: int = 2):
    """Draft `drafts` answers in parallel, then ask the model's judge about the first one."""

    async def solve(ctx: Context) -> StrategyResult:
        async def one(i: int) -> Sample:
            c = await ctx.generate(ctx.messages(), sample_index=i)
            return sample_from(c, ctx.extract(c.text) if c.ok else None)

        pool = await ctx.parallel(one(i) for i in range(drafts))
        verdict = await ctx.generate(
            [{"role": "user", "content": prompts.judge(ctx.question(), pool[0].text)}], role="judge"
        )
        return StrategyResult(
            answer=pool[0].answer, text=pool[0].text, samples=pool, info={"verdict": verdict.text}
        )

    return solve


def shortest(ctx: Context, sample: Sample) -> float:
    """A selector: prefer the shortest candidate."""
    return -float(len(sample.text))


async def by_terms(ctx: Context) -> str:
    """A classifier: many numbers in the problem -> hard."""
    return "hard" if len(ctx.question().split()) > 10 else "easy"
