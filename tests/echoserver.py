"""A scripted OpenAI-compatible endpoint on 127.0.0.1 for error-path tests.

The requested model name picks the answer, so one server serves every case:
- `echo-<code>`: HTTP <code> whose error body echoes the Authorization header and the bare
  key (what a careless proxy does);
- `endless`: 200 with a body streamed forever (no Content-Length);
- `huge-length`: 200 announcing a Content-Length of 10 GB;
- `big-<n>`: 200 with a body of n bytes, streamed in chunks;
- a name in `ScriptedServer.scripts`: that (status, body, headers);
- anything else: a small valid completion.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web

OK_BODY = {
    "id": "x",
    "object": "chat.completion",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
}
_CHUNK = b" " * 65536


class ScriptedServer:
    """with ScriptedServer() as srv: srv.url ("http://127.0.0.1:<port>/v1"), srv.hits (the
    model names requested, in arrival order), srv.scripts[name] = (status, body, headers)."""

    def __init__(self) -> None:
        self.scripts: dict[str, tuple[int, Any, dict[str, str]]] = {}
        self.hits: list[str] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="scripted-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model", "")).removeprefix("openai/")
        self.hits.append(model)
        auth = request.headers.get("Authorization", "")
        if model in self.scripts:
            status, payload, headers = self.scripts[model]
            text = payload if isinstance(payload, str) else json.dumps(payload)
            return web.Response(
                status=status, text=text, content_type="application/json", headers=headers
            )
        if model.startswith("echo-"):
            key = auth.removeprefix("Bearer ")
            what = "Incorrect API key provided" if model == "echo-401" else "Upstream failed"
            message = f"{what}: {key} (header was {auth!r})"
            error = {"message": message, "type": "invalid_request_error", "code": key}
            return web.json_response({"error": error}, status=int(model[5:]))
        if model == "huge-length":
            resp = web.StreamResponse(headers={"Content-Length": str(10 * 1024**3)})
            await resp.prepare(request)
            await resp.write(_CHUNK)
            return resp
        if model == "endless" or model.startswith("big-"):
            left = int(model[4:]) if model.startswith("big-") else None
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            try:
                while left is None or left > 0:
                    chunk = _CHUNK if left is None else _CHUNK[: min(left, len(_CHUNK))]
                    await resp.write(chunk)
                    if left is not None:
                        left -= len(chunk)
            except (ConnectionError, RuntimeError):
                pass  # the client hung up, as it should
            return resp
        return web.json_response(OK_BODY)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._chat)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        asyncio.run(main())

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("scripted server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
