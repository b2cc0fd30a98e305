"""docs/providers.md "First real run": every snippet whose wire format `sim serve` speaks is
run through `tts-bench check` and a 2-item `tts-bench run` (in process: litellm is imported
once), with `api_base` pointed at the simulator, the model names mapped to simulated ones and
fake keys; what `check` prints must be what the doc shows."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, demo_suite, write_suite
from tts_bench.sim.server import ServerThread

DOC = ROOT / "docs" / "providers.md"
FAKE_KEY = "sk-doc-test-0123456789"
# the doc's model -> the simulated model the test calls (same provider prefix)
SIM_NAMES = {
    "openai/gpt-4o-mini": "openai/sim-small",
    "anthropic/claude-haiku-4-5": "anthropic/sim-small",
    "gemini/gemini-2.5-flash": "gemini/sim-reasoner",
    "azure/gpt-4o-mini": "azure/sim-small",
    "hosted_vllm/Qwen/Qwen2.5-7B-Instruct": "hosted_vllm/sim-small",
    "ollama_chat/llama3.2": "ollama_chat/sim-small",
    "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0": "bedrock/converse/sim-small",
}
# where each provider's api_base points on the simulator (litellm appends the rest)
BASES = {
    "openai": "/v1",
    "anthropic": "",
    "gemini": "/v1beta",
    "azure": "",
    "hosted_vllm": "/v1",
    "ollama_chat": "",
    "bedrock": "",
}
PROVIDERS = ["OpenAI", "Anthropic", "Gemini", "Azure OpenAI", "Amazon Bedrock", "vLLM", "Ollama"]


def snippets() -> list[tuple[str, str, list[str]]]:
    """(heading, YAML snippet, the check output shown after it) of the First real run."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## First real run\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for part in section.split("\n### ")[1:]:
        heading = part.splitlines()[0].strip()
        blocks = re.findall(r"```(\w*)\n(.*?)```", part, flags=re.S)
        pending = None
        for lang, body in blocks:
            if lang == "yaml":
                pending = body
            elif body.startswith("$ tts-bench check") and pending is not None:
                found.append((heading, pending, body.strip().splitlines()[1:]))
                pending = None
    return found


SNIPPETS = snippets()


def test_the_doc_has_a_first_run_for_every_provider_and_the_failures():
    headings = [h for h, _, _ in SNIPPETS]
    for provider in PROVIDERS:
        assert provider in headings, provider
    failures = [lines for h, _, lines in SNIPPETS if h == "When the check fails"]
    reasons = {re.search(r"— ([a-z ]+) \(", ln[0]).group(1) for ln in failures}
    assert {"key variable unset", "model not found", "parameter rejected"} <= reasons
    for heading, snippet, lines in SNIPPETS:
        assert "configs" in yaml.safe_load(snippet), heading
        assert lines[-1].startswith("check: "), heading


@pytest.fixture(scope="module")
def sim():
    with ServerThread(time_scale=0.0) as srv:
        yield srv


def tts(capsys, *args: str) -> tuple[int, str, str]:
    """`tts-bench ARGS` in this process: (exit code, stdout, stderr)."""
    from tts_bench.cli import main

    capsys.readouterr()
    saved = sys.argv
    sys.argv = ["tts-bench", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = saved
    out = capsys.readouterr()
    return code, out.out, out.err


def _sim_name(model: str) -> str:
    return SIM_NAMES.get(model, model)


def suite_for(snippet: dict[str, Any], root: str) -> dict[str, Any]:
    """The doc's snippet in a small suite, pointed at the simulator at `root`."""
    configs = []
    for cfg in snippet["configs"]:
        cfg = dict(cfg)
        prefix = cfg["model"].split("/", 1)[0]
        cfg["model"] = _sim_name(cfg["model"])
        cfg["api_base"] = root + BASES[prefix]
        if prefix == "openai":  # keep litellm's OpenAI provider, as without api_base
            cfg["params"] = {**cfg.get("params", {}), "transport": "litellm"}
        configs.append(cfg)
    pricing = {_sim_name(m): p for m, p in (snippet.get("pricing") or {}).items()}
    for cfg in configs:  # a price for simulated names the price table does not know
        pricing.setdefault(cfg["model"], {"input": 1.0, "output": 2.0})
    data = demo_suite(configs=configs, baseline=configs[0]["name"], gates=[])
    data["dataset"] = {**data["dataset"], "sample": {"size": 4, "by": ["difficulty"]}}
    data["limits"] = {"concurrency": 4, "timeout_s": 30, "retries": 1, "max_retry_wait_s": 1}
    data["pricing"] = pricing
    return data


def as_doc(line: str, snippet: dict[str, Any]) -> str:
    """A printed line with the simulated names mapped back to the doc's."""
    for cfg in snippet["configs"]:
        real, simulated = cfg["model"], _sim_name(cfg["model"])
        if real != simulated:
            line = line.replace(simulated, real)
            line = line.replace(simulated.split("/", 1)[1], real.split("/", 1)[1])
    return line


def price_source(model: str, pricing: dict[str, Any]) -> str:
    """Where the doc's model gets its price with the installed litellm (the printed text)."""
    from tts_bench.llm.pricing import PriceTable

    _, source = PriceTable(pricing or None).rate_and_source(model)
    if source == "unknown":
        return "warning: price unknown, costs will read unknown (add it under pricing:)"
    return f"price: {source}"


def assert_same(printed: list[str], shown: list[str], snippet: dict[str, Any]) -> None:
    assert len(printed) == len(shown), (printed, shown)
    pricing = snippet.get("pricing") or {}
    for got, want in zip(printed, shown, strict=True):
        got = as_doc(got, snippet)
        if want.startswith("✓"):
            head, price = want.split(" — ", 1)
            assert got.split(" — ", 1)[0] == head
            model = head.split(" ")[1]
            assert price == price_source(model, pricing), model
        elif want.endswith("…"):
            assert got.startswith(want[:-1]), (got, want)
        else:
            assert got == want


def _keys(snippet: dict[str, Any], shown: list[str], monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # for litellm's signing
        monkeypatch.setenv(name, "AKIADOCTEST" if name.endswith("ID") else FAKE_KEY)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    for cfg in snippet["configs"]:
        name = cfg.get("api_key_env")
        if name and any(f"api_key_env {name} is not set" in ln for ln in shown):
            monkeypatch.delenv(name, raising=False)
        elif name:
            monkeypatch.setenv(name, FAKE_KEY)


@pytest.mark.parametrize(
    ("heading", "text", "shown"), SNIPPETS, ids=[f"{h}-{i}" for i, (h, _, _) in enumerate(SNIPPETS)]
)
def test_a_doc_snippet_checks_and_runs_as_the_doc_says(
    tmp_path: Path, sim, capsys, monkeypatch, heading: str, text: str, shown: list[str]
):
    snippet = yaml.safe_load(text)
    _keys(snippet, shown, monkeypatch)
    root = sim.url.removesuffix("/v1")
    suite = write_suite(tmp_path / "suite.yaml", suite_for(snippet, root))
    seen = len(sim.log)
    code, out, err = tts(capsys, "check", str(suite))
    fails = shown[-1] != "check: all 1 targets passed"
    assert code == (2 if fails else 0), (out, err)
    printed = out.strip().splitlines() + err.strip().splitlines()
    assert_same(printed, shown, snippet)
    if any("(key_unset)" in ln for ln in shown):
        assert len(sim.log) == seen  # nothing was sent
    args = ["run", str(suite), "--limit", "2", "--out", str(tmp_path / "out")]
    code, out, err = tts(capsys, *args, "--run-id", "r", "--quiet", "--no-report")
    if fails:  # the run stops at its preflight, with check's line, before writing anything
        assert code == 2, (out, err)
        (line,) = err.strip().splitlines()
        failed = next(ln for ln in shown if ln.startswith("✗"))
        if "(key_unset)" in failed:  # found before any check call, with the config's name
            name = snippet["configs"][0]["name"]
            assert line.startswith(f"error: {suite}: configs[{name}]: ")
            assert line.endswith(failed.split("(key_unset): ", 1)[1])
        else:
            assert as_doc(line, snippet).startswith(f"error: {suite}: preflight: {failed[:-1]}")
        assert not (tmp_path / "out" / "r").exists()
        return
    assert code == 0, (out, err)
    run_dir = tmp_path / "out" / "r"
    records = [json.loads(x) for x in (run_dir / "records.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["status"] == "ok" for r in records), records
    assert all(r["input_tokens"] > 0 and r["output_tokens"] > 0 for r in records)
    assert all(r["cost_usd"] is not None for r in records)  # every snippet has a price
    if snippet["configs"][0].get("reasoning_effort"):
        assert all(r["reasoning_tokens"] > 0 for r in records)  # thinking counted apart
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["sessions"][-1]["preflight_calls"] == 1  # the run checked first


# -- each dialect's errors and faults, through litellm's real provider modules ---------------


def test_each_dialect_answers_keys_models_faults_and_thinking_as_its_provider(sim, monkeypatch):
    import asyncio

    from tts_bench.llm import Client
    from tts_bench.llm.types import ModelSpec
    from tts_bench.suite import Limits

    monkeypatch.setenv("TTS_DOC_KEY", FAKE_KEY)
    monkeypatch.setenv("TTS_DOC_BAD", "invalid-" + FAKE_KEY)
    # Bedrock without a key variable signs with AWS credentials, as it would for real.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_KEY)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    root = sim.url.removesuffix("/v1")
    azure = {"api_base": root, "api_version": "2024-10-21"}
    gemini = {"api_base": root + "/v1beta"}
    once = {"X-Sim-Fault-Times": "1", "X-Sim-Retry-After": "0"}
    cases = [  # (model, key variable, params, status, retries)
        ("azure/sim-small", "TTS_DOC_BAD", azure, "auth_error", 0),
        ("azure/sim-nope", "TTS_DOC_KEY", azure, "not_found", 0),
        ("gemini/sim-small", "TTS_DOC_BAD", gemini, "auth_error", 0),
        ("gemini/sim-nope", "TTS_DOC_KEY", gemini, "not_found", 0),
        ("gemini/sim-small", "TTS_DOC_KEY", {**gemini, "extra_headers": {"X-Sim-Fault": "503"}},
         "server_error", 1),
        ("gemini/sim-small", "TTS_DOC_KEY",
         {**gemini, "extra_headers": {"X-Sim-Fault": "429", **once}}, "ok", 1),
        ("ollama_chat/sim-nope", None, {"api_base": root}, "not_found", 0),
        ("ollama_chat/sim-small", None, {"api_base": root, "stream": True}, "ok", 0),
        ("bedrock/converse/sim-small", None,
         {"api_base": root, "extra_headers": {"X-Sim-Fault": "429", **once}}, "ok", 1),
        ("bedrock/converse/sim-small", None,
         {"api_base": root, "extra_headers": {"X-Sim-Fault": "500"}}, "server_error", 1),
        ("bedrock/converse/sim-small", "TTS_DOC_BAD", {"api_base": root}, "auth_error", 0),
        ("bedrock/converse/sim-nope", None, {"api_base": root}, "bad_request", 0),
        ("ollama_chat/sim-small", None,
         {"api_base": root, "extra_headers": {"X-Sim-Fault": "429", **once}}, "ok", 1),
    ]  # fmt: skip
    msgs = [{"role": "user", "content": "What is 12 + 30? End with 'Final answer: <number>'."}]

    async def go() -> list[Any]:
        client = Client(limits=Limits(retries=1, timeout_s=20, max_retry_wait_s=0.1))
        try:
            specs = [
                ModelSpec(m, max_tokens=256, api_key_env=k, params=p) for m, k, p, _, _ in cases
            ]
            specs.append(ModelSpec("gemini/sim-reasoner", max_tokens=4096, api_key_env="TTS_DOC_KEY",
                                   params={**gemini, "thinking_budget": 1024}))  # fmt: skip
            return [await client.generate(s, msgs) for s in specs]
        finally:
            await client.aclose()

    done = asyncio.run(go())
    got = [(c.status, c.retries) for c in done[:-1]]
    assert got == [(status, retries) for *_, status, retries in cases]
    assert FAKE_KEY not in " ".join(c.error or "" for c in done)  # keys masked in messages
    streamed = done[7]
    assert streamed.usage.input_tokens > 0 and streamed.usage.output_tokens > 0
    thinker = done[-1]
    assert thinker.ok and thinker.usage.reasoning_tokens > 0 and thinker.usage.output_tokens > 0


def test_litellm_signs_bedrock_offline_and_requests_without_a_key_or_version_are_refused(sim):
    import asyncio

    import aiohttp

    from tts_bench.llm.offline import import_litellm

    litellm = import_litellm()
    root = sim.url.removesuffix("/v1")
    msgs = [{"role": "user", "content": "What is 1 + 1?"}]

    async def call(key_id: str) -> Any:
        return await litellm.acompletion(
            model="bedrock/converse/sim-small",
            messages=msgs,
            api_base=root,
            aws_access_key_id=key_id,
            aws_secret_access_key=FAKE_KEY,
            aws_region_name="us-east-1",
            num_retries=0,
        )

    async def azure(headers: dict[str, str], query: str) -> tuple[int, dict]:
        url = f"{root}/openai/deployments/sim-small/chat/completions{query}"
        body = {"model": "sim-small", "messages": msgs}
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json=body, headers=headers) as resp:
                return resp.status, await resp.json()

    signed = asyncio.run(call("AKIADOCTEST"))
    assert signed.choices[0].message.content and signed.usage.prompt_tokens > 0
    with pytest.raises(Exception) as refused:
        asyncio.run(call("AKIAINVALIDDOCTEST"))
    assert "security token included in the request is invalid" in str(refused.value)
    assert asyncio.run(azure({}, "?api-version=2024-10-21"))[0] == 401
    status, body = asyncio.run(azure({"api-key": FAKE_KEY}, ""))
    assert (status, body["error"]["message"]) == (404, "Resource not found")
    assert asyncio.run(azure({"api-key": FAKE_KEY}, "?api-version=2024-10-21"))[0] == 200

    async def keyless(path: str) -> tuple[int, dict]:
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        async with aiohttp.ClientSession() as session:
            async with session.post(root + path, json=body) as resp:
                return resp.status, await resp.json()

    status, body = asyncio.run(keyless("/v1beta/models/sim-small:generateContent"))
    assert (status, body["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert asyncio.run(keyless("/model/sim-small/converse"))[0] == 403
