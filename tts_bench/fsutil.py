"""Files tts-bench writes: atomically (temp file in the same directory, then rename), and
the one-writer lock of a run directory.

A reader never sees a half-written file: a crash or a full disk leaves either the old file or
the new one, and the temp file is removed when the write fails. The run lock is an OS lock
(`fcntl.flock`) that the kernel releases when the process dies, so a SIGKILL never leaves a
stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tts_bench.errors import UserError

LOCK = ".lock"


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same directory and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    """`atomic_write_bytes` of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


class RunLock:
    """Exclusive lock on a run directory, held while a process writes into it.

    `RunLock(run_dir).acquire()` raises UserError "run DIR is in use (pid N)" when another
    live process holds it. The lock file keeps the holder's pid for that message only; the
    lock itself is the kernel's, never the file's existence."""

    def __init__(self, run_dir: Path | str) -> None:
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise UserError(f"run {self.run_dir} is in use (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(run_dir: Path | str) -> Iterator[RunLock]:
    """`with locked(run_dir):` — hold the run directory's lock for the block."""
    lock = RunLock(run_dir).acquire()
    try:
        yield lock
    finally:
        lock.release()
