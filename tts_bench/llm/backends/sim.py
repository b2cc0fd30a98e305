"""In-process simulator backend for `sim/...` models: no HTTP, no litellm, no sleeping
(unless `sim_time_scale` asks for it).
The reply carries the simulated latency, which the client reports as the call's latency.
With `stream: true` it also carries the simulated time to first token: the time at which
`sim serve` would send the first chunk with text (sim/wire.py `schedule`), or, for an empty
answer, its finish chunk, as the HTTP transports measure it."""

from __future__ import annotations

import asyncio

from tts_bench.llm.backends.base import Reply, wants_stream
from tts_bench.llm.types import ModelSpec, Usage


class SimBackend:
    """seed: the run seed; profiles: the suite's extra simulator profiles.

    `coverage()` tells, per model, how many distinct prompts (last messages) it was sent and
    how many of them it recognised as a built-in task: a suite of other questions gets
    answers the simulator could not solve, and a run says so rather than score them."""

    def __init__(self, seed: int, profiles: dict[str, dict] | None) -> None:
        self.seed = seed
        self.profiles = profiles
        self._seen: dict[str, dict[int, bool]] = {}  # model -> {hash(prompt): recognised}

    def note(self, model: str, messages: list[dict[str, str]], recognised: bool) -> None:
        """Count one answered prompt of `model` (a replayed one too: see sim_coverage)."""
        if messages:
            prompt = hash(str(messages[-1].get("content", "")))
            self._seen.setdefault(model, {})[prompt] = recognised

    def coverage(self) -> dict[str, dict[str, int]]:
        """{model: {"recognised": r, "seen": n}} over the prompts this backend answered."""
        return {m: {"recognised": sum(p.values()), "seen": len(p)} for m, p in self._seen.items()}

    async def call(
        self,
        spec: ModelSpec,
        messages: list[dict[str, str]],
        *,
        sample_index: int,
        n: int,
        timeout_s: float,
        api_key: str | None,
    ) -> list[Reply]:
        from tts_bench import sim

        stream = wants_stream(spec)
        replies = []
        for i in range(n):
            out = sim.simulate(
                spec.model,
                messages,
                temperature=spec.temperature,
                max_tokens=spec.max_tokens,
                sample_index=sample_index + i,
                seed=self.seed,
                params=spec.params,
                profiles=self.profiles,
            )
            self.note(spec.model, messages, out.recognised)
            replies.append(
                Reply(
                    text=out.text,
                    finish_reason=out.finish_reason,
                    usage=Usage(
                        input_tokens=int(out.input_tokens),
                        output_tokens=int(out.output_tokens),
                        reasoning_tokens=int(out.reasoning_tokens),
                    ),
                    latency_s=float(out.latency_s),
                    ttft_s=_first_token_s(out) if stream else None,
                )
            )
        # `sim_time_scale: x` in a suite's defaults makes the in-process simulator really wait
        # x times its simulated latency (0 = answer at once), e.g. to watch a run progress.
        scale = float(spec.params.get("sim_time_scale") or 0.0)
        if scale > 0 and replies:
            await asyncio.sleep(scale * max(r.latency_s or 0.0 for r in replies))
        return replies

    async def aclose(self) -> None:
        return None


def _first_token_s(out: object) -> float:
    """When `sim serve` would stream this answer's first text (its finish when empty)."""
    from tts_bench.sim.wire import schedule

    events = schedule([out])
    return float(next((at for at, _, delta, _ in events if delta.get("content")), events[-1][0]))
