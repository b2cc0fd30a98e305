"""Peers: tts-bench against Inspect AI, lm-evaluation-harness and promptfoo on the same items.

    .venv/bin/python benchmarks/peers.py [--items 1000] [--rounds 3] [--concurrency 16]
        [--latency-ms 50] [--envs .bench-envs] [--tools tts-bench,inspect,lm-eval,promptfoo]

Each peer lives in its own environment under `--envs` (git-ignored): a venv for Inspect AI
(`inspect-ai`, `openai`) and for lm-evaluation-harness (`lm-eval[api]`), an npm prefix for
promptfoo; installed with uv when it is on PATH, else pip, and reused on later runs. A tool
that cannot be installed (or whose first run fails) is printed as "not available: <reason>".

Every tool asks the same server the same `--items` questions ("What is A + B?", from one
JSONL file) through OpenAI chat completions, one call per item, at `--concurrency` requests
at a time: the server runs on a thread of this process (loopback, HTTP/1.1 keep-alive) and
answers every request after exactly `--latency-ms`, so latency is identical for all. Rounds
are interleaved (tts-bench, inspect, lm-eval, promptfoo, repeated) so that load from the rest
of the machine hits all alike. For each run: wall seconds, and CPU seconds of the tool's whole
process tree (`resource.getrusage(RUSAGE_CHILDREN)` around the subprocess; the server's CPU
is this process's own, so not counted), requests the server saw. Caches are off in every
tool (`--no-cache`; Inspect and lm-eval cache nothing by default). tts-bench runs as a user
runs it: its preflight call, summary.json and report.html included. Prints medians per tool
and the ratios of tts-bench to each peer (wall and CPU); below 1 means tts-bench is cheaper.
Not part of `make test`: it installs packages and takes minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("tts-bench", "inspect", "lm-eval", "promptfoo")
QUESTION = re.compile(r"What is (\d+) \+ (\d+)\?")


class EchoServer:
    """OpenAI chat completions on loopback, every reply after a fixed delay.

    Knobs: `latency_s` (seconds each request waits before its reply). The reply is the sum
    asked for in the last user message, so every tool's scorer has something to score."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.requests = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> str:
        self._thread.start()
        self._ready.wait(10)
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0, backlog=1024)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {
                    k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
                }
                body = await self._body(reader, headers)
                status, payload = await self._answer(method, path, body)
                data = json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() != "chunked":
            return b""
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).strip() or b"0", 16):
            chunks.append(await reader.readexactly(size + 2))
        await reader.readuntil(b"\r\n")
        return b"".join(c[:-2] for c in chunks)

    async def _answer(self, method: str, path: str, body: bytes) -> tuple[str, dict]:
        if method == "GET" and path.endswith("/models"):
            return "200 OK", {"object": "list", "data": [{"id": "echo", "object": "model"}]}
        if not path.endswith("/chat/completions"):
            return "404 Not Found", {"error": {"message": f"no route {path}"}}
        request = json.loads(body or b"{}")
        self.requests += 1
        await asyncio.sleep(self.latency_s)
        text = _last_user_text(request.get("messages") or [])
        found = QUESTION.search(text)
        answer = str(int(found[1]) + int(found[2])) if found else "0"
        usage = {"prompt_tokens": len(text) // 4 + 1, "completion_tokens": len(answer)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice = {"index": 0, "message": {"role": "assistant", "content": answer}}
        return "200 OK", {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": 0,
            "model": request.get("model", "echo"),
            "choices": [choice | {"finish_reason": "stop"}],
            "usage": usage,
        }


def _last_user_text(messages: list) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


# -- installs -------------------------------------------------------------------------


def _venv(envs: Path, name: str, packages: list[str]) -> Path:
    """A venv at envs/name holding `packages`; returns its bin folder. Raises RuntimeError."""
    folder = envs / name
    marker = folder / ".installed"
    if marker.exists() and marker.read_text() == " ".join(packages):
        return folder / "bin"
    python = str(folder / "bin/python")
    uv = shutil.which("uv")
    steps = [[uv, "venv", "-q", str(folder)], [uv, "pip", "install", "-q", "--python", python]]
    if not uv:
        steps = [
            [sys.executable, "-m", "venv", str(folder)],
            [python, "-m", "pip", "install", "-q"],
        ]
    steps[1] += packages
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(_last_line(done.stderr or done.stdout) or f"{argv[0]} failed")
    marker.write_text(" ".join(packages))
    return folder / "bin"


def _npm(envs: Path, name: str, package: str) -> Path:
    """`package` installed under the npm prefix envs/name; returns its .bin folder."""
    folder = envs / name
    binary = folder / "node_modules/.bin"
    if (binary / name).exists():
        return binary
    if not shutil.which("npm"):
        raise RuntimeError("npm is not on PATH")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--prefix", str(folder), package], capture_output=True, text=True
    )
    if done.returncode or not (binary / name).exists():
        raise RuntimeError(_last_line(done.stderr) or "npm install failed")
    return binary


def _last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:200] if lines else ""


# -- each tool's task -----------------------------------------------------------------


@dataclass
class Tool:
    """One tool's command line (`argv`), environment additions and the outcome of its runs."""

    name: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    version: str = ""
    problem: str = ""
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)


def write_items(folder: Path, items: int) -> Path:
    """`items` sums as a JSONL file: id, question, answer (the same file for every tool)."""
    path = folder / "items.jsonl"
    with path.open("w") as f:
        for i in range(items):
            a, b = 3 + (i * 7919) % 900, 5 + (i * 104729) % 800
            f.write(
                json.dumps({"id": f"q{i}", "question": f"What is {a} + {b}?", "answer": str(a + b)})
                + "\n"
            )
    return path


def tts_bench(work: Path, items: Path, url: str, conc: int) -> Tool:
    suite = {
        "name": "peers",
        "seed": 0,
        "dataset": {"source": str(items), "fields": {"input": "question"}},
        "prompt": {"template": "{question}"},
        "scorer": {"type": "numeric"},
        "defaults": {"model": "openai/echo", "api_base": url, "max_tokens": 64},
        "limits": {"concurrency": conc, "timeout_s": 60, "retries": 1},
        "baseline": "single",
        "configs": [{"name": "single", "strategy": "single"}],
    }
    (work / "tts.yaml").write_text(json.dumps(suite, indent=1))  # JSON is YAML
    argv = [
        str(ROOT / ".venv/bin/tts-bench"),
        "run",
        str(work / "tts.yaml"),
        "--no-cache",
        "--quiet",
    ]
    return Tool(
        "tts-bench",
        argv + ["--out", str(work / "tts-results")],
        version=_pkg_version(ROOT / ".venv/bin", "tts-bench"),
    )


def inspect(work: Path, items: Path, url: str, conc: int, envs: Path) -> Tool:
    bin_ = _venv(envs, "inspect", ["inspect-ai", "openai"])
    (work / "inspect_task.py").write_text(
        "from inspect_ai import Task, task\n"
        "from inspect_ai.dataset import FieldSpec, json_dataset\n"
        "from inspect_ai.scorer import match\n"
        "from inspect_ai.solver import generate\n\n\n"
        "@task\n"
        "def peers():\n"
        f"    data = json_dataset({str(items)!r}, FieldSpec(input='question', target='answer', id='id'))\n"
        "    return Task(dataset=data, solver=generate(), scorer=match(numeric=True))\n"
    )
    argv = [str(bin_ / "inspect"), "eval", "inspect_task.py", "--model", "openai/echo"]
    argv += [
        "--model-base-url",
        url,
        "--max-connections",
        str(conc),
        "--log-dir",
        str(work / "inspect-logs"),
    ]
    argv += ["--display", "none", "--max-tokens", "64", "-M", "responses_api=false"]
    return Tool("inspect", argv, version=_pkg_version(bin_, "inspect-ai"))


def lm_eval(work: Path, items: Path, url: str, conc: int, envs: Path) -> Tool:
    bin_ = _venv(envs, "lm-eval", ["lm-eval[api]"])
    tasks = work / "lm_eval_tasks"
    tasks.mkdir(exist_ok=True)
    task = {
        "task": "peers_sums",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(items)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{question}}",
        "doc_to_target": "{{answer}}",
        "generation_kwargs": {"until": ["\n\n"], "max_gen_toks": 64, "do_sample": False},
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
    }
    (tasks / "peers_sums.yaml").write_text(json.dumps(task, indent=1))
    model_args = f"model=echo,base_url={url}/chat/completions,num_concurrent={conc},max_retries=1,tokenized_requests=False"
    argv = [str(bin_ / "lm_eval"), "--model", "local-chat-completions", "--model_args", model_args]
    argv += ["--tasks", "peers_sums", "--include_path", str(tasks), "--apply_chat_template"]
    argv += ["--output_path", str(work / "lm-eval-out")]
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(work / "hf")}
    return Tool("lm-eval", argv, env, version=_pkg_version(bin_, "lm-eval"))


def promptfoo(work: Path, items: Path, url: str, conc: int, envs: Path) -> Tool:
    bin_ = _npm(envs, "promptfoo", "promptfoo")
    rows = [json.loads(line) for line in items.read_text().splitlines()]
    config = {
        "description": "peers",
        "prompts": ["{{question}}"],
        "providers": [{"id": "openai:chat:echo", "config": {"apiBaseUrl": url, "max_tokens": 64}}],
        "defaultTest": {"assert": [{"type": "contains", "value": "{{answer}}"}]},
        "tests": [{"vars": {"question": r["question"], "answer": r["answer"]}} for r in rows],
    }
    (work / "promptfooconfig.yaml").write_text(json.dumps(config))
    argv = [str(bin_ / "promptfoo"), "eval", "-c", str(work / "promptfooconfig.yaml"), "--no-cache"]
    argv += [
        "--max-concurrency",
        str(conc),
        "--no-progress-bar",
        "--no-table",
        "-o",
        str(work / "promptfoo.json"),
    ]
    env = {
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(work / "promptfoo-home"),
    }
    done = subprocess.run(
        [str(bin_ / "promptfoo"), "--version"], capture_output=True, text=True, env=os.environ | env
    )
    return Tool("promptfoo", argv, env, version=_last_line(done.stdout))


def _pkg_version(bin_: Path, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    done = subprocess.run([str(bin_ / "python"), "-c", code], capture_output=True, text=True)
    return done.stdout.strip()


# -- measuring ------------------------------------------------------------------------


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(tool: Tool, server: EchoServer, work: Path, log: Path, count: bool) -> None:
    """One run of `tool` (its output kept in `log`): wall, CPU of its process tree and
    requests served, kept when `count`; a failure sets `tool.problem`, ending its runs."""
    env = os.environ | {"OPENAI_API_KEY": "local-benchmark", "NO_PROXY": "127.0.0.1"} | tool.env
    before, cpu = server.requests, _children_cpu()
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(tool.argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=work)
    wall, cpu = time.monotonic() - started, _children_cpu() - cpu
    if done.returncode:
        tail = _last_line(log.read_text(errors="replace"))
        tool.problem = f"not available: run failed (exit {done.returncode}): {tail}"
    elif count:
        tool.wall.append(wall)
        tool.cpu.append(cpu)
        tool.requests.append(server.requests - before)


def prepare(name: str, work: Path, items: Path, url: str, conc: int, envs: Path) -> Tool:
    makers = {
        "tts-bench": lambda: tts_bench(work, items, url, conc),
        "inspect": lambda: inspect(work, items, url, conc, envs),
        "lm-eval": lambda: lm_eval(work, items, url, conc, envs),
        "promptfoo": lambda: promptfoo(work, items, url, conc, envs),
    }
    try:
        return makers[name]()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return Tool(name, problem=f"not available: {exc}")


def table(tools: list[Tool], items: int) -> str:
    base = tools[0]
    lines = [
        "| tool | version | runs | requests | wall s (median) | CPU s (median) | CPU ms / item "
        "| tts-bench wall ratio | tts-bench CPU ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for tool in tools:
        if not tool.wall:
            lines.append(
                f"| {tool.name} | {tool.version or '-'} | 0 | - | {tool.problem or 'no run'} | | | | |"
            )
            continue
        wall, cpu = statistics.median(tool.wall), statistics.median(tool.cpu)
        ratios = ["-", "-"]
        if base.wall and tool is not base:
            ratios = [
                f"{statistics.median(base.wall) / wall:.2f}x",
                f"{statistics.median(base.cpu) / cpu:.2f}x",
            ]
        note = f" ({tool.problem})" if tool.problem else ""
        lines.append(
            f"| {tool.name}{note} | {tool.version} | {len(tool.wall)} | {'/'.join(map(str, sorted(set(tool.requests))))} "
            f"| {wall:.2f} | {cpu:.2f} | {1000 * cpu / items:.2f} | {ratios[0]} | {ratios[1]} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000, help="questions (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight per tool (default 16)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=50.0, help="server delay per request (default 50)"
    )
    parser.add_argument(
        "--envs", type=Path, default=ROOT / ".bench-envs", help="peers' environments"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, tts-bench first")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (default 1)")
    parser.add_argument(
        "--tts-arg", action="append", default=[], help="extra `tts-bench run` argument (repeatable)"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    if (
        names[:1] != ["tts-bench"]
        or not set(names) <= set(TOOLS)
        or min(args.items, args.rounds, args.concurrency) < 1
    ):
        parser.error(f"--tools: tts-bench first, then any of {', '.join(TOOLS[1:])}; counts >= 1")
    server = EchoServer(args.latency_ms / 1000)
    url = server.start()
    args.envs.mkdir(parents=True, exist_ok=True)
    # Compiled modules cached as an installed package has them (tts-bench runs from its
    # source tree, where PYTHONDONTWRITEBYTECODE would recompile it in every process).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(args.envs.resolve() / "pycache")
    with tempfile.TemporaryDirectory(prefix="tts-peers-") as tmp:
        work = Path(tmp)
        items = write_items(work, args.items)
        tools = []
        for name in names:
            print(f"preparing {name} ...", file=sys.stderr, flush=True)
            tools.append(prepare(name, work, items, url, args.concurrency, args.envs))
        tools[0].argv += args.tts_arg
        for round_ in range(args.warmup + args.rounds):
            for tool in (t for t in tools if t.argv and not t.problem):
                count = round_ >= args.warmup
                measure(tool, server, work, args.envs / f"{tool.name}-last.log", count)
                last = (
                    f"{tool.wall[-1]:.2f} s wall, {tool.cpu[-1]:.2f} s CPU"
                    if count and not tool.problem
                    else ""
                )
                print(
                    f"round {round_ + 1} {tool.name}: {tool.problem or last or 'warm-up'}",
                    file=sys.stderr,
                    flush=True,
                )
    print(
        f"{args.items} items, one call each; server delay {args.latency_ms:g} ms; concurrency "
        f"{args.concurrency}; {args.rounds} interleaved rounds after {args.warmup} warm-up; load average {os.getloadavg()[0]:.2f}"
    )
    print(table(tools, args.items))


if __name__ == "__main__":
    main()
