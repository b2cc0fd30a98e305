"""One simulated call's situation: who answers, how, and with which randomness.

`rng` varies per sample (it is seeded by the whole request, including the sample index
above temperature 0); `item_rng()` is shared by every sample of the same problem for this
model, which is how errors that a model makes systematically (a fact it lacks, a sentence
it misreads) stay correlated across samples, as they do on real models.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from tts_bench.sim.text import MEMO, Form, first_gauss, rng_for

EFFORTS = ("low", "medium", "high")
_STD_NORMAL = NormalDist()
_WEAK_ITEM = 0.3  # share of a weak spot's latent that belongs to the whole item


# Item-level draws are pure functions of their key, memoised: a problem's steps, samples,
# roles and configs ask for the same ones again and again. Keys are flat so that the memo's
# type check (1 and 1.0 hash alike but seed differently) covers every part.


@functools.lru_cache(maxsize=MEMO, typed=True)
def _hardness(name: str, seed: int, sigma: float, *parts: object) -> float:
    shared = first_gauss("hardness", seed, *parts)
    own = first_gauss("item", name, seed, "hardness", *parts)
    return math.exp(sigma * (0.7 * shared + 0.71 * own))


@functools.lru_cache(maxsize=MEMO, typed=True)
def _weak(name: str, seed: int, rate: float, part: object, *item: object) -> bool:
    def latent(*key: object) -> float:
        shared = first_gauss("weak", seed, *key)
        own = first_gauss("item", name, seed, "weak", *key)
        return 0.7 * shared + 0.71 * own

    z = _WEAK_ITEM**0.5 * latent(*item) + (1 - _WEAK_ITEM) ** 0.5 * latent(*item, part)
    return z > _STD_NORMAL.inv_cdf(1 - min(rate, 0.999))


@dataclass
class Call:
    name: str
    prof: dict[str, Any]
    temperature: float
    rng: random.Random
    seed: int = 0
    cot: bool = False
    examples: int = 0
    effort: str | None = None
    thinking_budget: int | None = None
    form: Form = field(default_factory=Form)
    ease: float = 1.0  # error multiplier for the task at hand (checking is easier than solving)

    @property
    def reasoning(self) -> bool:
        return bool(self.prof["reasoning"])

    @property
    def careful(self) -> bool:
        """Works step by step (visibly, or hidden for a reasoner)."""
        return self.cot or self.reasoning

    def item_rng(self, *parts: object) -> random.Random:
        return rng_for("item", self.name, self.seed, *parts)

    def hardness(self, *parts: object) -> float:
        """The item's difficulty multiplier for this model: log-normal, partly shared by all
        models (items hard for one model tend to be hard for others) and partly its own."""
        return _hardness(self.name, self.seed, self.prof["item_hardness_sigma"], *parts)

    def weak_spot(self, rate: float, item: tuple, part: object) -> bool:
        """Is `part` of an item (e.g. one step of a problem) a weak spot for this model, where
        it errs often and in varied ways? Decided once per (model, item, part) with chance
        `rate`. The latent is partly the item's (weak spots cluster in some items, so most
        items have none) and partly shared by all models (a stronger model's weak spots, at a
        lower rate, are mostly a subset of a weaker one's)."""
        if rate <= 0:
            return False
        return _weak(self.name, self.seed, rate, part, *item)

    def effort_scale(self, steps: int = 1) -> float:
        """Error multiplier from hidden reasoning effort (1 for non-reasoners)."""
        if not self.reasoning:
            return 1.0
        low = self.prof["reasoning_tokens_per_step"]["low"]
        return (self.tokens_per_step(steps) / low) ** -self.prof["effort_error_exponent"]

    def tokens_per_step(self, steps: int) -> float:
        """Hidden reasoning tokens spent per step (reasoners), capped by a thinking budget."""
        per = self.prof["reasoning_tokens_per_step"][self.effort or "medium"]
        if self.thinking_budget is not None:
            room = max(self.thinking_budget - self.prof["reasoning_overhead_tokens"], 0)
            per = min(per, max(room / max(steps, 1), 5.0))
        return float(per)

    def error_scale(self, steps: int = 1) -> float:
        """Multiplier on every error probability: temperature, examples, reasoning effort."""
        scale = 1.0 + self.prof["temperature_error_gain"] * self.temperature
        if self.examples:
            scale *= self.prof["fewshot_error_factor"]
        return scale * self.effort_scale(steps) * self.ease

    def chance(self, p: float) -> bool:
        return self.rng.random() < p
