"""Error responses of the simulator's chat endpoint, shaped and worded as OpenAI's API sends
them: `{"error": {"message", "type", "param", "code"}}` with OpenAI's types and codes."""

from __future__ import annotations

from aiohttp import web

from tts_bench.sim.ratelimit import Verdict, openai_headers, openai_message


def error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """One error response; kind is OpenAI's `type`, code its `code` (null when it sends none)."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def bad_key(sent: str) -> web.Response:
    """401: no bearer key (OpenAI sends no code then) or one the server does not accept."""
    if not sent:
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    shown = f"{sent[:3]}*****{sent[-4:]}" if len(sent) > 8 else "*****"
    return error(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def model_not_found(requested: str) -> web.Response:
    return error(
        404,
        f"The model `{requested}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def unsupported(param: str) -> web.Response:
    """400 unsupported_parameter, e.g. `reasoning_effort` sent to a model without reasoning."""
    message = f"Unsupported parameter: '{param}' is not supported with this model."
    return error(400, message, param=param, code="unsupported_parameter")


def context_exceeded(window: int, prompt: int, max_tokens: int | None) -> web.Response:
    """400 context_length_exceeded: prompt (+ the max_tokens asked for) above the window."""
    if max_tokens is None:
        told = f"However, your messages resulted in {prompt} tokens. "
        fix = "Please reduce the length of the messages."
    else:
        told = (
            f"However, you requested {prompt + max_tokens} tokens ({prompt} in the messages, "
            f"{max_tokens} in the completion). "
        )
        fix = "Please reduce the length of the messages or completion."
    message = f"This model's maximum context length is {window} tokens. {told}{fix}"
    return error(400, message, param="messages", code="context_length_exceeded")


def rate_limited(verdict: Verdict, model: str) -> web.Response:
    """429 from the server's limiter: type `requests` or `tokens`, code rate_limit_exceeded,
    with the x-ratelimit-* and retry-after headers."""
    kind = verdict.refused or "requests"
    return error(
        429,
        openai_message(verdict, model),
        kind,
        code="rate_limit_exceeded",
        headers=openai_headers(verdict),
    )


def fault_429(retry_after: str) -> web.Response:
    """An injected 429 (fault `429`): as the limiter's, without a limit to report."""
    return error(
        429,
        "Rate limit reached for requests (simulated).",
        "requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": retry_after},
    )


def server_error(status: int) -> web.Response:
    """An injected 500 or 503, worded as OpenAI's."""
    if status == 503:
        message = "The engine is currently overloaded, please try again later. (simulated)"
    else:
        message = (
            "The server had an error while processing your request. Sorry about that! (simulated)"
        )
    return error(status, message, "server_error")


__all__ = [
    "bad_key",
    "context_exceeded",
    "error",
    "fault_429",
    "model_not_found",
    "rate_limited",
    "server_error",
]
