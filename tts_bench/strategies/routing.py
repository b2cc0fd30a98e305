"""Routing: label the item, then run another config of the suite on it.

The routed config runs inside this record's context (`ctx.run_config`, served by the
runner's delegate), so its calls, cost and latency count here, after the classifier's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tts_bench import prompts
from tts_bench.strategies.base import Context, Solve, StrategyResult, strategy
from tts_bench.strategies.roles import call_user, load_callable, model_named

CLASSIFIERS = ("llm", "length")


def parse_label(text: str, labels: list[str]) -> str | None:
    """The first route label named in a classifier's reply (whole word, any case)."""
    hits = []
    for label in labels:
        m = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, re.I)
        if m:
            hits.append((m.start(), label))
    return min(hits)[1] if hits else None


@strategy("router")
def router(
    routes: dict[str, str],
    classifier: str = "llm",
    classifier_model: str | None = None,
    threshold: int = 400,
    default: str | None = None,
) -> Solve:
    """Difficulty routing: a classifier labels each item, `routes` maps labels to configs.

    Knobs: `routes` — `{label: config_name}` of configs in the same suite (e.g. `{easy:
    single, hard: cot_reasoner}`); `classifier` — `llm` (the `classify` prompt listing the
    labels; one counted `classify` call), `length` (no call: `hard` if the rendered prompt
    is longer than `threshold` characters, else `easy`), or `pkg.module:function` called as
    `fn(ctx) -> label` (sync or async); `classifier_model` — model name for the llm
    classifier (default: the config's model); `threshold` — characters, for `length`;
    `default` — label used when the classifier's reply names no label (default: the last
    route). `info.route`, `info.routed_to`.
    """
    if not isinstance(routes, dict) or not routes:
        raise ValueError("routes must map labels to config names, e.g. {easy: single, hard: cot}")
    labels = [str(k) for k in routes]
    if default is not None and default not in routes:
        raise ValueError(f"default {default!r} is not a route label ({', '.join(labels)})")
    if classifier == "length" and not {"easy", "hard"} <= set(labels):
        raise ValueError("classifier 'length' labels items easy/hard: routes need both")
    user_fn: Callable[..., Any] | None = None
    if classifier not in CLASSIFIERS:
        user_fn = load_callable(classifier, "classifier")
    fallback_label = default or labels[-1]

    async def label_of(ctx: Context) -> str:
        if classifier == "length":
            return "hard" if len(ctx.question()) > threshold else "easy"
        if user_fn is not None:
            return str(await call_user(user_fn, ctx))
        c = await ctx.generate(
            [{"role": "user", "content": prompts.classify(ctx.question(), tuple(labels))}],
            role="classify",
            model=model_named(ctx, classifier_model),
        )
        return (parse_label(c.text, labels) if c.ok else None) or fallback_label

    async def solve(ctx: Context) -> StrategyResult:
        raw = await label_of(ctx)
        label = raw if raw in routes else fallback_label
        target = routes[label]
        classified = [c for c in ctx.calls if c.role == "classify"]
        result = await ctx.run_config(target)
        result.info = {
            **result.info,
            "route": label,
            "routed_to": target,
            # what deciding the route cost (0 for a heuristic or user classifier)
            "classifier_cost_usd": ctx.cost_of(classified) if classified else 0.0,
            "classifier_latency_s": sum(c.latency_s for c in classified),
        }
        if raw != label:
            result.info["unknown_label"] = raw  # a user classifier's label with no route
        return result

    return solve
