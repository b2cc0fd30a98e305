"""Built-in synthetic datasets (`source: builtin:<name>` with `params:`).

Every generator is seeded and returns a list of row dicts; see each module's docstring
for its columns and parameters. `generate()` turns bad names or params into a UserError.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tts_bench.data.builtin import arithmetic, contracts, knowledge, support, tickets
from tts_bench.errors import UserError

GENERATORS: dict[str, Callable[..., list[dict]]] = {
    "arithmetic": arithmetic.generate,
    "knowledge": knowledge.generate,
    "contracts": contracts.generate,
    "tickets": tickets.generate,
    "support": support.generate,
}


def generate(name: str, params: dict[str, Any]) -> list[dict]:
    """Rows of the built-in dataset `name` made with `params`."""
    gen = GENERATORS.get(name)
    if gen is None:
        raise UserError(
            f"dataset.source: unknown builtin {name!r} (known: {', '.join(GENERATORS)})"
        )
    sig = inspect.signature(gen).parameters
    for key, val in (params or {}).items():
        if key not in sig:
            raise UserError(
                f"dataset.params.{key}: unknown parameter for builtin:{name} (known: {', '.join(sig)})"
            )
        default = sig[key].default
        if isinstance(default, int) and not isinstance(default, bool):
            if not isinstance(val, int) or isinstance(val, bool):
                raise UserError(f"dataset.params.{key}: must be an integer, got {val!r}")
    if "size" in (params or {}) and params["size"] < 1:
        raise UserError("dataset.params.size: must be at least 1")
    try:
        return gen(**(params or {}))
    except (TypeError, ValueError) as exc:
        raise UserError(f"dataset.params: builtin:{name}: {exc}") from None
