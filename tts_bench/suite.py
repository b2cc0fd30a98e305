"""The suite file: pydantic models and `load()`, which turns any mistake into one clear line.

A suite names a dataset, a prompt, a scorer, model defaults, limits, a baseline config and
the scaling configs to compare. Unknown keys are errors everywhere except `defaults:` and a
config's `params:`, which pass any litellm keyword through (api_base, top_p, ...).
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tts_bench.errors import UserError
from tts_bench.inputcheck import regular_file
from tts_bench.yamlread import YamlLimitError, read_yaml  # noqa: F401 (re-exported)

# Keys a config may set that change the model call rather than the strategy.
MODEL_KEYS = (
    "model",
    "temperature",
    "max_tokens",
    "api_key_env",
    "api_base",
    "reasoning_effort",
    "thinking_budget",
)


_SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "proxy-authorization")


def _refuse_secrets(params: dict[str, Any]) -> None:
    """Keys never go into a suite (and so never into a run's manifest)."""
    nested = params.get("params") if isinstance(params.get("params"), dict) else {}
    for where in (params, nested):
        if "api_key" in where:
            raise ValueError("do not write keys in a suite: use `api_key_env: NAME`")
        headers = where.get("extra_headers") or {}
        if isinstance(headers, dict) and any(h.lower() in _SECRET_HEADERS for h in headers):
            raise ValueError("do not write credentials in extra_headers: use `api_key_env: NAME`")


# query (or fragment, or path-parameter) keys that carry a credential, e.g. Gemini's `?key=`,
# Azure's `?sig=` and `?subscription-key=`; compared without case, `-` read as `_`
_SECRET_QUERY = frozenset(
    (
        "key", "api_key", "apikey", "x_api_key", "token", "api_token", "auth_token",
        "access_token", "id_token", "password", "secret", "client_secret", "sig",
        "signature", "subscription_key", "auth", "authorization", "credential", "credentials",
    )
)  # fmt: skip


def _refuse_url_secrets(url: str, where: str) -> None:
    """A URL goes into the run's manifest as written: no user:password@, no credential in
    its query, fragment or path parameters. A URL too malformed to read is refused when
    its authority holds an `@`."""
    from urllib.parse import parse_qsl, urlsplit

    refuse = False
    try:
        parts = urlsplit(url)
        refuse = parts.username is not None or parts.password is not None
        params = parts.query + "&" + parts.fragment + "&" + parts.path.replace(";", "&")
        keys = {k.strip().lower().replace("-", "_") for k, _ in parse_qsl(params)}
        refuse = refuse or bool(keys & _SECRET_QUERY)
    except ValueError:  # malformed: the call that uses it says so, unless it holds userinfo
        refuse = "@" in url.split("://", 1)[-1].split("/", 1)[0]
    if refuse:
        raise ValueError(
            f"{where}: do not write credentials in a URL (they would be stored with the run): "
            "use `api_key_env: NAME`"
        )


def _check_api_base(value: Any) -> None:
    """`api_base` as a list names replicas of one model (llm/replicas.py): at least one,
    each an http(s) URL, none twice. A single URL is checked by the call that uses it. No
    URL carries credentials."""
    if isinstance(value, str):
        _refuse_url_secrets(value, "api_base")
    if not isinstance(value, list):
        return
    if not value:
        raise ValueError("api_base: an empty list names no endpoint")
    for i, url in enumerate(value):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"api_base[{i}]: {url!r} is not an http:// or https:// URL")
        if url in value[:i]:
            raise ValueError(f"api_base[{i}]: the same URL is listed twice")
        _refuse_url_secrets(url, f"api_base[{i}]")


class Strict(BaseModel):
    # .nan / .inf are YAML numbers too; no limit, price or setting here means either
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class FieldMap(Strict):
    """Which dataset columns hold the id, the prompt inputs, the target and the strata."""

    id: str = "id"
    input: str | list[str] = "question"
    target: str | None = "answer"  # null: no target column (scorer type judge only)
    strata: list[str] = Field(default_factory=list)
    cluster: str | None = None


class SampleSpec(Strict):
    """Optional stratified sample of the loaded items."""

    size: int = Field(gt=0)
    by: list[str] = Field(default_factory=list)
    seed: int = 0
    allocation: Literal["proportional", "equal"] = "proportional"
    min_per_stratum: int = Field(default=0, ge=0)


class DatasetSpec(Strict):
    source: str
    params: dict[str, Any] = Field(default_factory=dict)
    split: str | None = None
    subset: str | None = None  # the HF "config name"
    fields: FieldMap = Field(default_factory=FieldMap)
    sample: SampleSpec | None = None


class Example(Strict):
    input: str
    output: str


class PromptSpec(Strict):
    system: str | None = None
    template: str = "{question}"
    examples: list[Example] = Field(default_factory=list)  # few-shot (used by cot)


class ScorerSpec(Strict):
    type: Literal["exact", "numeric", "choice", "regex", "set_f1", "judge"] = "exact"
    tolerance: float = Field(default=1e-6, ge=0)
    pattern: str | None = None  # regex scorer: the answer must match it
    extract: Literal["auto", "final_line", "last_number", "choice", "json", "set", "raw"] = "auto"
    case_sensitive: bool = False
    choices: list[str] | None = None  # e.g. [A, B, C, D]; default letters A-J
    # the label of a plain wrong answer; factual suites say `hallucination`
    wrong_label: Literal["wrong_answer", "hallucination"] = "wrong_answer"
    # ordered steps of scoring.normalize applied to answer and target before scoring and voting
    normalize: list[str] = Field(default_factory=list)
    # type: judge only (scoring/judge.py): the judge model (or an odd panel of models), its
    # rubric, the verdict scale, what passes, the dataset field holding a reference answer
    # (shown to the judge only), the number of voting judges and the judge call's settings
    model: str | list[str] | None = None
    rubric: str | None = None
    scale: Literal["pass_fail", "1-5"] | list[str] = "pass_fail"
    pass_at: int = Field(default=4, ge=1, le=5)
    pass_labels: list[str] | None = None
    reference: str | None = None
    judges: int | None = Field(default=None, ge=1, le=9)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int = Field(default=256, gt=0)
    api_key_env: str | None = None
    api_base: str | None = None

    @field_validator("scale", mode="before")
    @classmethod
    def _scale_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v  # YAML reads `1-5` as text, guard anyway

    @model_validator(mode="after")
    def _judge_keys(self) -> ScorerSpec:
        from tts_bench.scoring.judge import check_spec

        check_spec(self)
        _check_api_base(self.api_base)
        return self

    @field_validator("normalize", mode="before")
    @classmethod
    def _steps_list(cls, v: Any) -> Any:
        # one name or "a,b" reads as a list (the import command's --normalize a,b)
        return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v

    @field_validator("normalize")
    @classmethod
    def _steps_known(cls, v: list[str]) -> list[str]:
        from tts_bench.scoring.normalize import check_steps

        return check_steps(v)

    @model_validator(mode="after")
    def _steps_apply(self) -> ScorerSpec:
        if self.normalize and self.type == "numeric":
            raise ValueError("normalize does not apply to the numeric scorer (it compares values)")
        if self.case_sensitive and "casefold" in self.normalize:
            raise ValueError("normalize: casefold contradicts case_sensitive: true")
        return self


class Limits(Strict):
    concurrency: int = Field(default=16, gt=0)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=4, ge=0)
    max_retry_wait_s: float = Field(default=60.0, ge=0)  # cap on any single Retry-After wait
    max_cost_usd: float | None = Field(default=None, ge=0)
    # largest response body the direct HTTP transport reads; a bigger one fails as api_error
    max_response_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    # per-model concurrency below `concurrency`: halved on a 429, +1 per round of successes,
    # paced by the provider's rate-limit headers (docs/providers.md); false: always `concurrency`
    adaptive: bool = True
    # batch mode (llm/transports/batch.py): seconds between polls of a pending batch, and the
    # most requests in one batch
    batch_poll_s: float = Field(default=10.0, gt=0)
    batch_max_requests: int = Field(default=5000, gt=0)
    # replicas (`api_base` as a list, llm/replicas.py): consecutive failures that take one
    # out, its first cool-down and the longest (each new one doubles)
    replica_failures: int = Field(default=3, gt=0)
    replica_cooldown_s: float = Field(default=5.0, gt=0)
    replica_max_cooldown_s: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _cooldowns(self) -> Limits:
        if self.replica_max_cooldown_s < self.replica_cooldown_s:
            raise ValueError("replica_max_cooldown_s must be at least replica_cooldown_s")
        return self


class Price(Strict):
    """$ per million tokens. input: uncached prompt tokens; output: visible output tokens;
    cached_input: prompt-cache reads (unset: at `input`); cache_write: prompt-cache writes,
    as Anthropic bills them (unset: at `input`); reasoning: thinking tokens (unset: at
    `output`)."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    reasoning: float | None = Field(default=None, ge=0)
    # calls sent in a provider batch (`batch: true`); unset: the batch price is unknown
    batch_input: float | None = Field(default=None, ge=0)
    batch_output: float | None = Field(default=None, ge=0)


class GateRule(Strict):
    config: str = "*"
    metric: str
    min: float | None = None
    max: float | None = None
    on: Literal["point", "ci"] | None = None
    strict: bool = False
    include_batch: bool = False  # latency rules: judge batch-mode configs too (queue time)

    @model_validator(mode="after")
    def _one_bound(self) -> GateRule:
        if self.min is None and self.max is None:
            raise ValueError("a gate needs `min` or `max`")
        return self


class AnalysisSpec(Strict):
    epsilon: float = Field(default=1.0, ge=0)  # points: saturation and routing tolerance
    resamples: int = Field(default=10_000, gt=0, le=100_000)  # memory: items x resamples
    confidence: float = Field(default=0.95, gt=0, lt=1)
    seed: int = Field(default=0, ge=0)
    max_cost_per_request: float | None = Field(default=None, ge=0)  # routing budget
    max_p95_latency_s: float | None = Field(default=None, gt=0)  # routing budget
    target_delta: float | None = None  # points, for the power analysis


class ConfigSpec(BaseModel):
    """A scaling configuration. Keys other than the ones below are strategy knobs and are
    checked against the strategy's own parameters when the suite is resolved."""

    model_config = ConfigDict(extra="allow")

    name: str
    strategy: str
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    api_key_env: str | None = None
    # a list: replicas of one model (llm/replicas.py); its entries are checked below
    api_base: str | list[Any] | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    thinking_budget: int | None = Field(default=None, gt=0)
    stream: bool | None = None  # server-sent events: time to first token is measured
    # a parallel pool as one request of `n` choices, or one request per sample (llm/pooling.py)
    pool_request: Literal["auto", "n", "separate"] | None = None
    params: dict[str, Any] = Field(default_factory=dict)  # extra litellm keywords
    fallback: str | None = None  # a model used when the primary fails after its retries
    batch: bool = False  # calls go in provider batches (llm/transports/batch.py)

    @model_validator(mode="after")
    def _no_literal_keys(self) -> ConfigSpec:
        _refuse_secrets({**self.params, **(self.model_extra or {})})
        _check_api_base(self.api_base)
        _check_api_base(self.params.get("api_base"))
        _check_api_base(self.params.get("base_url"))
        _check_api_base((self.model_extra or {}).get("base_url"))
        return self

    @property
    def knobs(self) -> dict[str, Any]:
        """The strategy's own parameters (every key not declared above)."""
        return dict(self.model_extra or {})

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\\n"):
            raise ValueError("config names must be non-empty and contain no / or newline")
        return v


class Defaults(BaseModel):
    """Model defaults for every config; extra keys are litellm parameters."""

    model_config = ConfigDict(extra="allow")

    model: str = "sim/small"
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, gt=0)
    api_key_env: str | None = None
    pool_request: Literal["auto", "n", "separate"] = "auto"  # see ConfigSpec

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and (not v.replace("_", "").isalnum() or v[0].isdigit()):
            raise ValueError("api_key_env must be the NAME of an environment variable")
        return v

    @model_validator(mode="after")
    def _no_literal_keys(self) -> Defaults:
        _refuse_secrets(self.model_extra or {})
        _check_api_base((self.model_extra or {}).get("api_base"))
        _check_api_base((self.model_extra or {}).get("base_url"))
        return self


class Suite(Strict):
    name: str
    description: str = ""
    seed: int = 0
    dataset: DatasetSpec
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    scorer: ScorerSpec = Field(default_factory=ScorerSpec)
    defaults: Defaults = Field(default_factory=Defaults)
    limits: Limits = Field(default_factory=Limits)
    pricing: dict[str, Price] = Field(default_factory=dict)
    sim_profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    baseline: str = ""  # a config name; empty = the first config
    configs: list[ConfigSpec] = Field(min_length=1)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    gates: list[GateRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_configs(self) -> Suite:
        names = [c.name for c in self.configs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate config name(s): {', '.join(dupes)}")
        if not self.baseline:
            self.baseline = names[0]
        if self.baseline not in names:
            raise ValueError(
                f"baseline {self.baseline!r} is not a config name ({', '.join(names)})"
            )
        if self.dataset.fields.target is None and self.scorer.type != "judge":
            raise ValueError("dataset.fields.target: null only with scorer type judge")
        for c in self.configs:
            if c.fallback is not None and not c.fallback.strip():
                raise ValueError(f"config {c.name!r}: fallback must name a model")
        return self

    def config(self, name: str) -> ConfigSpec:
        for c in self.configs:
            if c.name == name:
                return c
        raise UserError(f"suite {self.name!r}: no config named {name!r}")


def _loc(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic error location, naming configs by their `name` not their index."""
    parts: list[str] = []
    node = data
    for p in loc:
        if isinstance(p, int) and isinstance(node, list) and 0 <= p < len(node):
            item = node[p]
            label = item.get("name") if isinstance(item, dict) else None
            parts.append(f"[{label}]" if label else f"[{p}]")
            node = item
            continue
        parts.append(f".{p}" if parts else str(p))
        node = node.get(p) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _first_problem(errors: list[Any], data: Any) -> str:
    """One line for pydantic's errors. An unknown key goes first, with the field it was
    probably meant to be ("unknown key 'config' (did you mean 'configs'?)"): a misspelt
    key also makes the real one missing, and that error alone would hide the cause."""
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    err = unknown[0] if unknown else errors[0]
    loc = tuple(err["loc"])
    rest = [e for e in errors if e is not err]
    if err["type"] != "extra_forbidden":
        where, msg = _loc(loc, data), err["msg"].removeprefix("Value error, ")
    else:
        parent, key = loc[:-1], str(loc[-1])
        guess = difflib.get_close_matches(key, _fields_at(parent), n=1, cutoff=0.6)
        where = _loc(parent, data) if parent else ""
        msg = f"unknown key {key!r}" + (f" (did you mean {guess[0]!r}?)" if guess else "")
        if guess:  # the field it meant is missing because of the typo: not another problem
            meant = (*parent, guess[0])
            rest = [e for e in rest if not (e["type"] == "missing" and tuple(e["loc"]) == meant)]
    more = f" (and {len(rest)} more)" if rest else ""
    return f"{where}: {msg}{more}" if where else f"{msg}{more}"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the suite model found at `loc` (list indices skipped); [] where
    the location is not a model (free-form mappings such as `sim_profiles`)."""
    model: Any = Suite
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return list(model.model_fields)


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside an annotation (X, list[X], X | None), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) is dict:
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse(data: Any, source: str = "<suite>", base_dir: Path | None = None) -> Suite:
    """Validate a suite mapping; raise UserError with one line on any problem."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: a suite must be a YAML mapping, got {type(data).__name__}")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{source}: {_first_problem(exc.errors(), data)}") from None
    if base_dir is not None:
        src = suite.dataset.source
        if ":" not in src.split("/")[0] and not Path(src).is_absolute():
            suite.dataset.source = str((base_dir / src).resolve())
    return suite


def load(path: str | Path) -> Suite:
    """Read and validate a suite YAML file."""
    p = Path(path)
    regular_file(p, "suite file")
    try:
        data = read_yaml(p)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{p}:{where}: {problem}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise UserError(f"{p}: line {line}: not UTF-8 text") from None
    if data is None:
        raise UserError(f"{p}: empty suite file")
    return parse(data, str(p), p.parent)
