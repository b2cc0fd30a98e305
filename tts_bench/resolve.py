"""A suite resolved for running: each config's strategy built from its knobs, its model
parameters merged over the suite defaults, its fallback model, and the prompt renderer.
Shared by the runner and `plan`."""

from __future__ import annotations

import platform
from typing import Any

from tts_bench import __version__
from tts_bench.errors import UserError
from tts_bench.llm.pooling import pool_mode
from tts_bench.llm.types import ModelSpec
from tts_bench.store import now_iso
from tts_bench.strategies.base import Item, Solve, resolve
from tts_bench.suite import ConfigSpec, Suite


def model_spec(suite: Suite, cfg: ConfigSpec) -> ModelSpec:
    """The config's model parameters: suite defaults overridden by the config."""
    d = suite.defaults
    params: dict[str, Any] = dict(d.model_extra or {})
    params.update(cfg.params)
    for key in ("api_base", "reasoning_effort", "thinking_budget", "stream"):
        value = getattr(cfg, key)
        if value is not None:
            params[key] = value
    return ModelSpec(
        model=cfg.model or d.model,
        temperature=d.temperature if cfg.temperature is None else cfg.temperature,
        max_tokens=cfg.max_tokens or d.max_tokens,
        api_key_env=cfg.api_key_env or d.api_key_env,
        params=params,
        pool_request=cfg.pool_request or d.pool_request,
    )


def fallback_spec(spec: ModelSpec, cfg: ConfigSpec) -> ModelSpec | None:
    if not cfg.fallback:
        return None
    params = {k: v for k, v in spec.params.items() if k != "api_base"}
    return ModelSpec(
        model=cfg.fallback,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        api_key_env=None,
        params=params,
        pool_request=spec.pool_request,
    )


class ResolvedSuite:
    """A suite resolved for running: strategies built, model specs merged, prompts checked."""

    def __init__(self, suite: Suite, where: str = "suite") -> None:
        self.suite = suite
        self.solvers: dict[str, Solve] = {}
        self.specs: dict[str, ModelSpec] = {}
        self.fallbacks: dict[str, ModelSpec | None] = {}
        for cfg in suite.configs:
            self.solvers[cfg.name] = resolve(
                cfg.strategy, cfg.knobs, f"{where}: configs[{cfg.name}]"
            )
            self.specs[cfg.name] = model_spec(suite, cfg)
            self.fallbacks[cfg.name] = fallback_spec(self.specs[cfg.name], cfg)
        routes = {c.name: list((c.knobs.get("routes") or {}).values()) for c in suite.configs}
        for name, targets in routes.items():
            for target in targets:
                if target not in self.solvers or target == name:
                    raise UserError(
                        f"{where}: configs[{name}].routes: {target!r} is not another config"
                    )

        def visit(
            name: str, path: tuple[str, ...]
        ) -> None:  # a route may reach a router, never loop
            for nxt in routes.get(name, []):
                if nxt in path:
                    raise UserError(
                        f"{where}: configs[{path[0]}].routes: routing loop through {nxt!r}"
                    )
                visit(nxt, (*path, nxt))

        for name in routes:
            visit(name, (name,))
        self.examples = [(e.input, e.output) for e in suite.prompt.examples]
        # set by `run --shard`: which shard of which items a run holds (run/schedule.py)
        self.shard: dict[str, Any] | None = None

    def render(self, item: Item) -> list[dict[str, str]]:
        p = self.suite.prompt
        try:
            user = p.template.format_map(item.inputs)
        except KeyError as exc:
            cols = ", ".join(sorted(item.inputs))
            raise UserError(
                f"prompt.template: unknown field {{{exc.args[0]}}} (fields: {cols})"
            ) from None
        except (ValueError, IndexError) as exc:
            raise UserError(f"prompt.template: {exc}") from None
        msgs = [{"role": "system", "content": p.system}] if p.system else []
        return [*msgs, {"role": "user", "content": user}]

    def manifest(self, run_id: str, fingerprint: str, items: list[Any]) -> dict[str, Any]:
        """A new run's manifest.json (design.md): the resolved suite (never a key: suites
        hold only the names of key variables), versions, seed, dataset and strata counts."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            litellm_version: str | None = version("litellm")
        except PackageNotFoundError:
            litellm_version = None
        strata: dict[str, dict[str, int]] = {}
        for it in items:
            for col, val in it.strata.items():
                strata.setdefault(col, {}).setdefault(val, 0)
                strata[col][val] += 1
        return {
            "run_id": run_id,
            "suite": self.suite.model_dump(mode="json"),
            "status": "running",
            "started_at": now_iso(),
            "finished_at": None,
            "tool_version": __version__,
            "litellm_version": litellm_version,
            "python_version": platform.python_version(),
            "seed": self.suite.seed,
            "dataset_fingerprint": fingerprint,
            "item_count": len(items),
            "strata_counts": strata,
            "configs": [
                {
                    "name": c.name,
                    "strategy": c.strategy,
                    "model": self.specs[c.name].model,
                    **c.knobs,
                }
                for c in self.suite.configs
            ],
            "baseline": self.suite.baseline,
            # how each config's pools travel: "n" (one request of n choices) or "separate"
            "pool_request": {c.name: pool_mode(self.specs[c.name]) for c in self.suite.configs},
            "simulated": all(s.model.startswith("sim/") for s in self.specs.values()),
            "spent_usd": 0.0,
            "sessions": [],
            **({"shard": self.shard} if self.shard else {}),
        }
