"""The two provider batch APIs as the batch transport speaks them, over direct HTTP (aiohttp).

- `openai`: `openai/<name>` models, at `api_base` (vLLM-style servers, `sim serve`) or
  `https://api.openai.com/v1`: the requests are uploaded as a JSONL file (`POST /files`,
  `purpose=batch`), submitted (`POST /batches`, `completion_window` `24h`), polled
  (`GET /batches/{id}`) and read back from the output and error files
  (`GET /files/{id}/content`).
- `anthropic`: `anthropic/<name>` models, at `api_base` or `https://api.anthropic.com`:
  `POST /v1/messages/batches`, polled by id, results read from `results_url` (JSONL).

Each request is the body the direct transport would send for the same call (same model name,
messages, temperature, max_tokens and extra params; for Anthropic the system prompt apart and
`thinking_budget` as `thinking`, as litellm sends them), so a batched answer equals a live one.
Why not litellm: its `create_file`/`create_batch`/`retrieve_batch` cover OpenAI and (in
recent versions) Anthropic, but leave the per-request JSONL bodies, the result parsing and
the error shapes to the caller, and importing it costs seconds; these two small HTTP
protocols are less code than the adapter would be, and every byte on the wire is ours to test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from tts_bench.errors import UserError
from tts_bench.llm.backends.base import CallError, Reply, clip, mean_logprob, usage_from_openai
from tts_bench.llm.errors import body_text, classify_http
from tts_bench.llm.types import ModelSpec, Usage

OPENAI_BASE = "https://api.openai.com/v1"
ANTHROPIC_BASE = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
# Params that steer a transport or the harness; never sent in a request body.
_NOT_BODY = {"api_base", "transport", "extra_headers", "api_key", "timeout", "num_retries"}
_NOT_BODY |= {"stream", "stream_options"}
_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}
_STOP["refusal"] = "content_filter"


def dialect(spec: ModelSpec) -> str:
    """ "openai" or "anthropic" for a model that has a batch API here; UserError otherwise."""
    if spec.model.startswith("openai/"):
        return "openai"
    if spec.model.startswith("anthropic/"):
        return "anthropic"
    raise UserError(
        f"model {spec.model}: batch mode needs an openai/... or anthropic/... model "
        "(OpenAI's Batch API or Anthropic's Message Batches); drop `batch` for this config"
    )


@dataclass
class Status:
    """A batch as a poll saw it: ended (answers ready) or failed (no answers will come:
    failed, expired or cancelled; `error` says why)."""

    ended: bool
    failed: bool = False
    error: str = ""


Outcomes = dict[str, "Reply | CallError"]


class BatchWire:
    """One dialect at one address. session: an aiohttp session; spec: any spec of the
    batch's group (model, api_base, extra_headers); api_key: the key, or None."""

    def __init__(self, session: aiohttp.ClientSession, spec: ModelSpec, api_key: str | None):
        self.kind = dialect(spec)
        self.session = session
        default = OPENAI_BASE if self.kind == "openai" else ANTHROPIC_BASE
        base = spec.params.get("api_base")
        if isinstance(base, list):  # replicas of one model: a batch goes to the first
            base = base[0] if base else None
        self.base = str(base or default).rstrip("/")
        if self.kind == "anthropic":
            self.base = self.base.removesuffix("/v1")
        headers = dict(spec.params.get("extra_headers") or {})
        if self.kind == "openai":
            if api_key:
                headers["Authorization"] = f"Bearer {api_key}"
        else:
            headers["x-api-key"] = api_key or ""
            headers["anthropic-version"] = ANTHROPIC_VERSION
        self.headers = headers

    # -- requests ---------------------------------------------------------------------------
    def body(self, spec: ModelSpec, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The request body of one call, as the direct transport would send it."""
        name = spec.model.split("/", 1)[1]
        extra = {k: v for k, v in spec.params.items() if k not in _NOT_BODY}
        if self.kind == "openai":
            base = {"model": name, "messages": messages}
            base |= {"temperature": spec.temperature, "max_tokens": spec.max_tokens}
            return {**base, **extra}
        system = "\n".join(m["content"] for m in messages if m.get("role") == "system")
        chat = [m for m in messages if m.get("role") != "system"]
        body = {"model": name, "max_tokens": spec.max_tokens, "messages": chat}
        body["temperature"] = spec.temperature
        if system:
            body["system"] = system
        budget = extra.pop("thinking_budget", None)
        if budget is not None and "thinking" not in extra:  # as litellm sends it live
            body["thinking"] = {"type": "enabled", "budget_tokens": int(budget)}
        return {**body, **extra}

    async def submit(self, requests: list[tuple[str, dict[str, Any]]]) -> str:
        """Submit (custom_id, body) pairs as one batch; its id. CallError on refusal."""
        if self.kind == "anthropic":
            rows = [{"custom_id": cid, "params": body} for cid, body in requests]
            data = await self._json("POST", "/v1/messages/batches", json={"requests": rows})
            return str(data["id"])
        lines = [
            json.dumps(
                {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": b}
            )
            for cid, b in requests
        ]
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", ("\n".join(lines) + "\n").encode(), filename="batch.jsonl")
        uploaded = await self._json("POST", "/files", data=form)
        body = {"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions"}
        body["completion_window"] = "24h"
        data = await self._json("POST", "/batches", json=body)
        return str(data["id"])

    async def poll(self, batch_id: str) -> tuple[Status, dict[str, Any]]:
        """(status, the provider's batch object)."""
        if self.kind == "anthropic":
            data = await self._json("GET", f"/v1/messages/batches/{batch_id}")
            return Status(data.get("processing_status") == "ended"), data
        data = await self._json("GET", f"/batches/{batch_id}")
        state = data.get("status")
        if state in ("failed", "expired", "cancelled"):
            return Status(False, True, f"batch {batch_id} {state}: {data.get('errors')}"), data
        return Status(state == "completed"), data

    async def results(self, batch_id: str, polled: dict[str, Any]) -> Outcomes:
        """custom_id → Reply (answered) or CallError (errored), for an ended batch."""
        out: Outcomes = {}
        if self.kind == "anthropic":
            url = polled.get("results_url") or f"{self.base}/v1/messages/batches/{batch_id}/results"
            for row in _jsonl(await self._raw("GET", url)):
                out[str(row.get("custom_id"))] = _anthropic_result(row.get("result") or {})
            return out
        for name in ("output_file_id", "error_file_id"):
            file_id = polled.get(name)
            if file_id:
                for row in _jsonl(await self._raw("GET", f"{self.base}/files/{file_id}/content")):
                    out[str(row.get("custom_id"))] = _openai_result(row)
        return out

    # -- HTTP ---------------------------------------------------------------------------------
    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        raw = await self._raw(method, self.base + path, **kw)
        try:
            data = json.loads(raw)
        except ValueError:
            raise CallError("malformed", f"{path}: response is not JSON") from None
        if not isinstance(data, dict):
            raise CallError("malformed", f"{path}: response is not a JSON object")
        return data

    async def _raw(self, method: str, url: str, **kw: Any) -> bytes:
        try:
            async with self.session.request(method, url, headers=self.headers, **kw) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    status = classify_http(resp.status, raw).status
                    raise CallError(status, f"HTTP {resp.status}: {clip(body_text(raw))}")
                return raw
        except aiohttp.ClientError as exc:
            raise CallError("connection_error", f"{type(exc).__name__}: {exc}") from None


def _jsonl(raw: bytes) -> list[dict[str, Any]]:
    rows = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a torn line: its request is missing, so it errors and is retried
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _openai_result(row: dict[str, Any]) -> Reply | CallError:
    response = row.get("response")
    if not isinstance(response, dict):
        error = row.get("error") or {}
        return CallError("server_error", f"batch request failed: {clip(str(error))}")
    code = int(response.get("status_code") or 500)
    body = response.get("body")
    if code >= 400 or not isinstance(body, dict):
        text = json.dumps(body) if body is not None else ""
        return CallError(classify_http(code, text).status, f"HTTP {code}: {clip(text)}")
    choices = body.get("choices") or []
    if not choices or not isinstance(choices[0].get("message"), dict):
        return CallError("malformed", "batch response has no choices")
    usage, known = usage_from_openai(body.get("usage"))
    choice = choices[0]
    return Reply(
        text=choice["message"].get("content") or "",
        finish_reason=choice.get("finish_reason"),
        usage=usage,
        usage_known=known,
        logprob=mean_logprob(choice),
    )


def _anthropic_result(result: dict[str, Any]) -> Reply | CallError:
    kind = result.get("type")
    if kind != "succeeded":
        inner = ((result.get("error") or {}).get("error")) or {}
        text = json.dumps(inner)
        code = {"rate_limit_error": 429, "overloaded_error": 529, "api_error": 500}
        code |= {"authentication_error": 401, "not_found_error": 404}
        status = code.get(str(inner.get("type")), 400 if kind == "errored" else 500)
        label = classify_http(status, text).status
        return CallError(label, f"batch request {kind}: {clip(text)}")
    msg = result.get("message") or {}
    usage_raw = msg.get("usage") or {}
    text = "".join(b.get("text", "") for b in msg.get("content") or [] if b.get("type") == "text")
    thinking = int((usage_raw.get("output_tokens_details") or {}).get("thinking_tokens") or 0)
    read = int(usage_raw.get("cache_read_input_tokens") or 0)
    written = int(usage_raw.get("cache_creation_input_tokens") or 0)
    usage = Usage(
        input_tokens=int(usage_raw.get("input_tokens") or 0) + read + written,
        output_tokens=max(int(usage_raw.get("output_tokens") or 0) - thinking, 0),
        reasoning_tokens=thinking,
        cached_tokens=read,
        cache_write_tokens=written,
    )
    reason = _STOP.get(str(msg.get("stop_reason")), msg.get("stop_reason"))
    return Reply(text=text, finish_reason=reason, usage=usage, usage_known=bool(usage_raw))
