"""The judge scorer (`scorer: {type: judge}`): an LLM grades each open-ended answer.

    scorer:
      type: judge
      model: sim/judge            # or a list of models: an odd panel, one verdict each
      rubric: "Pass if the reply ..."
      scale: pass_fail            # or "1-5", or a list of labels
      pass_at: 4                  # 1-5: the lowest passing score
      pass_labels: [good]         # labels: the passing ones (default the first label)
      reference: answer           # dataset field with a reference answer, or null
      judges: 3                   # odd: sample indices 0..k-1 of one model (temperature > 0)
      temperature: 0.7            # the judge call's (default 0 for one judge, 0.7 for several)
      max_tokens: 256

The judge sees the rendered question, the rubric, the reference (if any) and the answer; the
configs never see the rubric or the reference. Each judge ends its reply with
`Verdict: <label>`. A reply without a readable verdict is asked again at the next sample
index (`REASK` times at most); a judge call that fails after the client's retries, or keeps
answering without a verdict, makes the record `judge_error`: unscored, never wrong, judged
again on resume (succeeded judge calls replay from the cache for free).

What the record gets (`judge_record`): `correct` (the panel's verdict), `score` (the judges'
mean verdict on 0..1), `info.judge` (label, votes, scale, judges) and the evaluation cost
(`eval_cost_usd`, `eval_calls`, `eval_input_tokens`, `eval_output_tokens`) kept apart from
the serving cost `cost_usd`. Judge calls go to calls.jsonl with role `eval_judge`.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
from dataclasses import dataclass, field
from typing import Any

ROLE = "eval_judge"
HEADER = "You are an impartial grader. Grade the answer to the problem against the rubric."
REASK = 2  # extra calls per judge when its reply holds no readable verdict
JUDGE_KEYS = (
    "model",
    "rubric",
    "scale",
    "pass_at",
    "pass_labels",
    "reference",
    "judges",
    "temperature",
    "max_tokens",
    "api_key_env",
    "api_base",
)
PANEL_TEMPERATURE = 0.7  # default for several judges of one model: they must be able to differ
_VERDICT = re.compile(r"verdict\s*[:=\-]\s*\**\s*([^\n*]+)", re.I)
_PASS_WORDS = {"pass": "pass", "passed": "pass", "fail": "fail", "failed": "fail"}


# ---- the suite's settings ----------------------------------------------------------------
def check_spec(spec: Any) -> None:
    """ScorerSpec's rules for the judge keys; ValueError with one line (pydantic reports it)."""
    # a key counts as given when it differs from its default: a run's manifest re-reads the
    # suite with every default written out
    given = {k for k in JUDGE_KEYS if getattr(spec, k) != type(spec).model_fields[k].default}
    if spec.type != "judge":
        stray = [k for k in JUDGE_KEYS if k in given]
        if stray:
            raise ValueError(f"{stray[0]} applies to `type: judge` only")
        return
    if not spec.model or (isinstance(spec.model, list) and not all(spec.model)):
        raise ValueError("type: judge needs `model` (a judge model, or a list of them)")
    if not (spec.rubric or "").strip():
        raise ValueError("type: judge needs a `rubric` (what a passing answer does)")
    if isinstance(spec.scale, list):
        labels = [str(x).strip() for x in spec.scale]
        if len(labels) < 2 or len({x.casefold() for x in labels}) != len(labels) or "" in labels:
            raise ValueError("scale: a list of labels needs at least two distinct labels")
        unknown = [x for x in spec.pass_labels or [] if x.casefold() not in _folded(labels)]
        if unknown:
            raise ValueError(f"pass_labels: {unknown[0]!r} is not one of the scale's labels")
    elif spec.pass_labels is not None:
        raise ValueError("pass_labels applies to a scale given as a list of labels")
    if "pass_at" in given and spec.scale != "1-5":
        raise ValueError('pass_at applies to scale: "1-5"')
    if spec.extract not in ("auto", "raw", "final_line"):
        raise ValueError("extract: a judged answer is the reply (auto, raw or final_line)")
    if isinstance(spec.model, list):
        if len(spec.model) % 2 == 0:
            raise ValueError(f"model: a panel needs an odd number of judges, got {len(spec.model)}")
        if spec.judges is not None and spec.judges != len(spec.model):
            raise ValueError("judges: with a list of models, one judge per model (leave it out)")
        return
    k = spec.judges or 1
    if k % 2 == 0:
        raise ValueError(f"judges: must be odd so the vote has a majority, got {k}")
    if k > 1 and spec.temperature == 0:
        raise ValueError("judges: several judges at temperature 0 give one verdict k times")


def _folded(labels: list[str]) -> list[str]:
    return [x.casefold() for x in labels]


@dataclass
class Verdicts:
    """A panel's result. votes: each judge's label; label: the panel's; correct, score:
    as written to the record; calls: every judge call (CallRecords, re-asks included);
    error: the status that made it a judge_error, else None."""

    votes: list[str] = field(default_factory=list)
    label: str | None = None
    correct: bool | None = None
    score: float | None = None
    calls: list[Any] = field(default_factory=list)
    error: str | None = None


class Judge:
    """One suite's judge: prompt, verdict parsing, panel and vote (see the module docstring)."""

    def __init__(self, spec: Any, target_field: str = "answer") -> None:
        from tts_bench.llm.types import ModelSpec

        self.spec = spec
        self.target_field = target_field
        self.labels: list[str] = (
            ["pass", "fail"]
            if spec.scale == "pass_fail"
            else ["1", "2", "3", "4", "5"]
            if spec.scale == "1-5"
            else [str(x).strip() for x in spec.scale]
        )
        models = spec.model if isinstance(spec.model, list) else [spec.model]
        k = len(models) if isinstance(spec.model, list) else (spec.judges or 1)
        temp = spec.temperature
        if temp is None:
            temp = PANEL_TEMPERATURE if k > 1 and not isinstance(spec.model, list) else 0.0
        params = {"api_base": spec.api_base} if spec.api_base else {}

        def model_spec(m: str) -> ModelSpec:
            return ModelSpec(m, temp, spec.max_tokens, spec.api_key_env, dict(params))

        # one model: sample indices 0..k-1; a list of models: index 0 of each
        self.panel = (
            [(model_spec(m), 0) for m in models]
            if isinstance(spec.model, list)
            else [(model_spec(models[0]), i) for i in range(k)]
        )

    @property
    def scale(self) -> str | list[str]:
        return self.spec.scale if isinstance(self.spec.scale, str) else list(self.labels)

    # ---- the prompt and the verdict --------------------------------------------------------
    def instruction(self) -> str:
        if self.spec.scale == "pass_fail":
            what = "'Verdict: pass' if the answer meets the rubric, else 'Verdict: fail'"
        elif self.spec.scale == "1-5":
            what = "'Verdict: <1-5>' (5 = fully meets the rubric, 1 = not at all)"
        else:
            what = f"'Verdict: <label>' with one label of: {', '.join(self.labels)}"
        return f"Give a short reason, then end with the line {what}."

    def prompt(self, question: str, answer: str, reference: str | None) -> list[dict[str, str]]:
        """The judge's messages: header, problem, rubric, reference (if any), answer."""
        parts = [
            HEADER,
            f"### Problem\n{question.strip()}",
            f"### Rubric\n{self.spec.rubric.strip()}",
        ]
        if reference is not None and str(reference).strip():
            parts.append(f"### Reference\n{str(reference).strip()}")
        parts += [f"### Answer\n{answer.strip()}", f"### Instructions\n{self.instruction()}"]
        return [{"role": "user", "content": "\n".join(parts) + "\n"}]

    def parse(self, text: str) -> str | None:
        """The label of a judge reply's last `Verdict:` line, or None when unreadable."""
        found = _VERDICT.findall(text or "")
        if not found:
            return None
        raw = found[-1].strip().strip(".'\"`").strip()
        if self.spec.scale == "pass_fail":
            return _PASS_WORDS.get(raw.casefold().split(" ")[0].rstrip(".,;"))
        if self.spec.scale == "1-5":
            m = re.match(r"([1-5])(?:\s*/\s*5)?\b", raw)
            return m.group(1) if m else None
        folded = _folded(self.labels)
        low = raw.casefold().rstrip(".,;")
        return self.labels[folded.index(low)] if low in folded else None

    def passes(self, label: str) -> bool:
        if self.spec.scale == "pass_fail":
            return label == "pass"
        if self.spec.scale == "1-5":
            return int(label) >= self.spec.pass_at
        wanted = _folded(self.spec.pass_labels or self.labels[:1])
        return label.casefold() in wanted

    def vote(self, votes: list[str]) -> tuple[str, bool, float]:
        """(panel label, correct, score). pass_fail and labels: the most frequent label, a
        tie going to a failing label, then to the scale's order (so a tie never passes);
        1-5: the median score (the majority whenever there is one). score: the mean of the
        judges' verdicts on 0..1 (1-5 as (v-1)/4; otherwise the share that passes)."""
        if self.spec.scale == "1-5":
            label = str(int(statistics.median_low(int(v) for v in votes)))
            score = math.fsum((int(v) - 1) / 4 for v in votes) / len(votes)
        else:
            order = {lab: i for i, lab in enumerate(self.labels)}
            label = max(
                set(votes),
                key=lambda lab: (votes.count(lab), not self.passes(lab), -order[lab]),
            )
            score = sum(self.passes(v) for v in votes) / len(votes)
        return label, self.passes(label), score

    # ---- the calls -------------------------------------------------------------------------
    async def grade(
        self,
        client: Any,
        *,
        item_id: str,
        config: str,
        question: str,
        answer: str,
        reference: str | None,
    ) -> Verdicts:
        """Ask the panel (concurrently) and vote; see `Verdicts`."""
        messages = self.prompt(question, answer, reference)
        k = len(self.panel)

        async def one(spec: Any, index: int) -> tuple[str | None, str | None, list[Any]]:
            from tts_bench.llm.types import CallRecord

            calls: list[Any] = []
            for attempt in range(REASK + 1):
                at = index + attempt * k  # a re-ask is a new sample, not the cached reply
                done = await client.generate(spec, messages, sample_index=at)
                calls.append(
                    CallRecord.from_completion(
                        done, item_id=item_id, config=config, role=ROLE, sample_index=at
                    )
                )
                if not done.ok:
                    return None, done.status, calls
                label = self.parse(done.text)
                if label is not None:
                    return label, None, calls
            return None, "malformed", calls

        results = await asyncio.gather(*(one(s, i) for s, i in self.panel))
        out = Verdicts(calls=[c for _, _, calls in results for c in calls])
        errors = [err for _, err, _ in results if err is not None]
        if errors:
            out.error = errors[0]
            return out
        out.votes = [str(label) for label, _, _ in results]
        out.label, out.correct, out.score = self.vote(out.votes)
        return out


# ---- the record ----------------------------------------------------------------------------
def eval_cost(calls: list[Any]) -> dict[str, Any]:
    """The evaluation-cost fields of a record from its judge calls (cost None if any call's
    price is unknown; output tokens include the judge's reasoning tokens, billed alike)."""
    costs = [c.cost_usd for c in calls]
    return {
        "eval_cost_usd": None if any(x is None for x in costs) else math.fsum(costs),
        "eval_calls": len(calls),
        "eval_input_tokens": sum(c.input_tokens for c in calls),
        "eval_output_tokens": sum(c.output_tokens + c.reasoning_tokens for c in calls),
    }


def judge_specs(spec: Any) -> list[Any]:
    """The model specs of a judge scorer's panel (`llm.types.ModelSpec`); [] for any other
    scorer."""
    if getattr(spec, "type", None) != "judge":
        return []
    return [model for model, _ in Judge(spec).panel]


def check_key(spec: Any) -> None:
    """UserError when the judge's `api_key_env` names an unset variable (a configuration
    mistake: every judge call would fail alike)."""
    import os

    name = spec.api_key_env
    if name and not os.environ.get(name):
        from tts_bench.errors import UserError

        raise UserError(f"scorer.api_key_env: {name} is not set in the environment")


def reference_of(spec: Any, loaded: Any, target_field: str) -> str | None:
    """The item's reference answer: the `reference` field (the target field works too)."""
    ref = spec.reference
    if ref is None:
        return None
    if ref in loaded.inputs:
        value = loaded.inputs[ref]
    elif ref == target_field:
        value = loaded.target
    else:
        from tts_bench.errors import UserError

        raise UserError(f"scorer.reference: item {loaded.id!r} has no field {ref!r}")
    return None if value is None else str(value)


def check_references(spec: Any, items: list[Any], target_field: str, where: str) -> None:
    """A judge scorer's `reference` field is in every item, found before the first call
    (UserError naming the first item without it); nothing for another scorer or no reference."""
    from tts_bench.errors import UserError

    if getattr(spec, "type", None) != "judge" or spec.reference is None:
        return
    for loaded in items:
        try:
            reference_of(spec, loaded, target_field)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None


async def judge_record(
    record: dict[str, Any], *, suite: Any, loaded: Any, question: str, client: Any
) -> list[Any]:
    """Judge a built record in place (module docstring) and return the judge calls, to be
    written to calls.jsonl with the pair's own. A record that is already unscored (an
    infrastructure failure) is not judged; an answer that is empty fails without a call."""
    from tts_bench.scoring.failures import label_failure

    target_field = suite.dataset.fields.target
    judge = Judge(suite.scorer, target_field)
    check_key(suite.scorer)
    info = record.setdefault("info", {})
    record.update(eval_cost([]))
    if record["status"] != "ok":
        return []
    answer = record.get("answer")
    base = {"scale": judge.scale, "judges": len(judge.panel)}
    if answer is None or not str(answer).strip():
        fail = next(lab for lab in reversed(judge.labels) if not judge.passes(lab))
        info["judge"] = {"label": fail, "votes": [], **base, "skipped": "no answer"}
        record.update(correct=False, score=0.0)
        return []
    got = await judge.grade(
        client,
        item_id=loaded.id,
        config=record["config"],
        question=question,
        answer=str(answer),
        reference=reference_of(suite.scorer, loaded, target_field),
    )
    record.update(eval_cost(got.calls))
    if got.error is not None:
        info["judge"] = {"label": None, "votes": [], **base, "error": got.error}
        record.update(status="judge_error", correct=None, score=None, failure="judge_error")
        return got.calls
    info["judge"] = {"label": got.label, "votes": got.votes, **base}
    record.update(correct=got.correct, score=got.score)
    record["failure"] = label_failure(
        status="ok",
        answer=answer,
        text=record.get("output") or "",
        finish_reason="length" if record.get("failure") == "truncated" else "stop",
        correct=got.correct,
        confidence=record.get("confidence"),
        wrong_label=suite.scorer.wrong_label,
    )
    return got.calls
