"""Internal scaling: one request that thinks more (the baseline, chain-of-thought,
reflection). Reasoning effort is not a strategy: `reasoning_effort` / `thinking_budget` on a
config are model parameters, and every strategy passes them on through `ctx.generate`."""

from __future__ import annotations

from tts_bench import prompts
from tts_bench.prompts import COT_INSTRUCTION
from tts_bench.scoring.extract import extract_confidence
from tts_bench.strategies.base import Context, Messages, Solve, StrategyResult, strategy
from tts_bench.strategies.roles import model_named


def cot_messages(ctx: Context, examples: bool = True) -> Messages:
    """The suite prompt with a step-by-step instruction, preceded by the suite's worked
    examples as earlier user/assistant turns (few-shot CoT, Wei et al. 2022). Chat turns keep
    the real problem alone in the last user message, where a model (or the simulator) reads it."""
    msgs = [dict(m) for m in ctx.messages()]
    last = msgs.pop()
    shots: Messages = []
    for q, a in ctx.examples if examples else []:
        shots.append({"role": "user", "content": f"{q}\n{COT_INSTRUCTION}"})
        shots.append({"role": "assistant", "content": a})
    last["content"] = f"{last['content']}\n{COT_INSTRUCTION}"
    return [*msgs, *shots, last]


def result_of(
    ctx: Context, completion_text: str, finish: str | None, status: str
) -> StrategyResult:
    """One completion as a result; `confidence` is the one the model states ("Confidence:
    85%"), if any, so a confidently wrong answer can be labelled `overconfident`."""
    ok = status == "ok"
    answer = ctx.extract(completion_text) if ok else None
    return StrategyResult(
        answer=answer,
        text=completion_text,
        finish_reason=finish,
        status=status,
        confidence=extract_confidence(completion_text) if ok else None,
    )


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


@strategy("reflection")
def reflection(rounds: int = 2, critic: str | None = None, cot: bool = True) -> Solve:
    """Reflection / self-refine (Madaan et al. 2023): answer, then up to `rounds` times ask a
    critic for the first error and revise; stop early when the critic finds none.

    Knobs: `rounds` — maximum critique/revise rounds; `critic` — model name for the critique
    calls (default: the config's own model; revisions always use the config's model);
    `cot` — the first answer uses the chain-of-thought prompt (default) or the plain prompt.
    Calls (roles): 1 `sample` + per round 1 `critique` (+ 1 `refine` unless the critic found
    no error); all sequential, so latency is their sum.
    """
    if rounds < 0:
        raise ValueError("rounds must be >= 0")

    async def solve(ctx: Context) -> StrategyResult:
        c = await ctx.generate(cot_messages(ctx) if cot else ctx.messages())
        result = result_of(ctx, c.text, c.finish_reason, c.status)
        if not c.ok:
            return result
        critic_spec = model_named(ctx, critic)
        problem = ctx.question()
        done, revised, stopped_early = 0, 0, False
        for r in range(rounds):
            done += 1
            review = await ctx.generate(
                [{"role": "user", "content": prompts.critique(problem, result.text)}],
                role="critique",
                sample_index=r,
                model=critic_spec,
            )
            if not review.ok:
                break  # no feedback to act on: keep the current solution
            if prompts.NO_ERRORS in review.text.lower():
                stopped_early = True
                break
            fix = await ctx.generate(
                [{"role": "user", "content": prompts.refine(problem, result.text, review.text)}],
                role="refine",
                sample_index=r,
            )
            if fix.ok and ctx.extract(fix.text) is not None:
                result = result_of(ctx, fix.text, fix.finish_reason, fix.status)
                revised += 1
        result.info = {"rounds": done, "revisions": revised, "stopped_early": stopped_early}
        return result

    return solve
