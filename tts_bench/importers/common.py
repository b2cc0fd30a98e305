"""What every importer produces (items with their sample pools), the field-mapping spec, the
scorer choice, and the conversion of one pool into an ordinary `records.jsonl` record.

A reader turns its file into `Source(items=[PoolItem...])`; `build_record` then extracts and
scores every sample with the same `Scorer` a native run uses, votes like the
`self_consistency` strategy (answer identity = `Scorer.key`, random tie-break seeded by
config and item id), and fills the record and its per-sample calls. Unknown cost, latency or
tokens stay null, never 0.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tts_bench.errors import UserError
from tts_bench.scoring import Scorer, label_failure
from tts_bench.scoring.normalize import parse_steps
from tts_bench.scoring.voting import majority
from tts_bench.store import sample_line
from tts_bench.suite import ScorerSpec, read_yaml

SCORER_TYPES = ("exact", "numeric", "choice", "set_f1")
LENGTH_REASONS = {"length", "max_tokens", "model_length", "max_output_tokens"}


@dataclass
class PoolSample:
    """One sample of a pool. `answer` is used (canonicalised) when `has_answer`, else the answer
    is extracted from `text`; `status` other than "ok" marks an infrastructure failure."""

    text: str | None = None
    answer: Any = None
    has_answer: bool = False
    score: float | None = None  # a selector's (judge's) score, if the source had one
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float | None = None
    cost_usd: float | None = None
    status: str = "ok"
    finish_reason: str | None = None


@dataclass
class PoolItem:
    id: str
    target: Any
    samples: list[PoolSample]
    where: str  # "file:line" or "file: sample id" for error messages
    strata: dict[str, str] = field(default_factory=dict)
    cluster: str | None = None
    model: str | None = None


@dataclass
class Source:
    """A parsed input file: its items, the model that produced them (if the file says), a
    suggested config name, and non-fatal remarks."""

    items: list[PoolItem]
    model: str | None = None
    name: str | None = None
    warnings: list[str] = field(default_factory=list)


class ImportSpec(BaseModel):
    """`--spec` YAML: which input fields hold the id, target, samples, strata, cluster, model.

    For `lm-eval` and `inspect` only `strata` and `cluster` apply (looked up in the line's
    `doc`, resp. the sample's `metadata`). `strata: null` (default) reads a `strata` dict."""

    model_config = ConfigDict(extra="forbid")

    id: str = "id"
    target: str = "target"
    samples: str = "samples"
    strata: list[str] | str | None = None
    cluster: str | None = "cluster"
    model: str | None = "model"

    @property
    def strata_cols(self) -> list[str] | None:
        return [self.strata] if isinstance(self.strata, str) else self.strata


def load_spec(path: Path | str | None) -> ImportSpec:
    if path is None:
        return ImportSpec()
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: spec file not found")
    try:
        data = read_yaml(p) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: invalid YAML ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise UserError(f"{p}: a spec must be a mapping like {{id: question_id, target: answer}}")
    try:
        return ImportSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise UserError(f"{p}: {where}: {msg}") from None


def parse_scorer(text: str) -> ScorerSpec:
    """`numeric | exact | choice | set_f1 | regex:PATTERN` -> a ScorerSpec."""
    if text.startswith("regex:"):
        pattern = text[len("regex:") :]
        if not pattern:
            raise UserError("--scorer regex:PATTERN: the pattern is empty")
        return ScorerSpec(type="regex", pattern=pattern)
    if text not in SCORER_TYPES:
        raise UserError(
            f"--scorer {text!r}: expected numeric, exact, choice, set_f1 or regex:PATTERN"
        )
    return ScorerSpec(type=text)  # type: ignore[arg-type]


def with_normalize(spec: ScorerSpec | None, normalize: str | None) -> ScorerSpec | None:
    """`spec` (the default scorer when None) with `--normalize a,b` as its ordered steps
    ("" clears them); `spec` unchanged when `normalize` is None. UserError when bad."""
    if normalize is None:
        return spec
    steps = parse_steps(normalize)
    try:
        return ScorerSpec.model_validate(
            {**(spec or ScorerSpec()).model_dump(), "normalize": steps}
        )
    except ValidationError as exc:
        msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise UserError(f"--normalize {normalize!r}: {msg}") from None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def opt_int(v: Any) -> int | None:
    """A token count, or None when absent or not a number (never an invented 0)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def opt_float(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def finish_reason(v: Any) -> str | None:
    """Provider stop reasons mapped to the harness's: "length" when cut off, else as given."""
    if v is None:
        return None
    s = str(v)
    return "length" if s in LENGTH_REASONS else s


def is_sim_model(model: str | None) -> bool:
    name = (model or "").removeprefix("openai/")
    return name.startswith(("sim/", "sim-"))


def _sum_all(values: list[Any]) -> Any:
    """Sum when every value is known, else None (a partial sum would under-report)."""
    if not values or any(v is None for v in values):
        return None
    return sum(values)


@dataclass
class Built:
    record: dict[str, Any]
    calls: list[dict[str, Any]]


def build_record(
    item: PoolItem, *, config: str, scorer: Scorer, model: str | None, seed: int = 0
) -> Built:
    """The record (and one calls.jsonl line per sample) for one imported pool."""
    target = item.target
    answers: list[str | None] = []
    out_samples: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    simulated = is_sim_model(model)
    memo: dict[str | None, Any] = {}
    seen: dict[str, str | None] = {}
    for i, s in enumerate(item.samples):
        ok = s.status == "ok"
        if not ok:
            ans = None
        elif s.has_answer:
            ans = None if s.answer is None else scorer.canonical(s.answer)
        else:
            text = s.text or ""
            ans = seen[text] if text in seen else seen.setdefault(text, scorer.extract(text))
        if not ok:
            scored = None
        elif ans in memo:  # a pool repeats few answers: score each one once
            scored = memo[ans]
        else:
            scored = memo[ans] = scorer.score(ans, target)
        answers.append(ans)
        out_samples.append(sample_line(ans, scored, s))
        calls.append(
            {
                "item_id": item.id,
                "config": config,
                "role": "sample",
                "sample_index": i,
                "model": model,
                "input_tokens": s.input_tokens,
                "output_tokens": s.output_tokens,
                "reasoning_tokens": s.reasoning_tokens,
                "cached_tokens": None,
                "cost_usd": s.cost_usd,
                "latency_s": s.latency_s,
                "status": s.status,
                "retries": None,
                "cache_hit": False,
                "finish_reason": s.finish_reason,
                "error": None,
                "simulated": simulated,
                "text": s.text,
            }
        )

    # majority vote, as strategies.parallel.vote: identity = scorer.key, random tie-break
    keys: dict[str, str] = {}

    def key(a: str) -> str:
        return keys[a] if a in keys else keys.setdefault(a, scorer.key(a))

    won = majority(answers, key, random.Random(f"import:{seed}:{config}:{item.id}"))
    chosen = None if won is None else won.index
    confidence: float | None = 0.0 if won is None else won.confidence
    # A pool with a failed sample is not scored, as in a native run (the first failed
    # sample's status names it); the samples that succeeded keep their entries.
    failed = [s for s in item.samples if s.status != "ok"]
    status = failed[0].status if failed else "ok"
    shown = item.samples[chosen] if chosen is not None else item.samples[-1]
    answer = answers[chosen] if chosen is not None and not failed else None
    if failed:
        confidence = None
    scored = None if status != "ok" else scorer.score(answer, target)
    correct = None if scored is None else scored.correct
    failure = label_failure(
        status=status,
        answer=answer,
        text=shown.text or "",
        finish_reason=shown.finish_reason,
        correct=correct,
        confidence=confidence,
        wrong_label=scorer.spec.wrong_label,
    )
    latencies = [s.latency_s for s in item.samples]
    record = {
        "item_id": item.id,
        "config": config,
        "strategy": "imported",
        "model": model,
        "strata": item.strata,
        "cluster": item.cluster,
        "target": scorer.target_text(target),
        "answer": answer,
        "output": shown.text,
        "correct": correct,
        "score": None if scored is None else scored.value,
        "metrics": {} if scored is None else scored.metrics,
        "failure": failure,
        "status": status,
        "cost_usd": _sum_all([s.cost_usd for s in item.samples]),
        # parallel samples: the user waits for the slowest one
        "latency_s": None if any(x is None for x in latencies) else max(latencies),  # type: ignore[type-var]
        "wall_s": None,
        "input_tokens": _sum_all([s.input_tokens for s in item.samples]),
        "output_tokens": _sum_all([s.output_tokens for s in item.samples]),
        "reasoning_tokens": _sum_all([s.reasoning_tokens for s in item.samples]),
        "n_calls": len(item.samples),
        "cache_hits": 0,
        "confidence": confidence,
        "simulated": simulated,
        "info": {"imported": True},
        "samples": out_samples,
    }
    return Built(record, calls)


def check_item(item: PoolItem, scorer: Scorer) -> None:
    """Raise UserError (naming file and line) for a pool that cannot be scored."""
    if not item.samples:
        raise UserError(f"{item.where}: item {item.id!r} has no samples")
    if isinstance(item.target, str) and not item.target.strip():
        raise UserError(f"{item.where}: item {item.id!r}: target is empty")
    problem = scorer.check_target(item.target)
    if problem:
        raise UserError(f"{item.where}: item {item.id!r}: {problem} (scorer: {scorer.type})")
