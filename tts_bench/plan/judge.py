"""`plan`'s price of the judge scorer (evaluation cost), kept apart from serving cost.

Per (item, config): one call per judge of the panel (re-asks after an unreadable verdict are
not counted); input: the judge prompt as built for the item (question, rubric, reference)
plus the answer, taken as long as the config's mean output per call; output: `VERDICT_OUT`
tokens (a reason line and the verdict). Priced at the judge model's rates; a judge's hidden
reasoning is not estimated.
"""

from __future__ import annotations

from typing import Any

from tts_bench.plan.estimate import Estimator, Tally, call_cost, call_seconds

VERDICT_OUT = 40


def judge_tallies(est: Estimator, suite: Any, serving: dict[str, Tally]) -> dict[str, Tally]:
    """{config: Tally of its judge calls over the items} for a judged suite, else {}."""
    if suite.scorer.type != "judge":
        return {}
    from tts_bench.scoring.judge import Judge, reference_of

    judge = Judge(suite.scorer, suite.dataset.fields.target)
    out: dict[str, Tally] = {}
    prompts = []
    for it in est.items:
        question = "\n\n".join(str(m["content"]) for m in est.resolved.render(it))
        ref = reference_of(suite.scorer, it, suite.dataset.fields.target)
        prompts.append(judge.prompt(question, "", ref))
    for name, t in serving.items():
        answer = t.out / t.calls if t.calls else 0.0  # tokens of one reply
        total = Tally()
        for spec, _ in judge.panel:
            rate = est.rate(spec.model)
            for msgs in prompts:
                inp = est.counter.count(spec.model, msgs) + answer
                cost = call_cost(rate, round(inp), VERDICT_OUT, 0)
                secs = call_seconds(spec.model, inp, VERDICT_OUT, suite.sim_profiles)
                total.add(Tally(1, inp, VERDICT_OUT, 0, cost, secs))
        out[name] = total
    return out
