"""Response cache: SQLite in WAL mode, one row per (model, messages, params, sample index).

Only successful responses are stored. A hit returns the original cost, latency and time to
first token (`ttft_s`) so cached runs report what the live call cost and how long it took; the
client flags it `cache_hit`. `stream` is a request parameter like any other, so a streamed
call and a plain one have rows of their own (only the streamed one has a time to first token). Each write commits at
once, so a SIGKILL loses at most the call in flight. Keys and secrets never enter the cache:
the key hashes only the request content, and the stored value holds only the response.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tts_bench.errors import UserError
from tts_bench.llm.types import Completion, Usage

# Parameters that select a transport or carry credentials; they never change the response
# and must never be written anywhere.
_KEY_EXCLUDED = {"api_key", "transport", "extra_headers", "timeout"}


def cache_key(
    model: str,
    messages: list[dict[str, str]],
    temperature: float,
    max_tokens: int,
    params: dict[str, Any],
    sample_index: int,
    extra: Any = None,
) -> str:
    """sha256 over the request content. `extra` carries backend inputs such as the simulator
    seed and profile, which change the response without being request parameters."""
    clean = {k: v for k, v in params.items() if k not in _KEY_EXCLUDED}
    blob = json.dumps(
        [model, messages, float(temperature), int(max_tokens), clean, int(sample_index), extra],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """SQLite-backed map from cache key to a successful Completion."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable against process kills
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY, model TEXT NOT NULL, value TEXT NOT NULL,"
                " created REAL NOT NULL)"
            )
            self._db.commit()
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot open response cache: {exc}") from None
        self._lock = threading.Lock()

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        data["usage"] = Usage(**data["usage"])
        return Completion(**data)

    def put(self, key: str, completion: Completion) -> None:
        if not completion.ok:
            return
        data = asdict(completion)
        # Per-call bookkeeping is not part of the response.
        for name in ("retries", "cache_hit", "error", "status", "endpoint"):
            data.pop(name, None)
        value = json.dumps(data, ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, model, value, created) VALUES (?, ?, ?, ?)",
                (key, completion.model, value, time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
