"""Search scaling over step-wise solutions: beam search and tree-of-thoughts (BFS / DFS).

A state is the list of step lines written so far. Expanding a state asks the model for one
next step (`next_step` prompt, role `expand`); a state ends when its step is the final-answer
line. States are scored with the `value` prompt (role `value`). Siblings are expanded and
scored in parallel: each level costs the slowest expansion plus the slowest evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tts_bench.strategies.base import Context, Solve, StrategyResult, strategy
from tts_bench.strategies.roles import is_final, next_step, steps_text, value


@dataclass
class State:
    steps: list[str]
    value: float = 0.0
    done: bool = False
    values: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return steps_text(self.steps)


async def evaluate(ctx: Context, steps: list[str], n_evaluate: int) -> list[float]:
    """`n_evaluate` value calls on one state, in parallel (set a temperature > 0 to vary)."""
    return await ctx.parallel(value(ctx, steps, j) for j in range(n_evaluate))


async def children(ctx: Context, state: State, k: int, n_evaluate: int) -> list[State]:
    """Expand a state into up to k distinct children (parallel), then score them (parallel)."""
    lines = await ctx.parallel(next_step(ctx, state.steps, i) for i in range(k))
    seen: set[str] = set()
    kids: list[State] = []
    for line in lines:
        if line is None or line in seen:
            continue  # a failed or duplicate expansion is not worth an evaluation
        seen.add(line)
        kids.append(State(steps=[*state.steps, line], done=is_final(line)))
    scores = await ctx.parallel(evaluate(ctx, kid.steps, n_evaluate) for kid in kids)
    for kid, vs in zip(kids, scores, strict=True):
        kid.values = vs
        kid.value = sum(vs) / len(vs)
    return kids


async def complete(ctx: Context, state: State, depth: int) -> tuple[State, int]:
    """Write an unfinished best state out to its final-answer line, one sequential greedy
    step at a time (the search ran out of depth or of promising branches)."""
    steps, made = list(state.steps), 0
    while len(steps) < depth and not (steps and is_final(steps[-1])):
        line = await next_step(ctx, steps, 0, temperature=0.0)
        made += 1
        if line is None:
            break
        steps.append(line)
    done = bool(steps) and is_final(steps[-1])
    return State(steps=steps, value=state.value, done=done), made


def finish(ctx: Context, best: State | None, nodes: int, **info: object) -> StrategyResult:
    """The result for the best state: its text and the extracted final answer."""
    if best is None:
        failed = [c for c in ctx.calls if c.status != "ok"]
        status = failed[-1].status if failed and len(failed) == len(ctx.calls) else "ok"
        return StrategyResult(answer=None, text="", status=status, info={"nodes": nodes, **info})
    return StrategyResult(
        answer=ctx.extract(best.text),
        text=best.text,
        finish_reason="stop" if best.done else "length",
        confidence=best.value,
        info={"nodes": nodes, "depth": len(best.steps), "finished": best.done, **info},
    )


async def level_search(
    ctx: Context, width: int, expand: int, max_depth: int, n_evaluate: int
) -> StrategyResult:
    """Keep the `width` best states per level; finished states keep competing for a place."""
    beam = [State(steps=[])]
    nodes = 0
    for _ in range(max_depth):
        open_ = [s for s in beam if not s.done]
        if not open_:
            break
        grown = await ctx.parallel(children(ctx, s, expand, n_evaluate) for s in open_)
        new = [kid for kids in grown for kid in kids]
        nodes += len(new)
        if not new:
            break
        pool = [s for s in beam if s.done] + new
        pool.sort(key=lambda s: s.value, reverse=True)  # stable: earlier wins ties
        beam = pool[:width]
    done = [s for s in beam if s.done]
    best = max(done or beam, key=lambda s: s.value) if nodes else None
    if best is not None and not best.done:
        best, made = await complete(ctx, best, max_depth + 2)
        nodes += made
    return finish(ctx, best, nodes)


def _positive(**knobs: int) -> None:
    for name, v in knobs.items():
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


@strategy("beam_search")
def beam_search(beam_width: int = 3, expand: int = 3, max_depth: int = 12) -> Solve:
    """Step-level beam search guided by the model's own value estimates (Xie et al. 2023,
    self-evaluation guided beam search; Snell et al. 2024 with a verifier).

    Knobs: `beam_width` — states kept per level; `expand` — next-step samples per state
    (duplicates dropped; set a config `temperature` > 0 so they differ); `max_depth` — step
    limit. Per level: `expand` × open beams `expand` calls, then one `value` call per distinct
    child; latency per level = slowest expansion + slowest evaluation. `info.nodes`.
    """
    _positive(beam_width=beam_width, expand=expand, max_depth=max_depth)

    async def solve(ctx: Context) -> StrategyResult:
        return await level_search(ctx, beam_width, expand, max_depth, 1)

    return solve


async def depth_first(
    ctx: Context, breadth: int, depth: int, n_evaluate: int, prune: float, max_nodes: int
) -> StrategyResult:
    """ToT-DFS: expand the most promising child first, prune below `prune`, backtrack;
    stop at the first finished state that clears `prune`."""
    nodes = 0
    best_seen: State | None = None

    def rank(s: State) -> tuple[bool, bool, int, float]:
        return (s.done, s.value >= prune, len(s.steps), s.value)

    stack = [State(steps=[], value=1.0)]
    while stack and nodes < max_nodes:
        state = stack.pop()
        if len(state.steps) >= depth:
            continue
        kids = await children(ctx, state, breadth, n_evaluate)
        nodes += len(kids)
        for kid in kids:
            # Fallback if nothing finishes: the deepest state still judged promising.
            if best_seen is None or rank(kid) > rank(best_seen):
                best_seen = kid
        hits = [k for k in kids if k.done and k.value >= prune]
        if hits:
            return finish(ctx, max(hits, key=lambda s: s.value), nodes, method="dfs")
        promising = sorted(
            (k for k in kids if not k.done and k.value >= prune), key=lambda s: s.value
        )
        stack.extend(promising)  # the best child ends on top of the stack
    if best_seen is not None and not best_seen.done:
        best_seen, made = await complete(ctx, best_seen, depth + 2)
        nodes += made
    return finish(ctx, best_seen, nodes, method="dfs")


@strategy("tree_of_thoughts")
def tree_of_thoughts(
    method: str = "bfs",
    breadth: int = 3,
    propose: int = 3,
    depth: int = 12,
    n_evaluate: int = 2,
    prune: float = 0.5,
    max_nodes: int = 60,
) -> Solve:
    """Tree of Thoughts (Yao et al. 2023): propose thoughts (steps), evaluate each with
    `n_evaluate` averaged value calls, and search.

    Knobs: `method` — `bfs` (keep the `breadth` best states per level, `propose` children each)
    or `dfs` (expand `breadth` children per state, best first, prune states valued below
    `prune`, backtrack; stop at the first finished state valued ≥ `prune`, or after
    `max_nodes` nodes); `depth` — step limit; `n_evaluate` — value calls per node (averaged;
    needs temperature > 0 to differ). BFS latency adds one level at a time; DFS is sequential
    across nodes (parallel only among siblings). `info.nodes`, `info.method`.
    """
    if method not in ("bfs", "dfs"):
        raise ValueError(f"method must be bfs or dfs, got {method!r}")
    _positive(
        breadth=breadth, propose=propose, depth=depth, n_evaluate=n_evaluate, max_nodes=max_nodes
    )

    async def solve(ctx: Context) -> StrategyResult:
        if method == "dfs":
            return await depth_first(ctx, breadth, depth, n_evaluate, prune, max_nodes)
        result = await level_search(ctx, breadth, propose, depth, n_evaluate)
        result.info["method"] = "bfs"
        return result

    return solve
