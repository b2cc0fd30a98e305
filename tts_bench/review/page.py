"""The review page: one self-contained HTML file (inline CSS and JS, no network; a Content
Security Policy forbids any request), driven from the keyboard.

The units go in as JSON inside a `<script type="application/json">` element, made safe for
it by `report.items.script_json`, and the page writes every text with `textContent`: model
output is never parsed as HTML. Labels live in the browser's localStorage (keyed by run) until
the reviewer downloads them as labels.csv (the `d` key or the button).
"""

from __future__ import annotations

from typing import Any

from tts_bench.review.labels import Scale


def keys_for(scale: Scale) -> list[dict[str, str]]:
    """[{key, label}]: the key that gives each label (p/f for pass/fail, digits otherwise;
    1/2 give pass/fail too)."""
    if scale.kind == "pass_fail":
        return [
            {"key": "p", "alt": "1", "label": "pass"},
            {"key": "f", "alt": "2", "label": "fail"},
        ]
    return [{"key": str(i + 1), "alt": "", "label": lab} for i, lab in enumerate(scale.labels[:9])]


def render(
    units: list[dict[str, Any]],
    *,
    run_id: str,
    suite: str,
    rubric: str,
    scale: Scale,
    input_note: str | None,
) -> str:
    """The page as a string."""
    import jinja2

    from tts_bench.report.items import script_json

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tts_bench.review", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    data = {
        "run_id": run_id,
        "rubric": rubric,
        "scale": scale.describe(),
        "keys": keys_for(scale),
        "input_note": input_note,
        "units": units,
    }
    return env.get_template("review.html.j2").render(
        run_id=run_id,
        suite=suite,
        n_units=len(units),
        keys=keys_for(scale),
        scale=scale.describe(),
        data_json=script_json(data),
    )
