"""Plain data passed between strategies, the LLM client and the store.

`Completion` is what a strategy gets back from `Context.generate()`; `CallRecord` is the
line written to `calls.jsonl` (design.md). A failed call is data (status != "ok"), not an
exception: strategies check `completion.ok`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Call status labels (llm.errors maps provider errors to them; docs/providers.md). "ok" is the
# only success. Every other label means no model answer: the record is unscored, never wrong.
CALL_STATUSES = (
    "ok",
    "rate_limited",
    "timeout",
    "server_error",
    "bad_request",
    "malformed",
    "connection_error",
    "api_error",
    "auth_error",
    "not_found",
    "context_overflow",  # the prompt does not fit the model's context window
    "content_filter",  # the provider's content policy rejected the request
)

# Errors that will repeat on every call of a config (a missing or rejected key, a model the
# provider does not know): the runner stops scheduling that config after the first one.
FATAL_STATUSES = frozenset({"auth_error", "not_found"})


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0  # visible output tokens, reasoning excluded
    reasoning_tokens: int = 0  # hidden thinking tokens (billed as output)
    cached_tokens: int = 0  # input tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # input tokens written to the prompt cache (Anthropic)


@dataclass
class ModelSpec:
    """Which model to call and how. `params` holds any extra litellm keyword
    (api_base, reasoning_effort, thinking_budget, top_p, ...). The key itself is never
    stored: `api_key_env` names the environment variable read at call time. `api_base` may
    be a list of replicas of one model (llm/replicas.py)."""

    model: str
    temperature: float = 0.0
    max_tokens: int = 512
    api_key_env: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    # How a parallel pool travels (llm/pooling.py): "auto", "n" (one request of n choices) or
    # "separate" (one request per sample). Not a request parameter: not in the cache key.
    # A suite's configs get the suite's knob (default "auto"); a spec built by hand draws
    # one request per call unless it asks.
    pool_request: str = "separate"
    # Sent in a provider batch (llm/transports/batch.py) instead of one request at a time.
    batch: bool = False

    def with_(self, **changes: Any) -> ModelSpec:
        data = asdict(self)
        extra = {k: v for k, v in changes.items() if k not in data}
        data.update({k: v for k, v in changes.items() if k in data})
        data["params"] = {**data["params"], **extra}
        return ModelSpec(**data)


@dataclass
class Completion:
    """One model response (or the failure to get one)."""

    text: str
    finish_reason: str | None  # "stop" | "length" | None on failure
    usage: Usage
    cost_usd: float | None  # None when the price is unknown; never an invented 0
    latency_s: float  # the provider's own latency (simulated for sim/*)
    status: str = "ok"
    retries: int = 0
    cache_hit: bool = False
    error: str | None = None
    model: str = ""
    simulated: bool = False
    logprob: float | None = None  # mean token log-probability when the provider gives it
    ttft_s: float | None = None  # time to first token, streamed calls only
    # The request that drew this completion (llm/pooling.py): how many choices it asked for
    # (1: a request of its own) and an id its choices share (None for a request of its own).
    request_n: int = 1
    request_id: str | None = None
    endpoint: str | None = None  # the replica that answered (api_base as a list; no credentials)
    # Batched calls only: seconds from entering the batch queue to the answer (latency_s is
    # then the answering batch's turnaround: queue time, not model latency). None otherwise.
    queue_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class CallRecord:
    """One line of calls.jsonl."""

    item_id: str
    config: str
    role: str  # sample | judge | critique | refine | classify | expand | value | ...
    sample_index: int
    model: str
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    cost_usd: float | None
    latency_s: float
    status: str
    retries: int
    cache_hit: bool
    finish_reason: str | None = None
    error: str | None = None
    simulated: bool = False
    text: str | None = None  # raw output, kept for the report's item explorer
    cache_write_tokens: int = 0  # input tokens written to the prompt cache (Anthropic)
    ttft_s: float | None = None  # time to first token, streamed calls only
    # When the call started on its request's virtual clock (the critical-path time of the
    # calls before it); None when the caller did not say. records.py finds the critical path
    # from it.
    started_s: float | None = None
    request_n: int = 1  # choices of the request that drew this call (1: its own request)
    request_id: str | None = None  # shared by the choices of one `n` request
    endpoint: str | None = None  # the replica that served it (api_base as a list; no credentials)
    queue_s: float | None = None  # batched calls: the whole wait for the answer

    @classmethod
    def from_completion(
        cls,
        c: Completion,
        *,
        item_id: str,
        config: str,
        role: str,
        sample_index: int,
        started_s: float | None = None,
    ) -> CallRecord:
        return cls(
            item_id=item_id,
            config=config,
            role=role,
            sample_index=sample_index,
            model=c.model,
            input_tokens=c.usage.input_tokens,
            output_tokens=c.usage.output_tokens,
            reasoning_tokens=c.usage.reasoning_tokens,
            cached_tokens=c.usage.cached_tokens,
            cost_usd=c.cost_usd,
            latency_s=c.latency_s,
            status=c.status,
            retries=c.retries,
            cache_hit=c.cache_hit,
            finish_reason=c.finish_reason,
            error=c.error,
            simulated=c.simulated,
            text=c.text,
            cache_write_tokens=c.usage.cache_write_tokens,
            ttft_s=c.ttft_s,
            started_s=started_s,
            request_n=c.request_n,
            request_id=c.request_id,
            endpoint=c.endpoint,
            queue_s=c.queue_s,
        )
