"""Simulated model profiles: plain data a suite can extend under `sim_profiles:`.

A profile is a flat mapping of knobs (some are small nested mappings). A suite adds one as
`sim_profiles: {tiny: {base: small, plain_step_error: 0.05}}` and calls it `sim/tiny`; every
key must exist in the base profile, so a typo is an error, not a silent no-op.

Knobs (all probabilities are per event, before the temperature / few-shot / effort factors):
- price_input, price_output: $ per million tokens (reasoning tokens billed as output).
- context_window: prompt plus completion tokens the model takes (`sim serve` answers a
  longer request with the provider's context-length error).
- ttft_median_s, ttft_sigma: log-normal time to first token; tokens_per_s, tps_sigma:
  log-normal decode throughput; prefill_tokens_per_s: input processing speed.
- verbosity: multiplies the length of explanatory text (tokens, hence cost and latency).
- plain_step_error, plain_step_growth: arithmetic step i (1-based) of a plain answer is
  wrong with p = plain_step_error + plain_step_growth * (i - 1): working "in its head"
  gets worse the more intermediate values it holds.
- cot_step_error, cot_step_growth: the same when the prompt asks for step-by-step work.
- temperature_error_gain: every error probability is multiplied by (1 + gain * T).
- fewshot_error_factor: multiplier on step errors when worked examples are in the prompt.
- item_hardness_sigma: spread of a per-item log-normal multiplier on step errors (partly
  shared across models), so some items are hard for a model and others easy.
- weak_step_rate, weak_step_error: each step of a problem is, for this model, a weak spot
  with chance weak_step_rate x steps/10 (decided per item, clustered in some items, partly
  shared across models); a weak step's error chance gets weak_step_error added (before the
  scale and hardness factors). Most items have none and are nearly always right; an item
  with weak steps is often wrong in varied ways, so per-item accuracy is bimodal.
- trap_rate: chance (x (steps/10)^1.5) that an item holds a shared misreading of one step;
  trap_fire: chance a sample falls into it (x0.75 when careful). Traps make wrong answers correlate across
  samples, as on real models, so voting gains are real but bounded.
- refusal_rate, format_violation_rate: per answer; two thirds of violations leave nothing to
  extract (see model._violation), the rest still state the answer.
- reasoning: hidden reasoning (True for reasoners); reasoning_tokens_per_step by effort,
  reasoning_overhead_tokens; effort_error_exponent: step errors scale as
  (tokens per step / low-effort tokens per step) ** -exponent.
- knowledge_coverage: chance a fact is known, by popularity (high/medium/low);
  misremember_share: of the facts it lacks, the share it firmly believes one wrong value
  of (confidently wrong on every sample; the rest are guessed anew per sample);
  knowledge_slip: chance of a wrong letter on a known fact; guess_confidence: chance a
  guess on an unknown fact is stated with high confidence.
- contract_detect: chance to flag a risk clause per sample, by subtlety (obvious/subtle);
  its miss chance is multiplied by sqrt(error scale) and by 1.2 in long contracts;
  contract_cot_gain: added detection chance for subtle clauses with step-by-step review;
  contract_item_share: how much of a miss is shared by all samples of an item;
  contract_false_flag: chance to flag a benign clause.
- ticket_error: chance of a wrong category (mostly ambiguous tickets, shared by samples).
- support_miss: chance a support reply leaves out a point it meant to make (halved step by
  step); support_twist: chance the model misreads a ticket's twist (shared by samples).
- judge_error: chance a judge-scorer verdict flips (per sample); judge_length_bias: chance a
  failing reply of at least judge_long_words words passes (per reply, shared by samples);
  judge_malformed: chance a judge reply has no verdict line (sim/judge.py).
- judge_fooled: chance a judge accepts a wrong candidate it disagrees with;
  critique_detect: chance to find an actual error; critique_false_flag: chance to flag a
  correct solution; refine_break: chance that a refinement breaks a right answer it was
  wrongly told to fix; classify_noise: sd of the difficulty estimate (in steps);
  value_detect: chance a value estimate notices a wrong step; value_noise: sd of its value.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tts_bench.errors import UserError

_SMALL: dict[str, Any] = {
    "description": "cheap, fast, weaker: errors grow quickly with steps, patchy knowledge",
    "price_input": 0.15,
    "price_output": 0.60,
    "context_window": 128_000,
    "ttft_median_s": 0.25,
    "ttft_sigma": 0.35,
    "tokens_per_s": 140.0,
    "tps_sigma": 0.15,
    "prefill_tokens_per_s": 8000.0,
    "verbosity": 1.0,
    "plain_step_error": 0.012,
    "plain_step_growth": 0.028,
    "cot_step_error": 0.002,
    "cot_step_growth": 0.0003,
    "temperature_error_gain": 0.4,
    "fewshot_error_factor": 0.85,
    "item_hardness_sigma": 0.6,
    "weak_step_rate": 0.18,
    "weak_step_error": 0.25,
    "trap_rate": 0.1,
    "trap_fire": 0.6,
    "refusal_rate": 0.003,
    "format_violation_rate": 0.01,
    "reasoning": False,
    "reasoning_tokens_per_step": {"low": 40, "medium": 120, "high": 320},
    "reasoning_overhead_tokens": 80,
    "effort_error_exponent": 0.6,
    "knowledge_coverage": {"high": 0.9, "medium": 0.55, "low": 0.2},
    "knowledge_slip": 0.03,
    "guess_confidence": 0.45,
    "contract_detect": {"obvious": 0.96, "subtle": 0.5},
    "contract_cot_gain": 0.15,
    "contract_item_share": 0.3,
    "misremember_share": 0.3,
    "contract_false_flag": 0.02,
    "ticket_error": 0.03,
    "support_miss": 0.08,
    "support_twist": 0.35,
    "judge_error": 0.1,
    "judge_length_bias": 0.3,
    "judge_long_words": 70,
    "judge_malformed": 0.0,
    "judge_fooled": 0.2,
    "critique_detect": 0.6,
    "critique_false_flag": 0.12,
    "refine_break": 0.3,
    "classify_noise": 1.5,
    "value_detect": 0.7,
    "value_noise": 0.12,
}

_LARGE = {
    **_SMALL,
    "description": "stronger, slower, pricier: fewer step errors, wider knowledge",
    "price_input": 2.50,
    "price_output": 10.00,
    "ttft_median_s": 0.45,
    "ttft_sigma": 0.35,
    "tokens_per_s": 70.0,
    "prefill_tokens_per_s": 5000.0,
    "verbosity": 1.2,
    "plain_step_error": 0.01,
    "plain_step_growth": 0.015,
    "cot_step_error": 0.0015,
    "cot_step_growth": 0.0002,
    "weak_step_rate": 0.04,
    "trap_rate": 0.08,
    "refusal_rate": 0.002,
    "format_violation_rate": 0.008,
    "knowledge_coverage": {"high": 0.97, "medium": 0.8, "low": 0.45},
    "knowledge_slip": 0.015,
    "guess_confidence": 0.35,
    "contract_detect": {"obvious": 0.98, "subtle": 0.65},
    "contract_false_flag": 0.015,
    "ticket_error": 0.02,
    "support_miss": 0.04,
    "support_twist": 0.15,
    "judge_error": 0.05,
    "judge_length_bias": 0.15,
    "judge_fooled": 0.12,
    "critique_detect": 0.8,
    "critique_false_flag": 0.08,
    "refine_break": 0.2,
    "classify_noise": 1.0,
    "value_detect": 0.85,
    "value_noise": 0.08,
}

_REASONER = {
    **_LARGE,
    "description": "hidden reasoning billed as output; reasoning_effort trades tokens for accuracy",
    "price_input": 1.10,
    "price_output": 4.40,
    "ttft_median_s": 0.6,
    "tokens_per_s": 160.0,
    "verbosity": 0.6,
    "cot_step_error": 0.0015,
    "cot_step_growth": 0.0002,
    "reasoning": True,
    "effort_error_exponent": 0.9,
    "trap_rate": 0.07,
    "knowledge_coverage": {"high": 0.93, "medium": 0.7, "low": 0.3},
    "contract_detect": {"obvious": 0.97, "subtle": 0.6},
}

# A grader for the judge scorer: cheap, few random errors, but swayed by long replies.
_JUDGE = {
    **_LARGE,
    "description": "a judge for open-ended replies: few random errors, favours long replies",
    "price_input": 0.40,
    "price_output": 1.60,
    "judge_error": 0.03,
    "judge_length_bias": 0.8,
    "judge_long_words": 40,
}

BUILTIN: dict[str, dict[str, Any]] = {
    "small": _SMALL,
    "large": _LARGE,
    "reasoner": _REASONER,
    "judge": _JUDGE,
}


def _name(model: str) -> str:
    return model.removeprefix("sim/")


def _merge(base: dict[str, Any], over: dict[str, Any], where: str) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, val in over.items():
        if key not in base:
            raise UserError(f"{where}: unknown profile key {key!r}")
        ref = base[key]
        if isinstance(ref, dict):
            if not isinstance(val, dict):
                raise UserError(f"{where}.{key}: must be a mapping like {ref}")
            for sub, sval in val.items():
                if sub not in ref:
                    raise UserError(f"{where}.{key}: unknown key {sub!r} (known: {', '.join(ref)})")
                if not isinstance(sval, int | float) or isinstance(sval, bool):
                    raise UserError(f"{where}.{key}.{sub}: must be a number")
                out[key][sub] = sval
        elif isinstance(ref, bool):
            if not isinstance(val, bool):
                raise UserError(f"{where}.{key}: must be true or false")
            out[key] = val
        elif isinstance(ref, int | float):
            if not isinstance(val, int | float) or isinstance(val, bool) or val < 0:
                raise UserError(f"{where}.{key}: must be a non-negative number")
            out[key] = float(val)
        else:
            out[key] = str(val)
    return out


def all_profiles(profiles: dict[str, dict] | None = None) -> dict[str, dict[str, Any]]:
    """Built-in profiles plus the suite's, resolved against their `base` (default small)."""
    out = dict(BUILTIN)
    for raw_name, spec in (profiles or {}).items():
        name = _name(str(raw_name))
        where = f"sim_profiles.{raw_name}"
        if not isinstance(spec, dict):
            raise UserError(f"{where}: must be a mapping of profile keys")
        spec = dict(spec)
        base = _name(str(spec.pop("base", "small")))
        if base not in out:
            raise UserError(f"{where}.base: unknown sim model {base!r} (known: {', '.join(out)})")
        out[name] = _merge(out[base], spec, where)
    return out


_RESOLVED: dict[str, dict[str, dict[str, Any]]] = {}


def get(model: str, profiles: dict[str, dict] | None = None) -> tuple[str, dict[str, Any]]:
    """(name, profile) for `sim/<name>`; UserError for an unknown one."""
    # Resolved once per distinct `profiles` mapping: simulate() runs thousands of times.
    key = json.dumps(profiles or {}, sort_keys=True, default=str)
    table = _RESOLVED.get(key)
    if table is None:
        table = _RESOLVED[key] = all_profiles(profiles)
    name = _name(model)
    if name not in table:
        known = ", ".join(f"sim/{n}" for n in table)
        raise UserError(f"unknown simulated model {model!r} (known: {known})")
    return name, table[name]
