"""A plain `tts-bench run` of an HTTP suite (local JSONL data, an OpenAI-compatible endpoint,
no `pricing:`) imports none of the heavy libraries before its first request: they cost
seconds of start-up and the run does not need them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tts_bench.sim.server_thread import ServerThread

HEAVY = ("litellm", "openai", "pandas", "pyarrow", "datasets", "scipy", "numpy", "jinja2")

# Runs the CLI with an audit hook that writes sys.modules to a file at the first connection
# to the server's port: the modules loaded before the first request, whatever the code path.
WRAPPER = """
import json, runpy, sys
port, out = int(sys.argv[1]), sys.argv[2]
done = []
def hook(event, args):
    if event == "socket.connect" and not done:
        address = args[1]
        if isinstance(address, tuple) and len(address) >= 2 and address[1] == port:
            done.append(True)
            with open(out, "w") as f:
                json.dump(sorted(sys.modules.copy()), f)
sys.addaudithook(hook)
sys.argv = ["tts-bench", *sys.argv[3:]]
runpy.run_module("tts_bench.cli", run_name="__main__")
"""


def _suite(tmp: Path, url: str) -> Path:
    with (tmp / "items.jsonl").open("w") as f:
        for i in range(4):
            f.write(json.dumps({"id": f"q{i}", "question": f"What is {i} + 4?", "answer": i + 4}))
            f.write("\n")
    suite = {
        "name": "startup",
        "dataset": {"source": str(tmp / "items.jsonl"), "fields": {"input": "question"}},
        "prompt": {"template": "{question}\nEnd with 'Final answer: <number>'."},
        "scorer": {"type": "numeric"},
        "defaults": {"model": "openai/sim-small", "api_base": url, "max_tokens": 64},
        "limits": {"concurrency": 2, "timeout_s": 30, "retries": 0},
        "baseline": "single",
        "configs": [{"name": "single", "strategy": "single"}],
    }
    path = tmp / "suite.yaml"
    path.write_text(json.dumps(suite))  # JSON is YAML
    return path


def test_http_run_imports_nothing_heavy_before_its_first_request(tmp_path: Path) -> None:
    seen = tmp_path / "modules.json"
    with ServerThread(time_scale=0.0) as srv:
        suite = _suite(tmp_path, srv.url)
        args = ["run", str(suite), "--out", str(tmp_path / "runs"), "--no-report", "--quiet"]
        done = subprocess.run(
            [sys.executable, "-c", WRAPPER, str(srv.port), str(seen), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert len(srv.log) >= 4  # the run's calls went to this server
    modules = json.loads(seen.read_text())  # written at the first connection
    assert "tts_bench.llm.backends.openai_http" in modules
    loaded = sorted({m.split(".")[0] for m in modules} & set(HEAVY))
    assert loaded == [], f"imported before the first request: {loaded}"
