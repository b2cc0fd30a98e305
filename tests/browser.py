"""Drive headless Debian chromium through playwright for the report's browser tests.

`chromium_path()` finds the system browser (never downloads one); `launch()` is a context
manager yielding one playwright Browser (share it across a test module: the sync API allows
one at a time); `load(browser, path)` opens a file in a new page with every non-file request
aborted and recorded, and dialogs / page errors recorded, on `page.events`.
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
