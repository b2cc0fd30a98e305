"""`batches.jsonl` in a run directory: every provider batch the run submitted, written
(appended, flushed and fsynced) the moment the provider accepted it and before any poll, so a
run killed while its batches are pending finds them again on `--resume`.

One line per batch: `{"batch_id", "dialect", "model", "submitted_at", "requests":
{custom_id: cache key}}`. A call whose cache key appears in a submitted batch is answered by
polling that batch (the latest line naming the key wins: a request retried in a later batch
is read from that one), never by submitting it again. A torn last line (a kill mid-write) is
skipped: that batch's answers are lost to the run, so its calls are submitted again (the
provider may bill that batch once more; a kill has to land inside one `write` call for it).
No keys or secrets are stored: only ids and request hashes.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BATCHES = "batches.jsonl"


@dataclass(frozen=True)
class Ref:
    """Where a call was sent: its batch and its custom id in it."""

    batch_id: str
    custom_id: str


class BatchJournal:
    """The run directory's batch file. path: `<run_dir>/batches.jsonl`, or None (no file:
    batches are still used, but a killed run cannot find them again)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.sent: dict[str, Ref] = {}  # cache key → where it was last sent
        self.batches: dict[str, dict[str, Any]] = {}  # batch id → its line
        if path is not None and path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a torn last line
                if isinstance(row, dict) and isinstance(row.get("requests"), dict):
                    self._learn(row)

    def _learn(self, row: dict[str, Any]) -> None:
        batch_id = str(row["batch_id"])
        self.batches[batch_id] = row
        for custom_id, key in row["requests"].items():
            self.sent[str(key)] = Ref(batch_id, str(custom_id))

    def recorded(self, key: str) -> Ref | None:
        """Where a call with this cache key was last submitted, or None."""
        return self.sent.get(key)

    def append(self, batch_id: str, dialect: str, model: str, requests: dict[str, str]) -> None:
        """Record a submitted batch (custom_id → cache key), durably, before it is polled."""
        row = {
            "batch_id": batch_id,
            "dialect": dialect,
            "model": model,
            "submitted_at": time.time(),
            "requests": requests,
        }
        self._learn(row)
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
