"""First-use polish: one-line suite typos with a suggestion, metavars in --help, the progress
bar's first frame, `list` showing only suites, and `make demo` saying how to open the report."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.conftest import ROOT, cli, demo_suite, write_suite
from tts_bench.errors import UserError
from tts_bench.suite import parse


def _suite(**changes: Any) -> dict[str, Any]:
    data = {
        "name": "t",
        "dataset": {"source": "builtin:arithmetic"},
        "configs": [{"name": "a", "strategy": "single", "model": "sim/small"}],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _problem(data: dict[str, Any]) -> str:
    with pytest.raises(UserError) as exc:
        parse(data, "s.yaml")
    return str(exc.value)


def test_top_level_typo_names_the_key_and_the_field_it_meant() -> None:
    data = _suite(config=_suite()["configs"], configs=None)
    # the missing `configs` is the typo's consequence: not counted as another problem
    assert _problem(data) == "s.yaml: unknown key 'config' (did you mean 'configs'?)"


def test_nested_typo_and_other_problems_are_counted() -> None:
    data = _suite(dataset={"sourc": "builtin:arithmetic"}, limits={"concurency": 2})
    assert _problem(data) == (
        "s.yaml: dataset: unknown key 'sourc' (did you mean 'source'?) (and 1 more)"
    )
    config = {"name": "a", "strategy": "single", "model": "sim/small"}
    data = _suite(configs=[config], analysis={"zzz_unrelated": 1})
    assert _problem(data) == "s.yaml: analysis: unknown key 'zzz_unrelated'"


def test_help_has_metavars_not_python_types() -> None:
    from typer import _click

    from tts_bench import cli_help
    from tts_bench.cli import app

    root = cli_help.apply(typer.main.get_command(app))
    shown: dict[str, str] = {}

    def walk(cmd: Any, path: str) -> None:
        ctx = _click.Context(cmd)
        for p in [*cmd.params, cmd.get_help_option(ctx)]:
            if p is not None:
                shown[f"{path} {p.name}"] = p.display_type_rich(ctx) or ""
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "tts-bench")
    assert not [k for k, v in shown.items() if v.startswith("<")]
    assert shown["tts-bench run quiet"] == "" and shown["tts-bench run help"] == ""
    assert shown["tts-bench run max_cost"] == "NUMBER"
    assert shown["tts-bench run limit"] == "N"
    assert shown["tts-bench run out"] == "DIR" and shown["tts-bench compare out"] == "FILE"
    out = cli("run", "--help", env={"COLUMNS": "120"})
    assert out.returncode == 0 and "<bool>" not in out.stdout and "SUITE" in out.stdout


def test_progress_first_frame_knows_the_total(tmp_path: Path) -> None:
    from tts_bench.runner import Runner
    from tts_bench.suite import load

    frames: list[dict[str, Any]] = []
    suite = load(write_suite(tmp_path / "s.yaml", _suite()))
    runner = Runner(suite, out_dir=tmp_path / "r", use_cache=False, limit=3, progress=frames.append)
    runner.run()
    assert frames[0]["done"] == 0 and frames[0]["total"] == 3
    assert [f["done"] for f in frames] == [0, 1, 2, 3]


def test_list_shows_only_suites(tmp_path: Path) -> None:
    write_suite(tmp_path / "mine.yaml", demo_suite(description="My suite."))
    (tmp_path / "gates.yaml").write_text("- {metric: accuracy, min: 0.5}\n")
    (tmp_path / "spec.yaml").write_text("id: qid\ninput: prompt\n")
    out = cli("list", "--suites-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{str(tmp_path / 'mine.yaml'):28} My suite."]
    (tmp_path / "mine.yaml").unlink()
    out = cli("list", "suites", "--suites-dir", str(tmp_path))
    assert out.returncode == 2 and "no suite files here" in out.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_says_how_to_open_the_report(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "tts-bench"  # stands for the run: writes a report where run does
    fake.write_text("#!/bin/sh\nmkdir -p results/r1 && touch results/r1/report.html\n")
    fake.chmod(0o755)
    (tmp_path / "pyproject.toml").write_text("")
    (venv / ".installed").touch()
    os.utime(tmp_path / "pyproject.toml", (0, 0))  # older than .installed: no reinstall
    out = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "demo", f"VENV={venv}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "xdg-open results/r1/report.html" in out.stdout
    assert "-m http.server -d results/r1 8000" in out.stdout
