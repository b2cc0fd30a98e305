"""Test helpers: a deterministic stand-in for the simulator and a tiny fixed-delay
OpenAI-compatible server, so client tests depend on neither the simulator's behaviour nor
the network."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class FakeOut:
    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    latency_s: float
    recognised: bool = True  # as SimResult: the prompt was one of the built-in tasks


def fake_simulate(
    model: str,
    messages: list[dict[str, str]],
    *,
    temperature: float,
    max_tokens: int,
    sample_index: int,
    seed: int,
    params: dict[str, Any] | None = None,
    profiles: dict[str, dict] | None = None,
) -> FakeOut:
    """Echo-like output that depends on every input that should change it."""
    prompt = " ".join(m["content"] for m in messages)
    key = f"{model}|{prompt}|{temperature}|{sample_index}|{seed}"
    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
    reasoning = 40 if model == "sim/reasoner" else 0
    return FakeOut(
        text=f"Final answer: {tag}",
        finish_reason="stop",
        input_tokens=len(prompt.split()) + 10,
        output_tokens=20,
        reasoning_tokens=reasoning,
        latency_s=0.5 + 0.01 * sample_index,
    )


def fake_price(model: str, profiles: dict[str, dict] | None = None) -> tuple[float, float]:
    return {"sim/small": (0.5, 1.5), "sim/large": (5.0, 15.0), "sim/reasoner": (2.0, 8.0)}[model]


@pytest.fixture
def fake_sim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace tts_bench.sim.simulate/price with the stand-ins above."""
    import tts_bench.sim as sim

    monkeypatch.setattr(sim, "simulate", fake_simulate, raising=False)
    monkeypatch.setattr(sim, "price", fake_price, raising=False)


MESSAGES = [{"role": "user", "content": "What is 2 + 3? End with 'Final answer: <number>'."}]


def limits(**changes: Any) -> Any:
    """Suite limits with test-friendly defaults (short timeouts, few retries)."""
    from tts_bench.suite import Limits

    base = {"concurrency": 8, "timeout_s": 2.0, "retries": 3, "max_retry_wait_s": 5.0}
    return Limits(**{**base, **changes})


@pytest.fixture(scope="module")
def sim_server():
    """The simulator HTTP server on a random free port, answering at once (time_scale 0)."""
    from tts_bench.sim.server import ServerThread

    with ServerThread(time_scale=0.0, slow_s=10.0) as srv:
        yield srv
