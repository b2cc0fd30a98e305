"""Bad suites and datasets: exit 2, one line on stderr naming the problem, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import cli, demo_suite

SMALL = {
    "source": "builtin:arithmetic",
    "params": {"size": 30, "seed": 1},
    "fields": {"id": "id", "input": "question", "target": "answer", "strata": ["difficulty"]},
}


def _suite(tmp: Path, **over) -> Path:
    data = demo_suite(dataset=SMALL)
    for key, value in over.items():
        if value is _DELETE:
            data.pop(key)
        else:
            data[key] = value
    p = tmp / f"s{len(list(tmp.glob('s*.yaml')))}.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


_DELETE = object()


def _dataset(tmp: Path, rows: list[dict] | str, name: str = "d.jsonl") -> dict:
    p = tmp / name
    p.write_text(rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows))
    return {"source": str(p), "fields": {"id": "id", "input": "question", "target": "answer"}}


ROWS = [{"id": f"q{i}", "question": f"What is {i} + 1?", "answer": i + 1} for i in range(5)]


def cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (CLI args, a fragment the one-line message must contain)."""
    configs = demo_suite()["configs"]
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("name: x\nconfigs: [\n")
    listy = tmp / "list.yaml"
    listy.write_text("- a\n- b\n")
    return {
        "missing file": (["run", str(tmp / "nope.yaml")], "not found"),
        "invalid yaml": (["run", str(bad_yaml)], "bad.yaml"),
        "not a mapping": (["run", str(listy)], "mapping"),
        "unknown key": (["run", str(_suite(tmp, colour="red"))], "colour: unknown key"),
        "missing configs": (["run", str(_suite(tmp, configs=_DELETE))], "configs"),
        "baseline not a config": (["run", str(_suite(tmp, baseline="nope"))], "nope"),
        "duplicate config": (
            ["run", str(_suite(tmp, configs=configs + [configs[0]]))],
            "duplicate",
        ),
        "unknown strategy": (
            ["run", str(_suite(tmp, configs=[{"name": "single", "strategy": "magic"}]))],
            "magic",
        ),
        "unknown knob": (
            ["run", str(_suite(tmp, configs=[{"name": "single", "strategy": "single", "n": 3}]))],
            "'n'",
        ),
        "bad temperature": (
            ["run", str(_suite(tmp, defaults={"model": "sim/small", "temperature": "hot"}))],
            "temperature",
        ),
        "literal api key": (
            ["run", str(_suite(tmp, defaults={"model": "sim/small", "api_key": "sk-x"}))],
            "api_key_env",
        ),
        "dataset missing": (
            ["run", str(_suite(tmp, dataset={"source": str(tmp / "none.jsonl")}))],
            "none.jsonl",
        ),
        "missing target column": (
            [
                "run",
                str(
                    _suite(
                        tmp,
                        dataset={
                            **_dataset(tmp, [{"id": "a", "question": "q"}]),
                            "fields": {"id": "id", "input": "question", "target": "gold"},
                        },
                    )
                ),
            ],
            "gold",
        ),
        "duplicate ids": (
            ["run", str(_suite(tmp, dataset=_dataset(tmp, ROWS + ROWS[:1], "dup.jsonl")))],
            "q0",
        ),
        "empty dataset": (
            ["run", str(_suite(tmp, dataset=_dataset(tmp, "", "empty.jsonl")))],
            "empty",
        ),
        "malformed jsonl": (
            ["run", str(_suite(tmp, dataset=_dataset(tmp, '{"id": "a"}\n{oops\n', "bad.jsonl")))],
            "bad.jsonl",
        ),
        "template field": (["run", str(_suite(tmp, prompt={"template": "{nothing}"}))], "nothing"),
        "sample too big": (
            [
                "run",
                str(_suite(tmp, dataset={**SMALL, "sample": {"size": 999, "by": ["difficulty"]}})),
            ],
            "999",
        ),
        "route to nowhere": (
            [
                "run",
                str(
                    _suite(
                        tmp,
                        configs=configs
                        + [
                            {
                                "name": "r",
                                "strategy": "router",
                                "classifier": "length",
                                "routes": {"easy": "single", "hard": "ghost"},
                            }
                        ],
                    )
                ),
            ],
            "ghost",
        ),
        "routing loop": (
            [
                "run",
                str(
                    _suite(
                        tmp,
                        configs=configs
                        + [
                            {
                                "name": "r1",
                                "strategy": "router",
                                "classifier": "length",
                                "routes": {"easy": "single", "hard": "r2"},
                            },
                            {
                                "name": "r2",
                                "strategy": "router",
                                "classifier": "length",
                                "routes": {"easy": "single", "hard": "r1"},
                            },
                        ],
                    )
                ),
            ],
            "loop",
        ),
        "unknown builtin": (
            ["run", str(_suite(tmp, dataset={**SMALL, "source": "builtin:nosuch"}))],
            "nosuch",
        ),
        "resume non-run": (["run", str(_suite(tmp)), "--resume", str(tmp)], "not a run directory"),
    }


@pytest.fixture(scope="module")
def all_cases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    return cases(tmp)


NAMES = [
    "missing file",
    "invalid yaml",
    "not a mapping",
    "unknown key",
    "missing configs",
    "baseline not a config",
    "duplicate config",
    "unknown strategy",
    "unknown knob",
    "bad temperature",
    "literal api key",
    "dataset missing",
    "missing target column",
    "duplicate ids",
    "empty dataset",
    "malformed jsonl",
    "template field",
    "sample too big",
    "route to nowhere",
    "routing loop",
    "unknown builtin",
    "resume non-run",
]


def test_every_case_is_run(all_cases):
    assert sorted(all_cases) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_one_line_exit_2(name, all_cases, tmp_path):
    args, fragment = all_cases[name]
    proc = cli(*args, "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 2, (name, proc.returncode, proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, (name, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("error: ")
    assert fragment.lower() in lines[0].lower(), (name, lines[0])
