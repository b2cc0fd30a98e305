"""`ServerThread`: the simulator server on a background thread with its own event loop, for
tests and notebooks that need a real OpenAI-compatible endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # server.py re-exports this class, so import it lazily at run time
    from tts_bench.sim.server import Hit, SimServer


class ServerThread:
    """The server on a background thread with its own event loop (tests, notebooks).

    with ServerThread(time_scale=0, faults={"429": 0.1}, rpm=600, tpm=100_000) as srv:
        srv.url  # "http://127.0.0.1:<port>/v1";  srv.log: the requests seen

    Options are `serve`'s: time_scale, faults, seed and ServerConfig's fields (retry_after_s,
    slow_s, profiles, rpm, tpm, burst, api_keys).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.host = host
        self._port = port
        self._options = options
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.server: SimServer | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="sim-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def log(self) -> list[Hit]:
        assert self.server is not None
        return self.server.log

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(server: SimServer, bound: int) -> None:
                self.server, self.port = server, bound
                self._ready.set()

            from tts_bench.sim.server import serve

            await serve(self.host, self._port, ready=ready, stop=self._stop, **self._options)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._ready.set()

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"simulator server did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
