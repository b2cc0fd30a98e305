"""Counted role calls shared by the strategies: judge, value, next step, and their parsers.

Every helper goes through `ctx.generate`, so each call is logged (cost, tokens, role) and
advances the virtual clock of the task that awaits it.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tts_bench import prompts
from tts_bench.llm.types import ModelSpec
from tts_bench.strategies.base import Context

# A step line that ends a step-wise solution ("Final answer: 42", "**Final Answer:** 42").
FINAL_RE = re.compile(r"final\s+answer\W*[:=]", re.I)


def is_final(line: str) -> bool:
    return bool(FINAL_RE.search(line))


def parse_number(pattern: re.Pattern[str], text: str) -> float | None:
    """The last `Score: x` / `Value: x` in a reply (models may restate the scale first)."""
    found = pattern.findall(text or "")
    return float(found[-1]) if found else None


def load_callable(ref: str, what: str) -> Callable[..., Any]:
    """`pkg.module:function` -> the function; ValueError (-> UserError) when it cannot load."""
    mod_name, sep, attr = ref.partition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"{what} {ref!r} must be a built-in name or 'pkg.module:function'")
    try:
        fn = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {what} {ref!r}: {exc}") from None
    if not callable(fn):
        raise ValueError(f"{what} {ref!r} is not callable")
    return fn


async def call_user(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a user hook that may be sync or async."""
    out = fn(*args)
    return await out if inspect.isawaitable(out) else out


def model_named(ctx: Context, name: str | None) -> ModelSpec | None:
    """The config's model spec with another model name (critic, judge, classifier)."""
    return None if name is None else ctx.model.with_(model=name)


@dataclass(frozen=True)
class Judge:
    """An LLM judge: optional other model and optional prompt template with `{problem}`
    and `{candidate}` placeholders (it must ask for a final 'Score: <0-10>' line)."""

    model: str | None = None
    prompt: str | None = None

    @classmethod
    def of(cls, spec: dict[str, Any] | None) -> Judge:
        spec = dict(spec or {})
        unknown = sorted(set(spec) - {"model", "prompt"})
        if unknown:
            raise ValueError(f"judge: unknown key(s) {', '.join(unknown)} (use model, prompt)")
        prompt = spec.get("prompt")
        if prompt is not None and ("{problem}" not in prompt or "{candidate}" not in prompt):
            raise ValueError("judge.prompt must contain {problem} and {candidate}")
        return cls(model=spec.get("model"), prompt=prompt)

    def text(self, problem: str, candidate: str) -> str:
        if self.prompt is None:
            return prompts.judge(problem, candidate)
        return self.prompt.replace("{problem}", problem).replace("{candidate}", candidate)

    async def score(self, ctx: Context, candidate: str, sample_index: int) -> float | None:
        """Judge score in [0, 10], or None when the judge failed or gave no score."""
        c = await ctx.generate(
            [{"role": "user", "content": self.text(ctx.question(), candidate)}],
            role="judge",
            sample_index=sample_index,
            model=model_named(ctx, self.model),
        )
        if not c.ok:
            return None
        s = parse_number(prompts.SCORE_RE, c.text)
        return None if s is None else min(10.0, max(0.0, s))


def steps_text(steps: list[str]) -> str:
    return "\n".join(steps)


async def next_step(
    ctx: Context, steps: list[str], sample_index: int, role: str = "expand", **params: Any
) -> str | None:
    """One more step line for a partial solution (None when the call failed or was empty)."""
    c = await ctx.generate(
        [{"role": "user", "content": prompts.next_step(ctx.question(), steps_text(steps))}],
        role=role,
        sample_index=sample_index,
        **params,
    )
    if not c.ok:
        return None
    lines = [ln.strip() for ln in c.text.splitlines() if ln.strip()]
    if not lines:
        return None
    # A model may restate the last step before its new one; a final line wins wherever it is.
    finals = [ln for ln in lines if is_final(ln)]
    return finals[0] if finals else lines[0]


async def value(ctx: Context, steps: list[str], sample_index: int = 0) -> float:
    """The model's estimate in [0, 1] that a partial solution leads to a correct answer
    (0 when the call fails or gives no value: an unknown state is not preferred)."""
    c = await ctx.generate(
        [{"role": "user", "content": prompts.value(ctx.question(), steps_text(steps))}],
        role="value",
        sample_index=sample_index,
    )
    v = parse_number(prompts.VALUE_RE, c.text) if c.ok else None
    return 0.0 if v is None else min(1.0, max(0.0, v))
