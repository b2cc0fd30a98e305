"""Bad input of every kind: exit 2, one line on stderr naming the problem, no traceback, and
every run directory the command was given unchanged to the byte.

The cases run in-process through `tts_bench.cli.main` (the entry point's own code: the exit
code is its SystemExit, stderr is captured); a few also run as real subprocesses, so "no
traceback" is proven from the installed entry point too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, cli, demo_suite
from tts_bench.fsutil import LOCK

SMALL = {
    "source": "builtin:arithmetic",
    "params": {"size": 30, "seed": 1},
    "fields": {"id": "id", "input": "question", "target": "answer", "strata": ["difficulty"]},
}
_DELETE = object()
ROWS = [{"id": f"q{i}", "question": f"What is {i} + 1?", "answer": i + 1} for i in range(5)]
GOOD_ROWS = "".join(json.dumps(r) + "\n" for r in ROWS)


@dataclass
class Case:
    args: list[str]
    fragment: str  # the one line must contain it (case-insensitive)
    keep: list[Path] = field(default_factory=list)  # run directories that must not change


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


def _dataset(tmp: Path, rows: list[dict] | str | bytes, name: str = "d.jsonl") -> dict:
    p = tmp / name
    if isinstance(rows, bytes):
        p.write_bytes(rows)
    else:
        p.write_text(rows if isinstance(rows, str) else "".join(json.dumps(r) + "\n" for r in rows))
    return {"source": str(p), "fields": {"id": "id", "input": "question", "target": "answer"}}


def _text(tmp: Path, name: str, content: str | bytes) -> Path:
    p = tmp / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def _bomb(levels: int) -> str:
    """A "billion laughs": each level aliases the one before nine times."""
    lines = ['    a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"    a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return (
        "name: bomb\ndataset: {source: 'builtin:arithmetic'}\n"
        "defaults:\n  model: sim/small\n  extra_body:\n" + "\n".join(lines) + "\n"
        "configs: [{name: s, strategy: single}]\n"
    )


# ---- damaged copies of a good run ----------------------------------------------------------
Edit = Callable[[bytes], bytes]


def _first(**change: object) -> Edit:
    """Change fields of the first JSONL line (`_DELETE` removes one)."""

    def edit(raw: bytes) -> bytes:
        lines = raw.decode().splitlines()
        row = json.loads(lines[0])
        for k, v in change.items():
            if v is _DELETE:
                row.pop(k, None)
            else:
                row[k] = v
        lines[0] = json.dumps(row)  # NaN / Infinity literals, as Python writes them
        return ("\n".join(lines) + "\n").encode()

    return edit


def _insert(line: bytes) -> Edit:
    """Insert a complete line after the first one."""

    def edit(raw: bytes) -> bytes:
        first, _, rest = raw.partition(b"\n")
        return first + b"\n" + line + b"\n" + rest

    return edit


def _manifest(**change: object) -> Edit:
    def edit(raw: bytes) -> bytes:
        m = json.loads(raw)
        m.update(change)
        return json.dumps(m).encode()

    return edit


def _damaged(tmp: Path, good: Path, name: str, **edits: Edit) -> Path:
    d = tmp / name
    shutil.copytree(good, d)
    for fname, edit in edits.items():
        path = d / f"{fname}.{'json' if fname == 'manifest' else 'jsonl'}"
        path.write_bytes(edit(path.read_bytes()))
    return d


def cases(tmp: Path, good: Path, imported: Path) -> dict[str, Case]:
    """name -> Case. `good`: a finished run; `imported`: an imported run (pool-jsonl)."""
    configs = demo_suite()["configs"]
    out = ["--out", str(tmp / "out"), "--quiet"]

    def run(suite: Path, *more: str) -> list[str]:
        return ["run", str(suite), *out, *more]

    def ds(content: list[dict] | str | bytes, name: str) -> Path:
        return _suite(tmp, dataset=_dataset(tmp, content, name))

    def report(name: str, **edits: Edit) -> Path:
        return _damaged(tmp, good, name, **edits)

    bad_yaml = _text(tmp, "bad.yaml", "name: x\nconfigs: [\n")
    listy = _text(tmp, "list.yaml", "- a\n- b\n")
    (tmp / "suite-dir.yaml").mkdir()
    (tmp / "loop.yaml").symlink_to(tmp / "loop.yaml")
    (tmp / "loop.jsonl").symlink_to(tmp / "loop.jsonl")
    (tmp / "gone.jsonl").symlink_to(tmp / "nothing-here.jsonl")
    (tmp / "dir.jsonl").mkdir()
    deep = "[" * 200_000
    deep_first = '{"id": "d", "question": ' + "[" * 200_000 + "}\n"  # pyarrow's path
    deep_json = _text(tmp, "deep.json", '[{"id": 1, "question": ' + "[" * 5000 + "]" * 5000 + "}]")
    rules_bomb = _text(tmp, "rules.yaml", _bomb(6))
    pool_ok = {"id": "a", "target": "1", "samples": ["Final answer: 1"]}

    def pool(name: str, content: str | bytes) -> str:
        return str(_text(tmp, name, content))

    def imp(src: str, *more: str) -> list[str]:
        return ["import", src, "--out", str(imported), "--scorer", "numeric", *more]

    c: dict[str, Case] = {
        # ---- suites --------------------------------------------------------------------
        "missing file": Case(run(tmp / "nope.yaml"), "not found"),
        "invalid yaml": Case(run(bad_yaml), "bad.yaml"),
        "not a mapping": Case(run(listy), "mapping"),
        "unknown key": Case(run(_suite(tmp, colour="red")), "unknown key 'colour'"),
        "missing configs": Case(run(_suite(tmp, configs=_DELETE)), "configs"),
        "baseline not a config": Case(run(_suite(tmp, baseline="nope")), "nope"),
        "duplicate config": Case(run(_suite(tmp, configs=configs + [configs[0]])), "duplicate"),
        "unknown strategy": Case(
            run(_suite(tmp, configs=[{"name": "single", "strategy": "magic"}])), "magic"
        ),
        "unknown knob": Case(
            run(_suite(tmp, configs=[{"name": "single", "strategy": "single", "n": 3}])), "'n'"
        ),
        "bad temperature": Case(
            run(_suite(tmp, defaults={"model": "sim/small", "temperature": "hot"})),
            "temperature",
        ),
        "literal api key": Case(
            run(_suite(tmp, defaults={"model": "sim/small", "api_key": "sk-x"})), "api_key_env"
        ),
        "template field": Case(run(_suite(tmp, prompt={"template": "{nothing}"})), "nothing"),
        "route to nowhere": Case(
            run(
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
            "ghost",
        ),
        "routing loop": Case(
            run(
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
            "loop",
        ),
        "alias bomb depth 6": Case(run(_text(tmp, "bomb6.yaml", _bomb(6))), "aliases expand"),
        "alias bomb depth 8": Case(run(_text(tmp, "bomb8.yaml", _bomb(8))), "aliases expand"),
        "recursive alias": Case(
            run(_text(tmp, "rec.yaml", "name: x\nz: &a [1, *a]\n")), "alias refers"
        ),
        "yaml nested 200k deep": Case(
            run(_text(tmp, "deep.yaml", "name: x\nz: " + deep + "\n")), "nested deeper"
        ),
        "empty suite": Case(run(_text(tmp, "empty.yaml", "")), "empty suite file"),
        "suite of comments only": Case(run(_text(tmp, "c.yaml", "# nothing\n")), "empty suite"),
        "suite is a directory": Case(run(tmp / "suite-dir.yaml"), "is a directory"),
        "suite symlink loop": Case(run(tmp / "loop.yaml"), "symbolic link loop"),
        "suite not utf-8": Case(
            run(_text(tmp, "latin.yaml", b"name: x\ndescription: caf\xe9\n")),
            "line 2: not utf-8",
        ),
        "negative concurrency": Case(
            run(_suite(tmp, limits={"concurrency": -4})), "limits.concurrency"
        ),
        "nan timeout": Case(run(_suite(tmp, limits={"timeout_s": float("nan")})), "timeout_s"),
        "negative tolerance": Case(
            run(_suite(tmp, scorer={"type": "numeric", "tolerance": -1})), "tolerance"
        ),
        # ---- datasets ------------------------------------------------------------------
        "dataset missing": Case(
            run(_suite(tmp, dataset={"source": str(tmp / "none.jsonl")})), "none.jsonl"
        ),
        "missing target column": Case(
            run(
                _suite(
                    tmp,
                    dataset={
                        **_dataset(tmp, [{"id": "a", "question": "q"}]),
                        "fields": {"id": "id", "input": "question", "target": "gold"},
                    },
                )
            ),
            "gold",
        ),
        "duplicate ids": Case(run(ds(ROWS + ROWS[:1], "dup.jsonl")), "q0"),
        "empty dataset": Case(run(ds("", "empty.jsonl")), "empty"),
        "malformed jsonl": Case(run(ds('{"id": "a"}\n{oops\n', "bad.jsonl")), "bad.jsonl"),
        "sample too big": Case(
            run(_suite(tmp, dataset={**SMALL, "sample": {"size": 999, "by": ["difficulty"]}})),
            "999",
        ),
        "unknown builtin": Case(
            run(_suite(tmp, dataset={**SMALL, "source": "builtin:nosuch"})), "nosuch"
        ),
        "jsonl not utf-8": Case(
            run(ds(GOOD_ROWS.encode() + b'{"id": "x", "question": "\xff"}\n', "latin.jsonl")),
            "latin.jsonl: line 6: not utf-8",
        ),
        "csv not utf-8": Case(
            run(ds(b"id,question,answer\nq1,caf\xe9,1\n", "latin.csv")), "latin.csv: line 2"
        ),
        "csv with a NUL byte": Case(
            run(ds(b"id,question,answer\nq1,h\x00i,1\n", "nul.csv")), "nul.csv: line 2: a nul"
        ),
        "dataset symlink loop": Case(
            run(_suite(tmp, dataset=_dataset_at(tmp / "loop.jsonl"))), "symbolic link loop"
        ),
        "dataset broken link": Case(
            run(_suite(tmp, dataset=_dataset_at(tmp / "gone.jsonl"))), "broken symbolic link"
        ),
        "dataset is a directory": Case(
            run(_suite(tmp, dataset=_dataset_at(tmp / "dir.jsonl"))), "is a directory"
        ),
        "jsonl nested 200k deep": Case(
            run(ds(GOOD_ROWS + '{"id": "d", "question": ' + deep + "\n", "deep1.jsonl")),
            "line 6: json nested deeper than 100",
        ),
        "jsonl nested deep for pyarrow": Case(
            run(ds(deep_first, "deep2.jsonl")), "line 1: json nested deeper"
        ),
        "json nested deep": Case(run(_suite(tmp, dataset=_dataset_at(deep_json))), "nested"),
        "target of 5001 digits": Case(
            run(
                ds(
                    GOOD_ROWS
                    + json.dumps({"id": "b", "question": "q", "answer": "7" * 5001})
                    + "\n",
                    "big.jsonl",
                )
            ),
            "not a number",
        ),
        "json integer of 5001 digits": Case(
            run(
                ds(
                    GOOD_ROWS + '{"id": "b", "question": "q", "answer": ' + "7" * 5001 + "}\n",
                    "bigint.jsonl",
                )
            ),
            "5001 digits",
        ),
        # ---- options -------------------------------------------------------------------
        "option not a number": Case(run(_suite(tmp), "--limit", "abc"), "--limit"),
        "limit zero": Case(run(_suite(tmp), "--limit", "0"), "--limit"),
        "negative budget": Case(run(_suite(tmp), "--max-cost", "-1"), "--max-cost"),
        "nan budget": Case(run(_suite(tmp), "--max-cost", "nan"), "--max-cost"),
        "unknown option": Case(["report", str(good), "--colour", "red"], "no such option", [good]),
        "missing argument": Case(["run"], "missing argument"),
        "port out of range": Case(["sim", "serve", "--port", "99999"], "--port"),
        "resamples zero": Case(["report", str(good), "--resamples", "0"], "--resamples", [good]),
        "resamples past memory": Case(
            ["report", str(good), "--resamples", "100000000"], "resamples", [good]
        ),
        "confidence above 1": Case(
            ["report", str(good), "--confidence", "1.5"], "--confidence", [good]
        ),
        "resume non-run": Case(run(_suite(tmp), "--resume", str(tmp)), "not a run directory"),
        # ---- damaged run directories -----------------------------------------------------
        "records not utf-8": _rep(
            report("r-latin", records=_insert(b'{"item_id": "caf\xe9"}')),
            "records.jsonl:2: not utf-8",
        ),
        "records nested deep": _rep(
            report("r-deep", records=_insert(b'{"x": ' + b"[" * 200_000 + b"}")),
            "records.jsonl:2: json nested deeper",
        ),
        "record with nan cost": _rep(
            report("r-nan", records=_first(cost_usd=float("nan"))), "cost_usd", "gate"
        ),
        "record with negative latency": _rep(
            report("r-neg", records=_first(latency_s=-1.5)), "latency_s` must not be negative"
        ),
        "record with infinite latency": _rep(
            report("r-inf", records=_first(latency_s=float("inf"))), "latency_s` must be finite"
        ),
        "record with negative tokens": _rep(
            report("r-tok", records=_first(output_tokens=-3)), "output_tokens"
        ),
        "record with a 400-digit token count": _rep(
            report("r-bigtok", records=_first(output_tokens=10**400)), "output_tokens"
        ),
        "record of an unknown config": _rep(
            report("r-ghost", records=_first(config="ghost")), "not in the manifest", "gate"
        ),
        "record without item_id": _rep(
            report("r-noid", records=_first(item_id=_DELETE)), "records.jsonl:1: `item_id`"
        ),
        "calls not utf-8": _rep(
            report("c-latin", calls=_insert(b'{"item_id": "\xff"}')), "calls.jsonl:2"
        ),
        "manifest configs not a list": _rep(
            report("m-configs", manifest=_manifest(configs="single")), "`configs` must be a list"
        ),
        "manifest strata_counts wrong": _rep(
            report("m-strata", manifest=_manifest(strata_counts={"difficulty": 3})),
            "strata_counts",
            "gate",
        ),
        "manifest suite.configs wrong": _rep(
            report("m-suite", manifest=_manifest(suite={"name": "x", "configs": 5})),
            "`suite.configs` must be a list",
        ),
        "manifest not utf-8": _rep(
            report("m-latin", manifest=lambda raw: raw.replace(b'"demo"', b'"d\xe9mo"', 1)),
            "manifest.json:",
        ),
        "manifest nested deep": _rep(
            report("m-deep", manifest=lambda raw: b'{"x": ' + b"[" * 200_000 + b"}"),
            "nested deeper",
        ),
        "gate rules alias bomb": Case(
            ["gate", str(good), "--rules", str(rules_bomb)], "aliases expand", [good]
        ),
        "compare with a damaged run": Case(
            ["compare", str(good), str(tmp / "r-nan"), "-o", str(tmp / "cmp.html")],
            "cost_usd",
            [good, tmp / "r-nan"],
        ),
        # ---- imports (into an existing imported run, which must not change) ---------------
        "inspect log eval 3": Case(
            imp(pool("x.json", '{"eval": 3}'), "--format", "inspect"), "inspect log", [imported]
        ),
        "pool not utf-8": Case(
            imp(pool("p1.jsonl", json.dumps(pool_ok).encode() + b'\n{"id": "\xff"}\n')),
            "p1.jsonl: line 2: not utf-8",
            [imported],
        ),
        "pool nested deep": Case(
            imp(pool("p2.jsonl", '{"id": ' + deep + "\n")), "nested deeper", [imported]
        ),
        "pool with nan latency": Case(
            imp(
                pool(
                    "p3.jsonl",
                    '{"id": "a", "target": "1", "samples": [{"text": "1", "latency_s": NaN}]}\n',
                )
            ),
            "latency_s` must be finite",
            [imported],
        ),
        "pool with negative cost": Case(
            imp(
                pool(
                    "p4.jsonl",
                    '{"id": "a", "target": "1", "samples": [{"text": "1", "cost_usd": -2}]}\n',
                )
            ),
            "cost_usd` must not be negative",
            [imported],
        ),
        "pool id not a scalar": Case(
            imp(pool("p5.jsonl", '{"id": ["a"], "target": "1", "samples": ["1"]}\n')),
            "`id` must be",
            [imported],
        ),
        "lm-eval doc_id not a scalar": Case(
            imp(
                pool("samples_t.jsonl", '{"doc_id": {}, "target": "1", "resps": [["1"]]}\n'),
                "--format",
                "lm-eval",
            ),
            "doc_id",
            [imported],
        ),
    }
    return c


def _dataset_at(path: Path) -> dict:
    return {"source": str(path), "fields": {"id": "id", "input": "question", "target": "answer"}}


def _rep(run_dir: Path, fragment: str, verb: str = "report") -> Case:
    return Case([verb, str(run_dir)], fragment, [run_dir])


def _digest(d: Path) -> dict[str, str]:
    """sha256 of every file under d (the lock file is the kernel's lock, not content)."""
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name != LOCK
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(cases, digests of their run directories before any case ran)."""
    tmp = tmp_path_factory.mktemp("bad")
    proc = cli(
        "run",
        str(ROOT / "suites" / "demo.yaml"),
        "--limit",
        "6",
        "--out",
        str(tmp),
        "--run-id",
        "good",
        "--quiet",
        "--no-report",
    )
    assert proc.returncode == 0, proc.stderr
    from tts_bench.importers import import_pools

    pool = tmp / "pool.jsonl"
    pool.write_text(json.dumps({"id": "a", "target": "1", "samples": ["Final answer: 1"]}) + "\n")
    imported = import_pools(pool, fmt="pool-jsonl", out=tmp / "imported", scorer="numeric").run_dir
    all_cases = cases(tmp, tmp / "good", imported)
    before = {str(d): _digest(d) for case in all_cases.values() for d in case.keep}
    return all_cases, before


NAMES = [
    *("missing file", "invalid yaml", "not a mapping", "unknown key", "missing configs"),
    *("baseline not a config", "duplicate config", "unknown strategy", "unknown knob"),
    *("bad temperature", "literal api key", "template field", "route to nowhere"),
    *("routing loop", "alias bomb depth 6", "alias bomb depth 8", "recursive alias"),
    *("yaml nested 200k deep", "empty suite", "suite of comments only"),
    *("suite is a directory", "suite symlink loop", "suite not utf-8", "negative concurrency"),
    *("nan timeout", "negative tolerance", "dataset missing", "missing target column"),
    *("duplicate ids", "empty dataset", "malformed jsonl", "sample too big", "unknown builtin"),
    *("jsonl not utf-8", "csv not utf-8", "csv with a NUL byte", "dataset symlink loop"),
    *("dataset broken link", "dataset is a directory", "jsonl nested 200k deep"),
    *("jsonl nested deep for pyarrow", "json nested deep", "target of 5001 digits"),
    *("json integer of 5001 digits", "option not a number", "limit zero", "negative budget"),
    *("nan budget", "unknown option", "missing argument", "port out of range"),
    *("resamples zero", "resamples past memory"),
    *("confidence above 1", "resume non-run", "records not utf-8", "records nested deep"),
    *("record with nan cost", "record with negative latency", "record with infinite latency"),
    *("record with negative tokens", "record of an unknown config", "record without item_id"),
    "record with a 400-digit token count",
    *("calls not utf-8", "manifest configs not a list", "manifest strata_counts wrong"),
    *("manifest suite.configs wrong", "manifest not utf-8", "manifest nested deep"),
    *("gate rules alias bomb", "compare with a damaged run", "inspect log eval 3"),
    *("pool not utf-8", "pool nested deep", "pool with nan latency", "pool with negative cost"),
    *("pool id not a scalar", "lm-eval doc_id not a scalar"),
]
# Also run as real subprocesses: the installed entry point prints no traceback either.
SUBPROCESS = [
    "alias bomb depth 8",
    "jsonl nested deep for pyarrow",
    "records not utf-8",
    "inspect log eval 3",
    "option not a number",
    "target of 5001 digits",
]


def test_every_case_is_run(world):
    assert sorted(world[0]) == sorted(NAMES)
    assert len(NAMES) >= 40


def _check(name: str, code: object, stderr: str, world) -> None:
    case, before = world[0][name], world[1]
    assert code == 2, (name, code, stderr[-2000:])
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, (name, stderr[-2000:])
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: "), (name, lines[0])
    assert len(lines[0]) < 600, (name, lines[0][:200])  # huge values are shortened
    assert case.fragment.lower() in lines[0].lower(), (name, lines[0])
    for d in case.keep:
        assert _digest(d) == before[str(d)], (name, d)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_one_line_exit_2(name, world, capsys, monkeypatch):
    from tts_bench.cli import main

    monkeypatch.setattr(sys, "argv", ["tts-bench", *world[0][name].args])
    with pytest.raises(SystemExit) as stop:
        main()
    _check(name, stop.value.code, capsys.readouterr().err, world)


@pytest.mark.parametrize("name", SUBPROCESS)
def test_bad_input_from_the_entry_point(name, world):
    proc = cli(*world[0][name].args)
    _check(name, proc.returncode, proc.stderr, world)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_dataset(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(GOOD_ROWS)
    data.chmod(0)
    suite = _suite(tmp_path, dataset=_dataset_at(data))
    proc = cli("run", str(suite), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 2 and "d.jsonl: cannot read" in proc.stderr, proc.stderr


def test_user_text_is_never_mathtext(tmp_path, capsys, monkeypatch):
    """`$`, `^`, `_`, `\\` and braces in config names and stratum values: the report is
    written and its figures show the text as written."""
    from tts_bench.cli import main

    levels = ["x^_$y$_", "a\\b{c}", "$"]
    rows = [
        {"id": f"q{i}", "question": f"What is {i} + 1?", "answer": i + 1, "level": levels[i % 3]}
        for i in range(18)
    ]
    data = {
        "name": "math",
        "dataset": {
            **_dataset(tmp_path, rows),
            "fields": {"id": "id", "input": "question", "target": "answer", "strata": ["level"]},
        },
        "scorer": {"type": "numeric"},
        "configs": [
            {"name": "a$b", "strategy": "single"},
            {"name": "c$^_$d{e}", "strategy": "self_consistency", "n": [1, 3]},
        ],
    }
    suite = tmp_path / "math.yaml"
    suite.write_text(yaml.safe_dump(data))
    for args in (
        ["run", str(suite), "--out", str(tmp_path), "--run-id", "m", "--quiet", "--no-report"],
        ["report", str(tmp_path / "m")],
    ):
        monkeypatch.setattr(sys, "argv", ["tts-bench", *args])
        with pytest.raises(SystemExit) as stop:
            main()
        assert stop.value.code == 0, capsys.readouterr().err
    html = (tmp_path / "m" / "report.html").read_text()
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    texts = [t for svg in svgs for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]
    assert any(t == "a$b" for t in texts), texts
    assert any("c$^_$d{e}" in t for t in texts), texts
    assert any(t.endswith("=x^_$y$_") for t in texts), texts  # the strata heatmap
    assert not any("mathdefault" in t for t in texts), texts  # log axes: plain numbers


@pytest.mark.parametrize(
    "text",
    [
        "Final answer: " + "7" * 5001,
        "1/" + "1" * 5001,
        "[" * 200_000,
        "```json\n" + "{" * 100_000 + "\n```",
        "Final answer: C" + "1" * 6000 + ", C2",
    ],
)
@pytest.mark.parametrize("kind", ["numeric", "exact", "set_f1", "choice"])
def test_a_monstrous_answer_is_just_not_a_number(text, kind):
    """Scoring a model's answer never raises: one that cannot be read is simply wrong."""
    from tts_bench.scoring import make_scorer
    from tts_bench.suite import ScorerSpec

    for extract in ("auto", "json", "last_number"):
        scorer = make_scorer(ScorerSpec(type=kind, extract=extract))
        got = scorer.extract(text)
        target = {"numeric": "7", "exact": "x", "set_f1": "C2", "choice": "A"}[kind]
        assert scorer.score(got, target).correct is not True
        scorer.key(got or "")


def test_brackets_inside_strings_are_not_nesting(tmp_path):
    from tts_bench.data.loader import read_table

    rows = [{"id": "a", "question": "[" * 500 + "{" * 500, "answer": 1}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_table(str(path))[0]["question"] == rows[0]["question"]
