"""The batch engine behind `sim serve`'s two batch dialects (sim/batch_openai.py,
sim/batch_anthropic.py): a submitted batch waits, then each of its requests is answered by
the server's own endpoint for that request (`/v1/chat/completions` or `/v1/messages`, over
loopback HTTP), so a request inside a batch meets exactly what it would meet alone: the same
simulated answer, the same injected faults (`fault_rates`, drawn from the seed and the
request), the same errors. A non-2xx answer becomes an errored entry of the batch.

Timeline of a batch (`delay_s`, the server's `batch_delay_s`, `--batch-delay`, read while
a batch waits): created → half the delay → in progress → the other half → its requests run (at most `PARALLEL` at
once) → ended. The sample index of a request is the `-s<N>` suffix of its `custom_id` (the
batch formats have no headers; tts-bench's batch transport writes ids that way), sent as
`X-Sample-Index` as on the chat endpoint.

`submitted_batches` and `submitted_requests` count what clients submitted (tests assert a
resume "submitted nothing new" with them).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

PARALLEL = 64  # requests of one batch answered at once
_INDEX = re.compile(r"-s(\d+)$")


@dataclass
class Outcome:
    """One request's answer: HTTP status and JSON body, or (status 0) a broken connection."""

    custom_id: str
    status: int
    body: Any
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Job:
    """A submitted batch. state: "validating" → "in_progress" → "ended"."""

    id: str
    requests: list[tuple[str, str, dict[str, Any]]]  # (custom_id, path, body)
    created_at: float = field(default_factory=time.time)
    in_progress_at: float | None = None
    ended_at: float | None = None
    state: str = "validating"
    outcomes: list[Outcome] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # a dialect's own fields (file ids)

    @property
    def succeeded(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def errored(self) -> int:
        return len(self.outcomes) - self.succeeded


def sample_index(custom_id: str) -> int:
    """The sample index a custom_id carries (`...-s3` → 3), 0 without one."""
    match = _INDEX.search(custom_id)
    return int(match.group(1)) if match else 0


class BatchJobs:
    """Every batch a server was given. delay_s: seconds from submission to answers."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.jobs: dict[str, Job] = {}
        self.submitted_batches = 0
        self.submitted_requests = 0
        self.files: dict[str, tuple[bytes, str, str]] = {}  # id → (content, purpose, name)
        self._tasks: set[asyncio.Task] = set()

    def submit(
        self,
        prefix: str,
        requests: list[tuple[str, str, dict[str, Any]]],
        base_url: str,
        headers: dict[str, str],
    ) -> Job:
        """Accept a batch and start answering it in the background. base_url: this
        server's own address; headers: the credentials to forward (kept in memory only)."""
        job = Job(f"{prefix}{uuid.uuid4().hex[:24]}", requests)
        self.jobs[job.id] = job
        self.submitted_batches += 1
        self.submitted_requests += len(requests)
        task = asyncio.ensure_future(self._work(job, base_url, headers))
        self._tasks.add(task)  # a reference, or the loop may collect the task
        task.add_done_callback(self._tasks.discard)
        return job

    async def _until(self, job: Job, share: float) -> None:
        """Wait until `share` of the delay has passed since submission; `delay_s` is read
        as it goes, so a test may shorten the wait of a batch already pending."""
        while (left := job.created_at + share * self.delay_s - time.time()) > 0:
            await asyncio.sleep(min(left, 0.05))

    async def _work(self, job: Job, base_url: str, headers: dict[str, str]) -> None:
        import aiohttp

        await self._until(job, 0.5)
        job.state, job.in_progress_at = "in_progress", time.time()
        await self._until(job, 1.0)
        gate = asyncio.Semaphore(PARALLEL)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:

            async def one(custom_id: str, path: str, body: dict[str, Any]) -> Outcome:
                sent = {**headers, "X-Sample-Index": str(sample_index(custom_id))}
                async with gate:
                    try:
                        async with session.post(base_url + path, json=body, headers=sent) as r:
                            raw = await r.read()
                            try:
                                data: Any = json.loads(raw)
                            except ValueError:
                                return Outcome(custom_id, 500, None, "malformed response")
                            return Outcome(custom_id, r.status, data)
                    except aiohttp.ClientError as exc:
                        return Outcome(custom_id, 0, None, f"{type(exc).__name__}")

            job.outcomes = list(await asyncio.gather(*(one(*req) for req in job.requests)))
        job.state, job.ended_at = "ended", time.time()


def jobs_of(server: Any) -> BatchJobs:
    """The server's batch jobs, created on first use (delay: its `batch_delay_s`)."""
    jobs = getattr(server, "batch_jobs", None)
    if jobs is None:
        jobs = server.batch_jobs = BatchJobs(getattr(server.config, "batch_delay_s", 1.0))
    return jobs


def base_url(request: Any) -> str:
    """This server's own address as the client reached it (`http://host:port`)."""
    return f"{request.scheme}://{request.host}"
