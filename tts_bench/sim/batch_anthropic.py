"""Anthropic's Message Batches API on `sim serve`: `POST /v1/messages/batches`
(`{"requests": [{"custom_id", "params"}]}`, each `params` a Messages request),
`GET /v1/messages/batches/{id}` and `GET /v1/messages/batches/{id}/results`.

A batch's `processing_status` is `in_progress` until its requests are answered
(sim/batch_jobs.py, over the server's `--batch-delay`), then `ended` with `ended_at` and
`results_url` set; `request_counts` are `{processing, succeeded, errored, canceled,
expired}`. The results are JSONL, one line per request:
`{"custom_id", "result": {"type": "succeeded", "message": {...}}}` or
`{"custom_id", "result": {"type": "errored", "error": {"type": "error", "error": {"type",
"message"}}}}` (a broken connection is an `api_error`). Credentials are checked as on
`/v1/messages` (401 `authentication_error` without `x-api-key`); custom ids must match
`^[a-zA-Z0-9_-]{1,64}$` and be unique, as on Anthropic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tts_bench.sim.anthropic_wire import error
from tts_bench.sim.batch_jobs import Job, base_url, jobs_of

if TYPE_CHECKING:
    from tts_bench.sim.server import SimServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PATH = "/v1/messages/batches"
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def routes() -> list[tuple[str, str, Callable[[Any], Handler]]]:
    """(method, path, factory) of every route of this dialect."""
    return [
        ("POST", PATH, create),
        ("GET", PATH + "/{batch_id}", retrieve),
        ("GET", PATH + "/{batch_id}/results", results),
    ]


def _refused(server: SimServer, request: web.Request) -> web.Response | None:
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        return error(401, "authentication_error", "x-api-key header is required")
    if "invalid" in key or not server.key_accepted(key):
        return error(401, "authentication_error", "invalid x-api-key")
    return None


def _requests(body: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(custom_id, path, params) of each request; ValueError names the first bad one."""
    rows = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError("requests: at least one request is required")
    out, seen = [], set()
    for i, row in enumerate(rows):
        cid = row.get("custom_id") if isinstance(row, dict) else None
        if not isinstance(cid, str) or not _CUSTOM_ID.match(cid) or cid in seen:
            raise ValueError(f"requests.{i}.custom_id: missing, malformed or not unique")
        if not isinstance(row.get("params"), dict):
            raise ValueError(f"requests.{i}.params: Field required")
        seen.add(cid)
        out.append((cid, "/v1/messages", row["params"]))
    return out


def create(server: SimServer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (refused := _refused(server, request)) is not None:
            return refused
        try:
            requests = _requests(await request.json())
        except ValueError as exc:  # JSON errors included
            return error(400, "invalid_request_error", str(exc))
        forward = {"x-api-key": request.headers["x-api-key"]}
        forward["anthropic-version"] = request.headers.get("anthropic-version", "2023-06-01")
        job = jobs_of(server).submit("msgbatch_", requests, base_url(request), forward)
        return web.json_response(_batch_object(job, request))

    return handle


def _found(server: SimServer, request: web.Request) -> Job | None:
    job = jobs_of(server).jobs.get(request.match_info["batch_id"])
    return job if job is not None and job.id.startswith("msgbatch_") else None


def retrieve(server: SimServer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (refused := _refused(server, request)) is not None:
            return refused
        job = _found(server, request)
        if job is None:
            return error(404, "not_found_error", "message batch not found")
        return web.json_response(_batch_object(job, request))

    return handle


def results(server: SimServer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (refused := _refused(server, request)) is not None:
            return refused
        job = _found(server, request)
        if job is None:
            return error(404, "not_found_error", "message batch not found")
        if job.state != "ended":
            return error(400, "invalid_request_error", "batch results are not available yet")
        lines = [json.dumps({"custom_id": o.custom_id, "result": _result(o)}) for o in job.outcomes]
        return web.Response(
            body=("\n".join(lines) + "\n").encode(), content_type="application/x-jsonl"
        )

    return handle


def _result(outcome: Any) -> dict[str, Any]:
    if outcome.ok:
        return {"type": "succeeded", "message": outcome.body}
    inner = (outcome.body or {}).get("error") if isinstance(outcome.body, dict) else None
    if not isinstance(inner, dict):
        inner = {"type": "api_error", "message": outcome.error or f"HTTP {outcome.status}"}
    return {"type": "errored", "error": {"type": "error", "error": inner}}


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _batch_object(job: Job, request: web.Request) -> dict[str, Any]:
    done = job.state == "ended"
    return {
        "id": job.id,
        "type": "message_batch",
        "processing_status": "ended" if done else "in_progress",
        "request_counts": {
            "processing": 0 if done else len(job.requests),
            "succeeded": job.succeeded if done else 0,
            "errored": job.errored if done else 0,
            "canceled": 0,
            "expired": 0,
        },
        "ended_at": _iso(job.ended_at),
        "created_at": _iso(job.created_at),
        "expires_at": _iso(job.created_at + 86400),
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"{base_url(request)}{PATH}/{job.id}/results" if done else None,
    }


__all__ = ["routes"]
