"""Monte Carlo tree search over step-wise solutions (UCT with model rollouts).

Iterations are sequential (each one's selection depends on the last one's result); inside an
iteration the `expand` sibling expansions run in parallel, while a rollout is a chain of
sequential step calls. Latency is therefore the sum over iterations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tts_bench.strategies.base import Context, Solve, StrategyResult, strategy
from tts_bench.strategies.roles import is_final, next_step, value
from tts_bench.strategies.search import State, finish

ROLLOUTS = ("greedy", "random", "value")


@dataclass
class Node:
    steps: list[str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    visits: int = 0
    total: float = 0.0
    done: bool = False
    expanded: bool = False

    def uct(self, c: float) -> float:
        if self.visits == 0:
            return math.inf
        parent_visits = self.parent.visits if self.parent else self.visits
        return self.total / self.visits + c * math.sqrt(math.log(parent_visits) / self.visits)


async def grow(ctx: Context, node: Node, k: int) -> list[Node]:
    lines = await ctx.parallel(next_step(ctx, node.steps, i) for i in range(k))
    seen: set[str] = set()
    for line in lines:
        if line is not None and line not in seen:
            seen.add(line)
            node.children.append(Node(steps=[*node.steps, line], parent=node, done=is_final(line)))
    node.expanded = True
    return node.children


async def roll_out(
    ctx: Context, steps: list[str], policy: str, depth: int, it: int
) -> tuple[list[str], int]:
    """Complete a partial solution step by step; returns the steps and the calls made.
    Greedy rolls out at temperature 0; random at the config's temperature, varied by `it`."""
    steps = list(steps)
    made = 0
    params = {"temperature": 0.0} if policy == "greedy" else {}
    while len(steps) < depth and not (steps and is_final(steps[-1])):
        line = await next_step(
            ctx, steps, it if policy == "random" else 0, role="rollout", **params
        )
        made += 1
        if line is None:
            break
        steps.append(line)
    return steps, made


@strategy("mcts")
def mcts(
    iterations: int = 8,
    exploration: float = 1.0,
    depth: int = 12,
    expand: int = 3,
    rollout: str = "greedy",
) -> Solve:
    """MCTS over reasoning steps (Hao et al. 2023, RAP; Zhang et al. 2024, rStar-style UCT):
    select by UCT, expand a leaf into `expand` next steps (parallel), roll out to a final
    answer, score the finished solution with a `value` call, back the reward up the path.

    Knobs: `iterations` — selection/expansion/rollout/backup cycles; `exploration` — UCT c;
    `depth` — step limit for tree and rollouts; `expand` — children per expansion;
    `rollout` — `greedy` (temperature 0), `random` (the config's
    temperature) or `value` (no rollout: the leaf's value estimate is the reward). The answer
    is the finished solution with the highest reward. `info.nodes` = tree nodes,
    `info.rollout_steps` = rollout calls.
    """
    policy = rollout
    if policy not in ROLLOUTS:
        raise ValueError(f"rollout must be one of {', '.join(ROLLOUTS)}, got {policy!r}")
    for name, v in (("iterations", iterations), ("depth", depth), ("expand", expand)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if exploration < 0:
        raise ValueError("exploration must be >= 0")

    async def solve(ctx: Context) -> StrategyResult:
        root = Node(steps=[])
        nodes = rollout_steps = 0
        best: State | None = None
        rewards: dict[str, float] = {}  # finished solution text -> reward (value asked once)
        for it in range(iterations):
            node = root
            while node.expanded and node.children and not node.done:
                node = max(node.children, key=lambda ch: ch.uct(exploration))
            if not node.done and not node.expanded and len(node.steps) < depth:
                kids = await grow(ctx, node, expand)
                nodes += len(kids)
                if kids:
                    node = kids[0]
            if policy == "value" or node.done:
                steps = node.steps
            else:
                steps, made = await roll_out(ctx, node.steps, policy, depth, it)
                rollout_steps += made
            key = "\n".join(steps)
            if key not in rewards:
                rewards[key] = await value(ctx, steps, 0)
            reward = rewards[key]
            finished = bool(steps) and is_final(steps[-1])
            if finished and (best is None or reward > best.value):
                best = State(steps=steps, value=reward, done=True)
            back: Node | None = node
            while back is not None:
                back.visits += 1
                back.total += reward
                back = back.parent
        if best is None:  # nothing finished: the most visited path
            node = root
            while node.children:
                node = max(node.children, key=lambda ch: ch.visits)
            best = (
                State(steps=node.steps, value=node.total / max(node.visits, 1))
                if node.steps
                else None
            )
        return finish(ctx, best, nodes, rollout_steps=rollout_steps, iterations=iterations)

    return solve
