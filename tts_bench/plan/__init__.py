"""`plan`: what a suite will cost and how long it will take, before any call is made.

Per config: calls per item from the strategy's knobs (pools, judges, search nodes, routes,
reflection rounds), input tokens counted on the real rendered prompts (the simulator's own
count for `sim/*`, litellm's tokenizer where litellm knows the model, else chars/4), output
and reasoning tokens from the strategy and `max_tokens` (or observed means per call from a
prior run with `from_run`), cost from the price table (suite `pricing:` > simulator profile >
litellm's bundled price map > unknown) and wall time under the suite's limits.

Static output estimates (documented in docs/plan.md): a plain answer is ~16 tokens; a worked
(chain-of-thought) solution is about as long as the problem it restates, + 16 tokens, capped
at `max_tokens`; reasoning models add overhead + tokens per step by effort. Search strategies
are costed at their knob limits (an upper bound; they stop when a solution finishes).
"""

from tts_bench.plan.calls import Use, call_pattern, knobs_of
from tts_bench.plan.estimate import Estimator, Tally, call_seconds, price_of, wall_seconds
from tts_bench.plan.prior import observed, paired_var
from tts_bench.plan.report import ConfigPlan, PlanReport, plan_suite
from tts_bench.plan.tokens import Counter

__all__ = [
    "ConfigPlan",
    "Counter",
    "Estimator",
    "PlanReport",
    "Tally",
    "Use",
    "call_pattern",
    "call_seconds",
    "knobs_of",
    "observed",
    "paired_var",
    "plan_suite",
    "price_of",
    "wall_seconds",
]
