"""The error taxonomy (llm.errors), response-body caps and key redaction (llm.redact), checked
on the functions and through the client against a scripted endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from echoserver import ScriptedServer
from fakeserver import MESSAGES, limits

from tts_bench.llm import Client
from tts_bench.llm.errors import ErrorClass, classify_exception, classify_http
from tts_bench.llm.offline import import_litellm
from tts_bench.llm.redact import PROVIDER_KEY_ENVS, redact, register_key_env
from tts_bench.llm.types import CALL_STATUSES, FATAL_STATUSES, ModelSpec

KEY = "sk-test-5e1f0c9d7a3b4e21"
TRANSPORTS = ["direct", "litellm"]


def err(message: str, kind: str = "invalid_request_error", code: str | None = None) -> str:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}})


# (HTTP status, error body, expected label)
HTTP_CASES = [
    (401, err("Incorrect API key provided", code="invalid_api_key"), "auth_error"),
    (403, err("You are not allowed to sample from this model"), "auth_error"),
    (404, err("The model `gpt-9` does not exist", code="model_not_found"), "not_found"),
    (400, err("Unsupported value: 'temperature'"), "bad_request"),
    (422, err("Unprocessable: messages[0].role"), "bad_request"),
    (
        400,
        err("This model's maximum context length is 8192 tokens", code="context_length_exceeded"),
        "context_overflow",
    ),
    (
        400,
        err("The response was filtered due to the prompt triggering content management policy"),
        "content_filter",
    ),
    (
        429,
        err("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
        "rate_limited",
    ),
    (
        429,
        err("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        "auth_error",
    ),
    (
        400,
        err("input length and `max_tokens` exceed context limit: 1000 + 8192 > 200000"),
        "context_overflow",
    ),
    (
        429,
        err(
            "Rate limit reached for sim-small on tokens per min (TPM): Limit 600.",
            "tokens",
            "rate_limit_exceeded",
        ),
        "rate_limited",
    ),  # fmt: skip
    (408, err("Request timed out"), "timeout"),
    (500, err("The server had an error", "server_error"), "server_error"),
    (503, "<html>Service Unavailable</html>", "server_error"),
    (529, err("Overloaded", "overloaded_error"), "server_error"),
]
RETRIED = {"rate_limited", "timeout", "server_error", "connection_error", "malformed"}


def run(client_limits, coro_fn):
    async def main():
        client = Client(limits=client_limits, backoff_s=0.01)
        try:
            return await coro_fn(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def spec(srv: ScriptedServer, model: str, transport: str, **kw) -> ModelSpec:
    return ModelSpec(f"openai/{model}", params={"api_base": srv.url, "transport": transport}, **kw)


@pytest.mark.parametrize(("code", "body", "status"), HTTP_CASES)
def test_http_errors_are_labelled(code, body, status):
    label = classify_http(code, body)
    assert label == ErrorClass(status, status in RETRIED, status in FATAL_STATUSES)
    assert status in CALL_STATUSES


def _litellm_errors():
    lt = import_litellm()
    resp = httpx.Response(500, request=httpx.Request("POST", "http://x/v1"))
    mk = {"model": "m", "llm_provider": "openai"}
    return [
        (lt.AuthenticationError("bad key", **mk), "auth_error"),
        (lt.PermissionDeniedError("no", response=resp, **mk), "auth_error"),
        (lt.NotFoundError("no such model", **mk), "not_found"),
        (lt.BadRequestError("temperature out of range", **mk), "bad_request"),
        (lt.ContextWindowExceededError("too long", **mk), "context_overflow"),
        (lt.ContentPolicyViolationError("blocked", **mk), "content_filter"),
        (lt.RateLimitError("slow down", **mk), "rate_limited"),
        (lt.Timeout("timed out", **mk), "timeout"),
        (lt.APIConnectionError("Connection error.", **mk), "connection_error"),
        (lt.InternalServerError("OpenAIException - oops", **mk), "server_error"),
        (lt.ServiceUnavailableError("busy", **mk), "server_error"),
        # litellm's shapes of "no key": a synthesized 500, a connection error, a 401
        (
            lt.InternalServerError(
                "OpenAIException - Missing credentials. Please pass an `api_key`", **mk
            ),
            "auth_error",
        ),
        (lt.APIConnectionError("Missing Gemini API key. Set GEMINI_API_KEY", **mk), "auth_error"),
        (lt.APIConnectionError("You didn't provide an API key. You need to", **mk), "auth_error"),
        (lt.InternalServerError("Expecting value: line 1 column 1 (char 0)", **mk), "malformed"),
        (
            lt.InternalServerError("Cannot connect to host api.example.com:443", **mk),
            "connection_error",
        ),
        (ValueError("choices missing"), "malformed"),
        (RuntimeError("something else"), "api_error"),
    ]


def test_litellm_exceptions_are_labelled():
    for exc, status in _litellm_errors():
        label = classify_exception(exc)
        assert label.status == status, (type(exc).__name__, str(exc))
        assert label.retryable == (status in RETRIED)
        assert label.fatal == (status in FATAL_STATUSES)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("code", "body", "status"), HTTP_CASES)
def test_both_transports_label_the_same_response_alike(transport, code, body, status):
    with ScriptedServer() as srv:
        srv.scripts["scripted"] = (code, body, {"Retry-After": "0"})
        c = run(
            limits(retries=2, timeout_s=5),
            lambda cl: cl.generate(spec(srv, "scripted", transport), MESSAGES),
        )
        hits = len(srv.hits)
    assert c.status == status, c.error
    expected_retries = 2 if status in RETRIED else 0
    assert c.retries == expected_retries and hits == expected_retries + 1
    assert c.text == "" and c.error


@pytest.mark.parametrize(
    "model",
    ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-20241022", "gemini/gemini-1.5-flash"],
)
def test_missing_credentials_are_auth_error_at_once(monkeypatch, model):
    for name in PROVIDER_KEY_ENVS:
        monkeypatch.delenv(name, raising=False)
    c = run(limits(retries=4, timeout_s=5), lambda cl: cl.generate(ModelSpec(model), MESSAGES))
    assert c.status == "auth_error", c.error
    assert c.retries == 0 and "auth_error" in FATAL_STATUSES


@pytest.mark.parametrize("model", ["endless", "big-300000", "huge-length"])
def test_response_body_over_the_cap_is_api_error(model):
    with ScriptedServer() as srv:
        c = run(
            limits(retries=2, timeout_s=30, max_response_bytes=200_000),
            lambda cl: cl.generate(spec(srv, model, "direct"), MESSAGES),
        )
    # an endless body ends here only because the client stopped reading at the cap
    assert c.status == "api_error" and c.retries == 0, c.error
    assert "max_response_bytes" in c.error


def test_response_body_under_the_cap_is_read():
    with ScriptedServer() as srv:
        srv.scripts["padded"] = (200, json.dumps(OK_PADDED), {})
        c = run(
            limits(max_response_bytes=200_000),
            lambda cl: cl.generate(spec(srv, "padded", "direct"), MESSAGES),
        )
    assert c.ok and c.text == "4"


OK_PADDED = {
    "choices": [{"index": 0, "message": {"content": "4"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    "padding": "x" * 150_000,
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("code", [401, 500])
def test_echoed_key_is_masked_in_the_stored_error(monkeypatch, transport, code):
    monkeypatch.setenv("TTS_ECHO_TEST_KEY", KEY)
    with ScriptedServer() as srv:
        s = spec(srv, f"echo-{code}", transport, api_key_env="TTS_ECHO_TEST_KEY")
        c = run(limits(retries=1, timeout_s=5), lambda cl: cl.generate(s, MESSAGES))
    assert c.status == ("auth_error" if code == 401 else "server_error"), c.error
    assert KEY not in c.error and KEY[:12] not in c.error
    assert "***" in c.error  # the echo reached the message, masked


def test_redact_masks_named_and_provider_variables(monkeypatch):
    monkeypatch.setenv("MY_SUITE_KEY", "abcdef123456")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-000111")
    monkeypatch.setenv("ACME_API_KEY", "acme/key+with=odd")
    monkeypatch.setenv("SHORT_API_KEY", "abc")
    register_key_env("MY_SUITE_KEY")
    text = (
        "key abcdef123456, openai sk-openai-000111, json acme\\/key+with=odd, "
        "url acme%2Fkey%2Bwith%3Dodd, short abc, header Bearer zzzzzzzzzz9"
    )
    out = redact(text)
    assert out == ("key ***, openai ***, json ***, url ***, short abc, header Bearer ***")
    assert redact(None) is None and redact("") == ""


def test_redact_leaves_unregistered_variables_alone(monkeypatch):
    monkeypatch.setenv("TTS_NOT_A_SECRET_VAR", "hello-world-value")
    assert redact("hello-world-value") == "hello-world-value"


def test_every_failed_status_is_an_unscored_infrastructure_failure():
    from tts_bench.scoring.failures import INFRA_FAILURES, label_failure

    for status in CALL_STATUSES:
        if status == "ok":
            continue
        label = label_failure(
            status=status, answer="4", text="Final answer: 4", finish_reason="stop", correct=None
        )
        assert label in INFRA_FAILURES, status
