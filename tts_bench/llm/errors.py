"""One taxonomy of provider errors, shared by every transport.

`classify_http(code, body)` labels an HTTP error response (the direct transport);
`classify_exception(exc)` labels an exception (litellm's classes, the openai SDK's, plain
Python ones). Both return an `ErrorClass(status, retryable, fatal)`, so the same server error
gets the same label whichever transport saw it. docs/providers.md has the table.

- status: a label from types.CALL_STATUSES;
- retryable: the client retries it (`RETRYABLE`), honouring Retry-After;
- fatal: it will fail the same way on every call of a config (`types.FATAL_STATUSES`), so the
  runner stops scheduling that config. `bad_request` is not fatal on its own: one bad item is
  not a bad config; the runner decides after several identical ones.

The order of the checks matters. Credential trouble is recognised by its message first,
because providers and litellm report a missing key in many shapes (401, a synthesized 500,
a connection error). A type that names the problem exactly (not found, timeout, context
window) comes next, then message marks, then the bare HTTP code.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from tts_bench.llm.types import FATAL_STATUSES

RETRYABLE = frozenset({"rate_limited", "timeout", "server_error", "connection_error", "malformed"})


class ErrorClass(NamedTuple):
    status: str
    retryable: bool
    fatal: bool


def describe(status: str) -> ErrorClass:
    """Whether a status label is retried and whether it is fatal for a config."""
    return ErrorClass(status, status in RETRYABLE, status in FATAL_STATUSES)


# A key that is missing, wrong, or has no quota left: every call with it fails alike.
_AUTH = re.compile(
    r"(?i)missing credentials|missing [\w ]{0,30}api[ _-]?key|no api[ _-]?key"
    r"|(?:did not|didn't) provide an api[ _-]?key"
    r"|api[ _-]?key[\w ]{0,30}(?:must be set|not (?:set|found|provided)|is required|required)"
    r"|(?:invalid|incorrect|expired|revoked)[ _-](?:x-)?api[ _-]?key|invalid_api_key"
    r"|invalid authentication|authentication_error|unauthori[sz]ed"
    r"|insufficient_quota|exceeded your current quota|billing_hard_limit|payment required"
)
_NOT_FOUND = re.compile(
    r"(?i)model_not_found|\bmodel\b[^.\n]{0,120}\b(?:not found|does not exist|not exist)"
)
_CONTEXT = re.compile(
    r"(?i)context_length_exceeded|maximum context length|context window|context length"
    r"|exceeds? context limit"
    r"|prompt is too long|input is too long|too many (?:input )?tokens"
)
_CONTENT = re.compile(
    r"(?i)content_policy_violation|content_filter|content management policy"
    r"|content policy|responsibleaipolicyviolation|safety (?:system|filter)"
)
_MALFORMED = re.compile(
    r"(?i)jsondecodeerror|unterminated string|expecting value|expecting ','|invalid json"
)
_CONNECTION = re.compile(
    r"(?i)connection error|cannot connect to host|connection refused|connection reset"
    r"|server disconnected|connection aborted|remote end closed|connecterror|readerror"
)

# Exception class names (anywhere in the MRO: litellm, openai SDK, httpx, builtins) and the
# label each implies. The first name found walking the MRO wins, so subclasses come first.
_BY_CLASS = {
    "AuthenticationError": "auth_error",
    "PermissionDeniedError": "auth_error",
    "NotFoundError": "not_found",
    "ContextWindowExceededError": "context_overflow",
    "ContentPolicyViolationError": "content_filter",
    "RateLimitError": "rate_limited",
    "Timeout": "timeout",
    "APITimeoutError": "timeout",
    "TimeoutError": "timeout",
    "TimeoutException": "timeout",
    "APIConnectionError": "connection_error",
    "ConnectError": "connection_error",
    "ClientConnectionError": "connection_error",
    "ConnectionError": "connection_error",
    "InternalServerError": "server_error",
    "ServiceUnavailableError": "server_error",
    "BadGatewayError": "server_error",
    "BadRequestError": "bad_request",
    "UnprocessableEntityError": "bad_request",
    "APIResponseValidationError": "malformed",
    "JSONDecodeError": "malformed",
}
# Labels a class name settles outright; the others can be refined by the message.
_EXACT = frozenset({"auth_error", "not_found", "timeout", "context_overflow", "content_filter"})
_PLAIN_MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError)


def classify_http(code: int, body: bytes | str | None = None) -> ErrorClass:
    """Label an HTTP error response from its status code and body (an OpenAI-style
    `{"error": {"message", "type", "code"}}` or any text)."""
    return describe(_label(code, body_text(body), None))


def classify_exception(exc: BaseException) -> ErrorClass:
    """Label an exception raised by a transport (litellm, openai SDK, httpx, aiohttp)."""
    code = getattr(exc, "status_code", None)
    code = code if isinstance(code, int) else None
    kind = next((_BY_CLASS[c.__name__] for c in type(exc).__mro__ if c.__name__ in _BY_CLASS), None)
    status = _label(code, str(exc), kind)
    if status == "api_error" and isinstance(exc, _PLAIN_MALFORMED):
        status = "malformed"  # a response the transport could not take apart
    return describe(status)


def _label(code: int | None, text: str, kind: str | None) -> str:
    if _AUTH.search(text):
        return "auth_error"
    if kind in _EXACT:
        return kind
    client_side = code is None or 400 <= code < 500
    if client_side and code != 429:
        if _CONTEXT.search(text):
            return "context_overflow"
        if _CONTENT.search(text):
            return "content_filter"
        if code in (None, 400, 404) and _NOT_FOUND.search(text):
            return "not_found"
    if code is None or code >= 500:
        if _MALFORMED.search(text):
            return "malformed"
        if _CONNECTION.search(text):
            return "connection_error"
    if kind is not None:
        return kind
    if code is not None:
        return _label_for_code(code)
    return "api_error"


def _label_for_code(code: int) -> str:
    if code in (401, 402, 403):
        return "auth_error"
    if code in (404, 410):
        return "not_found"
    if code == 408:
        return "timeout"
    if code == 429:
        return "rate_limited"
    if code >= 500:
        return "server_error"
    if code >= 400:
        return "bad_request"
    return "api_error"


def body_text(body: bytes | str | None) -> str:
    """The message, type and code of an error body as one string (the raw text when it is
    not OpenAI-style JSON)."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):
        return text
    err = data.get("error", data) if isinstance(data, dict) else data
    if not isinstance(err, dict):
        return str(err)
    message = err.get("message")
    tags = [str(err[k]) for k in ("type", "code") if err.get(k) not in (None, "")]
    if message in (None, ""):
        return " ".join(tags) if tags else text
    return f"{message} ({', '.join(tags)})" if tags else str(message)
