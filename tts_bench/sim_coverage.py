"""How many of a suite's prompts the simulated models recognised as a built-in task.

The simulator solves only its built-in tasks; to any other question it writes an answer it
could not have worked out, so a suite of the user's own questions scores near 0% and every
verdict on it is noise. The in-process backend counts, per model, the distinct prompts it
was sent and those it recognised (`SimBackend.coverage`); `record` keeps the counts in the
manifest's `sim_recognised` field ({model: {"recognised": r, "seen": n}}, summed over the
sessions of a resumed run) and words the run's warning; `unsolved` words the report's.

Cache hits never reach the backend: `watch` counts them as they are replayed, with the
simulator's own look-up (`sim.model.recognises`), so a rerun served from the cache warns too.
"""

from __future__ import annotations

from typing import Any

FIELD = "sim_recognised"
HINT = "simulated models only solve the built-in tasks"


def record(manifest: dict[str, Any], coverage: dict[str, dict[str, int]]) -> list[str]:
    """Add this session's counts to `manifest[FIELD]`; one warning per model that did not
    recognise every prompt it was sent (over the whole run)."""
    if not coverage:
        return []
    kept = manifest.setdefault(FIELD, {})
    for model, c in coverage.items():
        old = kept.get(model) or {}
        kept[model] = {
            "recognised": int(old.get("recognised", 0)) + int(c["recognised"]),
            "seen": int(old.get("seen", 0)) + int(c["seen"]),
        }
    return [_line(m, c) for m, c in sorted(kept.items()) if m in coverage and _short(c)]


def unsolved(manifest: dict[str, Any]) -> list[str]:
    """The report's sentence per simulated model that recognised fewer than half of its
    prompts (most answers guessed: no verdict stands on them); [] otherwise or when the
    manifest has no counts (older runs, imports, live models)."""
    kept = manifest.get(FIELD)
    if not isinstance(kept, dict):
        return []
    out = []
    for model, c in sorted(kept.items()):
        if not isinstance(c, dict):
            continue
        r, n = c.get("recognised"), c.get("seen")
        if isinstance(r, int) and isinstance(n, int) and n > 0 and 2 * r < n:
            out.append(_line(model, c))
    return out


def _short(c: dict[str, int]) -> bool:
    return c["seen"] > 0 and c["recognised"] < c["seen"]


def _line(model: str, c: dict[str, Any]) -> str:
    return f"{model} recognised {c['recognised']} of {c['seen']} prompts: {HINT}"


def watch(client: Any) -> Any:
    """`client` with its cache hits of simulated models counted by its simulator backend."""
    backend = getattr(client, "_backends", {}).get("sim")
    if backend is None or not hasattr(backend, "note"):
        return client
    inner = client.generate

    async def generate(spec: Any, messages: Any, *, sample_index: int = 0) -> Any:
        out = await inner(spec, messages, sample_index=sample_index)
        if out.cache_hit and out.simulated:
            from tts_bench.sim.model import recognises

            backend.note(spec.model, messages, recognises(messages))
        return out

    client.generate = generate
    return client


def of(client: Any) -> dict[str, dict[str, int]]:
    """The counts of `client`'s in-process simulator ({} when it has none)."""
    backend = getattr(client, "_backends", {}).get("sim")
    return backend.coverage() if backend is not None and hasattr(backend, "coverage") else {}
