"""Keep API keys out of every error message the client stores or prints.

`redact(text)` replaces the value of each secret environment variable with `***`: the
variables suites name in `api_key_env` (the client calls `register_key_env(name)` when it
reads one) and the usual provider key variables (`PROVIDER_KEY_ENVS`, plus any variable whose
name ends in one of `SECRET_SUFFIXES`). Values are read from the environment at redaction
time, so a key set or changed after start-up is still caught. Values shorter than
`MIN_SECRET_LEN` characters are left alone: replacing "1" or "true" would mangle ordinary
text, and no real key is that short. Bearer tokens in echoed Authorization headers are
masked as well, whatever variable they came from.

Redact before truncating: a cut through the middle of a key leaves a prefix no exact match
finds.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote

MIN_SECRET_LEN = 6
MASK = "***"

PROVIDER_KEY_ENVS = frozenset(
    {
        "OPENAI_API_KEY",
        "OPENAI_ADMIN_KEY",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "AZURE_API_KEY",
        "AZURE_OPENAI_API_KEY",
        "AZURE_AI_API_KEY",
        "MISTRAL_API_KEY",
        "GROQ_API_KEY",
        "TOGETHER_API_KEY",
        "TOGETHERAI_API_KEY",
        "COHERE_API_KEY",
        "CO_API_KEY",
        "DEEPSEEK_API_KEY",
        "OPENROUTER_API_KEY",
        "FIREWORKS_API_KEY",
        "FIREWORKS_AI_API_KEY",
        "PERPLEXITYAI_API_KEY",
        "XAI_API_KEY",
        "REPLICATE_API_KEY",
        "HF_TOKEN",
        "HUGGINGFACE_API_KEY",
        "HUGGING_FACE_HUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SESSION_TOKEN",
        "VERTEX_API_KEY",
    }
)
# Names that hold a credential whatever the provider (FOO_API_KEY, BAR_AUTH_TOKEN, ...).
SECRET_SUFFIXES = ("_API_KEY", "_API_TOKEN", "_AUTH_TOKEN", "_SECRET_KEY", "_ACCESS_KEY")

_registered: set[str] = set()
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{" + str(MIN_SECRET_LEN) + ",}")


def register_key_env(name: str | None) -> None:
    """Treat the variable `name` (a suite's `api_key_env`) as secret from now on."""
    if name:
        _registered.add(name)


def secret_names() -> set[str]:
    """Names of the environment variables whose values are masked."""
    names = set(PROVIDER_KEY_ENVS) | _registered
    names.update(n for n in os.environ if n.upper().endswith(SECRET_SUFFIXES))
    return names


def secret_values() -> list[str]:
    """The current secret values (and their JSON- and URL-escaped forms), longest first so
    a key that contains another is masked whole."""
    forms: set[str] = set()
    for name in secret_names():
        value = os.environ.get(name, "")
        if len(value) < MIN_SECRET_LEN:
            continue
        forms.add(value)
        escaped = json.dumps(value)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/")))  # some servers escape "/"
        forms.add(quote(value, safe=""))
    return sorted((f for f in forms if len(f) >= MIN_SECRET_LEN), key=len, reverse=True)


def redact(text: str | None) -> str | None:
    """`text` with every secret value and bearer token replaced by `***` (None stays None)."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)
