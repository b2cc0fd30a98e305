"""In-process simulator backend for `sim/...` models: no HTTP, no litellm, no sleeping.
The reply carries the simulated latency, which the client reports as the call's latency."""

from __future__ import annotations

from tts_bench.llm.backends.base import Reply
from tts_bench.llm.types import ModelSpec, Usage


class SimBackend:
    """seed: the run seed; profiles: the suite's extra simulator profiles."""

    def __init__(self, seed: int, profiles: dict[str, dict] | None) -> None:
        self.seed = seed
        self.profiles = profiles

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
                )
            )
        return replies

    async def aclose(self) -> None:
        return None
