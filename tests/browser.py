"""Drive headless Debian chromium through playwright for the report's browser tests.

`chromium_path()` finds the system browser (never downloads one); `launch()` is a context
manager yielding one playwright Browser (share it across a test module: the sync API allows
one at a time); `load(browser, path)` opens a file in a new page with every non-file request
aborted and recorded, and dialogs / page errors recorded, on `page.events`.

As a script it takes the screenshot in docs/report.md from a report (the top of the page,
1280 × 1500 px by default):

    .venv/bin/tts-bench run suites/demo.yaml --out /tmp/demo-shot --run-id demo -q
    .venv/bin/python tests/browser.py screenshot /tmp/demo-shot/demo/report.html docs/img/report.png
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_REASON = (
    "!!! HEADLESS CHROMIUM NOT FOUND: THE BROWSER TESTS OF THE HTML REPORT ARE SKIPPED. "
    "Install Debian's chromium (scripts/ensure-chromium.sh) to run them. !!!"
)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextmanager
def launch() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise RuntimeError(SKIP_REASON)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def load(browser: Any, path: Path, *, width: int = 1280, height: int = 900) -> Any:
    """A new page with `path` loaded (file://); close it with page.close()."""
    page = browser.new_page(viewport={"width": width, "height": height})
    events: dict[str, list[str]] = {"dialogs": [], "errors": [], "requests": []}
    page.events = events

    def on_dialog(d: Any) -> None:
        events["dialogs"].append(d.message)
        d.dismiss()

    def on_route(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            events["requests"].append(url)
            route.abort()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
    page.route("**/*", on_route)
    page.goto(Path(path).resolve().as_uri(), wait_until="load")
    return page


@contextmanager
def open_page(path: Path, **kw: Any) -> Iterator[Any]:
    """One-off: launch, load `path`, yield the page, close everything."""
    with launch() as browser:
        yield load(browser, path, **kw)


def screenshot(report: Path, out: Path, *, width: int = 1280, height: int = 1500) -> Path:
    """The top width × height px of `report` as a PNG at `out`; page errors abort."""
    with open_page(report, width=width, height=height) as page:
        if page.events["errors"] or page.events["requests"]:
            raise RuntimeError(f"{report}: {page.events}")
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        page.close()
    return out


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Screenshot a tts-bench report.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    shot = sub.add_parser("screenshot", help="REPORT.html -> OUT.png (the top of the page)")
    shot.add_argument("report", type=Path)
    shot.add_argument("out", type=Path)
    shot.add_argument("--width", type=int, default=1280)
    shot.add_argument("--height", type=int, default=1500)
    a = ap.parse_args(argv)
    print(screenshot(a.report, a.out, width=a.width, height=a.height))


if __name__ == "__main__":
    main()
