"""OpenAI's Batch API on `sim serve`: `POST /v1/files` (multipart, `purpose=batch`, a JSONL
of `{custom_id, method, url, body}`), `POST /v1/batches` (`input_file_id`, `endpoint`
`/v1/chat/completions`, `completion_window` `24h`), `GET /v1/batches/{id}` and
`GET /v1/files/{id}/content`.

A batch goes `validating` → `in_progress` → `completed` (sim/batch_jobs.py runs it, over the
server's `--batch-delay`); `request_counts` are `{total, completed, failed}`. Once completed,
`output_file_id` holds one line per answered request
`{"id": "batch_req_…", "custom_id", "response": {"status_code": 200, "request_id", "body"},
"error": null}` and `error_file_id` one per failed request: an HTTP error keeps its
`response` (status and error body), a broken connection has `response: null` and
`error: {"code": "server_error", "message"}`. Either file id is null when it would be empty,
as on OpenAI. Credentials are checked as on the chat endpoint (401 `invalid_api_key`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tts_bench.sim import openai_errors as oai
from tts_bench.sim.batch_jobs import Job, base_url, jobs_of

if TYPE_CHECKING:
    from tts_bench.sim.server import SimServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ENDPOINT = "/v1/chat/completions"


def routes() -> list[tuple[str, str, Callable[[Any], Handler]]]:
    """(method, path, factory) of every route of this dialect."""
    return [
        ("POST", "/v1/files", upload),
        ("GET", "/v1/files/{file_id}/content", content),
        ("POST", "/v1/batches", create),
        ("GET", "/v1/batches/{batch_id}", retrieve),
    ]


def _refused(server: SimServer, request: web.Request) -> web.Response | None:
    return server._refuse_key(request)


def upload(server: SimServer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (refused := _refused(server, request)) is not None:
            return refused
        try:
            form = await request.post()
        except ValueError as exc:
            return oai.error(400, f"expected a multipart form: {exc}")
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose != "batch":
            return oai.error(400, f"purpose: only 'batch' is supported, got {purpose!r}")
        if upload is None or isinstance(upload, str | bytes | bytearray):
            return oai.error(400, "file: a file part is required")
        data = upload.file.read()
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        jobs_of(server).files[file_id] = (data, "batch", upload.filename or "batch.jsonl")
        return web.json_response(_file_object(file_id, data, "batch", upload.filename))

    return handle


def _file_object(file_id: str, data: bytes, purpose: str, name: str | None) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(data),
        "created_at": int(time.time()),
        "filename": name or "batch.jsonl",
        "purpose": purpose,
    }


def content(server: SimServer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (refused := _refused(server, request)) is not None:
            return refused
        found = jobs_of(server).files.get(request.match_info["file_id"])
        if found is None:
            return oai.error(404, "No such File object", code=None)
        return web.Response(body=found[0], content_type="application/octet-stream")

    return handle


def _lines(data: bytes) -> list[tuple[str, str, dict[str, Any]]]:
    """(custom_id, path, body) of each line of a batch input file; ValueError names the
    first bad line."""
    out, seen = [], set()
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("body"), dict):
            raise ValueError(f"line {n}: expected {{custom_id, method, url, body}}")
        cid = row.get("custom_id")
        if not isinstance(cid, str) or not cid or cid in seen:
            raise ValueError(f"line {n}: custom_id missing or not unique")
        if row.get("method") != "POST" or row.get("url") != ENDPOINT:
            raise ValueError(f"line {n}: only POST {ENDPOINT} is supported")
        seen.add(cid)
        out.append((cid, ENDPOINT, row["body"]))
    if not out:
        raise ValueError("the input file has no requests")
    return out


def create(server: SimServer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (refused := _refused(server, request)) is not None:
            return refused
        try:
            body = await request.json()
            file_id = body["input_file_id"]
        except (ValueError, KeyError, TypeError):
            return oai.error(400, "body must be JSON with input_file_id")
        if body.get("endpoint") != ENDPOINT:
            return oai.error(400, f"endpoint: only {ENDPOINT} is supported")
        if body.get("completion_window") != "24h":
            return oai.error(400, "completion_window: only '24h' is supported")
        jobs = jobs_of(server)
        found = jobs.files.get(file_id)
        if found is None:
            return oai.error(400, f"input_file_id: no such file {file_id!r}")
        try:
            requests = _lines(found[0])
        except (ValueError, UnicodeDecodeError) as exc:
            return oai.error(400, f"input file: {exc}")
        auth = {"Authorization": request.headers.get("Authorization", "")}
        job = jobs.submit("batch_", requests, base_url(request), auth)
        job.extra.update(input_file_id=file_id, metadata=body.get("metadata"))
        return web.json_response(_batch_object(server, job))

    return handle


def retrieve(server: SimServer) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        if (refused := _refused(server, request)) is not None:
            return refused
        job = jobs_of(server).jobs.get(request.match_info["batch_id"])
        if job is None or not job.id.startswith("batch_"):
            return oai.error(404, "No such Batch object", code=None)
        return web.json_response(_batch_object(server, job))

    return handle


def _batch_object(server: SimServer, job: Job) -> dict[str, Any]:
    status = {"validating": "validating", "in_progress": "in_progress"}.get(job.state)
    done = job.state == "ended"
    if done and "output_file_id" not in job.extra:
        _write_files(server, job)
    stamp = lambda t: None if t is None else int(t)  # noqa: E731
    return {
        "id": job.id,
        "object": "batch",
        "endpoint": ENDPOINT,
        "errors": None,
        "input_file_id": job.extra.get("input_file_id"),
        "completion_window": "24h",
        "status": status or "completed",
        "output_file_id": job.extra.get("output_file_id"),
        "error_file_id": job.extra.get("error_file_id"),
        "created_at": int(job.created_at),
        "in_progress_at": stamp(job.in_progress_at),
        "expires_at": int(job.created_at) + 86400,
        "finalizing_at": stamp(job.ended_at),
        "completed_at": stamp(job.ended_at),
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {
            "total": len(job.requests),
            "completed": job.succeeded if done else 0,
            "failed": job.errored if done else 0,
        },
        "metadata": job.extra.get("metadata"),
    }


def _write_files(server: SimServer, job: Job) -> None:
    """The output and error files of an ended batch (an empty one gets no file, None)."""
    out: list[str] = []
    err: list[str] = []
    for o in job.outcomes:
        line: dict[str, Any] = {
            "id": f"batch_req_{uuid.uuid4().hex[:24]}",
            "custom_id": o.custom_id,
        }
        if o.status:
            line["response"] = {
                "status_code": o.status,
                "request_id": uuid.uuid4().hex,
                "body": o.body,
            }
            line["error"] = None
        else:
            line["response"] = None
            line["error"] = {"code": "server_error", "message": o.error or "connection lost"}
        (out if o.ok else err).append(json.dumps(line))
    files = jobs_of(server).files
    for name, rows in (("output_file_id", out), ("error_file_id", err)):
        if rows:
            file_id = f"file-{uuid.uuid4().hex[:24]}"
            data = ("\n".join(rows) + "\n").encode()
            files[file_id] = (data, "batch_output", f"{job.id}_{name[:-8]}.jsonl")
            job.extra[name] = file_id
        else:
            job.extra[name] = None


__all__ = ["routes"]
