"""Analysis steps that share their bootstrap products.

Every bootstrap figure is read off products of the counts matrix W with columns of
per-item values (`bootstrap.MeanBatch`), and each product has to widen W's uint8 counts to
float32 block by block: fifteen small products cost fifteen passes over W. A *step* is an
analysis written as a generator that yields the batches it needs (a list of `MeanBatch`es)
and resumes once they are resolved; `together(*steps)` advances several steps in rounds,
yielding all their batches at once, and `drive(step)` resolves each round's batches with one
product per counts matrix (`MeanBatch.solve`). The report's analysis is one round: one pass.

A step is an ordinary function's body with `res = yield from results(batch)` where it used to
call `batch.run()`; `name = driven(name_steps)` gives back the ordinary function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from typing import Any, ParamSpec, TypeVar

from tts_bench.analysis.bootstrap import MeanBatch

T = TypeVar("T")
P = ParamSpec("P")
Step = Generator[list[MeanBatch], None, T]  # yields the batches it needs, as a list


def results(batch: MeanBatch) -> Step[Any]:
    """The step of one batch: yields it, returns its resolved ratios (`MeanBatch.run()`)."""
    yield [batch]
    return batch.run()


def together(*steps: Step[Any]) -> Step[list[Any]]:
    """Steps advanced in rounds: each round yields the batches of every step still running;
    returns their return values, in order."""
    out: list[Any] = [None] * len(steps)
    live: dict[int, list[MeanBatch]] = {}
    for i, step in enumerate(steps):
        try:
            live[i] = next(step)
        except StopIteration as stop:
            out[i] = stop.value
    while live:
        yield [b for got in live.values() for b in got]
        after: dict[int, list[MeanBatch]] = {}
        for i in live:
            try:
                after[i] = steps[i].send(None)
            except StopIteration as stop:
                out[i] = stop.value
        live = after
    return out


def drive(step: Step[T]) -> T:
    """Run a step to its end, resolving each round's batches with one product per counts
    matrix they share."""
    try:
        got = next(step)
        while True:
            solve(got)
            got = step.send(None)
    except StopIteration as stop:
        return stop.value


def solve(batches: list[MeanBatch]) -> None:
    """Resolve batches: one product per (batch class, counts matrix)."""
    groups: dict[tuple[type, int], list[MeanBatch]] = {}
    for b in batches:
        groups.setdefault((type(b), id(b.w)), []).append(b)
    for (cls, _), group in groups.items():
        cls.solve(group)


def driven(step: Callable[P, Step[T]]) -> Callable[P, T]:
    """The ordinary function of a step function `<name>_steps`: called as it is, it runs the
    step to its end (`drive`) and returns its value; named `<name>`, with the step's doc."""

    @functools.wraps(step)
    def plain(*args: P.args, **kwargs: P.kwargs) -> T:
        return drive(step(*args, **kwargs))

    plain.__name__ = plain.__qualname__ = step.__name__.removesuffix("_steps")
    return plain
