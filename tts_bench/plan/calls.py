"""How many calls of each kind a strategy makes per item, from its knobs (search strategies
at their knob limits: an upper bound)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any


@dataclass
class Use:
    """One kind of call a config makes per item: `count` calls of `kind` on `model`."""

    kind: str  # plain | cot | judge | critique | refine | classify | expand | value | rollout
    model: str
    count: float
    spec: Any  # ModelSpec
    pool: bool = False  # samples of one prompt drawn side by side: one request of n can draw them


def knobs_of(strategy: str, knobs: dict[str, Any]) -> dict[str, Any]:
    """The strategy's knobs with its own defaults filled in."""
    from tts_bench.strategies.base import registry

    factory = registry().get(strategy)
    full: dict[str, Any] = {}
    if factory is not None:
        for name, p in inspect.signature(factory).parameters.items():
            if p.default is not inspect.Parameter.empty:
                full[name] = p.default
    full.update(knobs)
    return full


def _pool(n: Any) -> int:
    return max(n) if isinstance(n, list) else int(n)


def call_pattern(strategy: str, k: dict[str, Any], spec: Any) -> tuple[list[Use], list[str]]:
    """Calls per item by kind, and notes saying where the figure is a bound or an assumption."""
    m = spec.model
    sample = "cot" if k.get("cot", strategy == "cot") else "plain"

    def other(name: str | None) -> tuple[str, Any]:
        return (m, spec) if name is None else (name, spec.with_(model=name))

    if strategy == "single":
        return [Use("plain", m, 1, spec)], []
    if strategy == "cot":
        return [Use("cot", m, 1, spec)], []
    if strategy == "reflection":
        r = int(k["rounds"])
        cm, cspec = other(k.get("critic"))
        return [
            Use(sample, m, 1, spec),
            Use("critique", cm, r, cspec),
            Use("refine", m, r, spec),
        ], [f"reflection: at most {2 * r + 1} calls (stops when the critic finds no error)"]
    if strategy in ("self_consistency", "best_of_n"):
        n = _pool(k["n"])
        uses = [Use(sample, m, n, spec, pool=True)]
        judged = (
            k.get("weighted") == "judge"
            if strategy == "self_consistency"
            else k["selector"] == "judge"
        )
        if judged:
            jm, jspec = other((k.get("judge") or {}).get("model"))
            uses.append(Use("judge", jm, n, jspec))
        notes = [f"one pool of max(n) = {n} samples" + (", each judged" if judged else "")]
        if strategy == "best_of_n" and k["selector"] not in ("judge", "scorer"):
            notes.append("custom selector: calls it makes are not counted here")
        return uses, notes
    if strategy == "adaptive_consistency":
        n = int(k["n_max"])
        return [Use(sample, m, n, spec)], [
            f"at most n_max = {n} samples (stops when the vote settles)"
        ]
    if strategy == "beam_search" or (strategy == "tree_of_thoughts" and k.get("method") == "bfs"):
        w, e, d = (
            (k["beam_width"], k["expand"], k["max_depth"])
            if strategy == "beam_search"
            else (k["breadth"], k["propose"], k["depth"])
        )
        n_eval = 1 if strategy == "beam_search" else int(k["n_evaluate"])
        kids = e + (d - 1) * w * e  # level 1 grows the root only
        return [Use("expand", m, kids, spec), Use("value", m, kids * n_eval, spec)], [
            f"search: at most {kids} nodes ({w} beams × {e} children × {d} levels; fewer when beams finish)"
        ]
    if strategy == "tree_of_thoughts":  # dfs
        nodes = int(k["max_nodes"])
        return [
            Use("expand", m, nodes, spec),
            Use("value", m, nodes * int(k["n_evaluate"]), spec),
        ], [f"tree-of-thoughts dfs: at most max_nodes = {nodes} nodes"]
    if strategy == "mcts":
        it, e, d = int(k["iterations"]), int(k["expand"]), int(k["depth"])
        roll = 0 if k["rollout"] == "value" else d
        return [
            Use("expand", m, it * e, spec),
            Use("rollout", m, it * roll, spec),
            Use("value", m, it, spec),
        ], [f"mcts: at most {it} × ({e} expansions + {roll} rollout steps + 1 value) calls"]
    return [Use("plain", m, 1, spec)], [
        f"strategy {strategy!r}: call pattern unknown, assumed one call per item (use --from RUN_DIR)"
    ]
