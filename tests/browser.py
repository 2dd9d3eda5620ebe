"""Headless Chromium for the tests: a folder served over HTTP and a page's DOM after its scripts.

Chromium is Debian's package (``apt-get install chromium``); the tests that need it skip
with :data:`NO_CHROMIUM` as the reason when :data:`CHROMIUM` is ``None``. A harness page (a
static HTML file whose script measures other pages of the same origin in iframes and writes
the result into ``pre#result``) is served with :func:`serve` and read back with
:func:`harness_result`.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
NO_CHROMIUM = (
    "no chromium binary (chromium, chromium-browser or google-chrome) on PATH; install "
    "Debian's package with `apt-get install chromium` to run the headless browser tests"
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``directory`` served over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def dump_dom(url: str, profile: Path, budget_ms: int = 10000, timeout: float = 120) -> str:
    """The DOM of ``url`` after Chromium ran its scripts (headless, no network but ``url``).

    ``budget_ms`` is Chromium's virtual time budget (timers and loads run until it is spent),
    ``timeout`` the wall-clock limit in seconds; ``profile`` a fresh directory for Chromium's
    profile, configuration and cache.
    """
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        url,
    ]
    env = {**os.environ, "HOME": str(profile), "XDG_CONFIG_HOME": str(profile / "config")}
    env["XDG_CACHE_HOME"] = str(profile / "cache")
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def harness_result(url: str, profile: Path, **kwargs: Any) -> Any:
    """Open the harness page ``url`` and return the JSON its script wrote into ``pre#result``.

    ``kwargs`` go to :func:`dump_dom`; an assertion fails with the end of the DOM if the
    harness wrote no result.
    """
    dom = dump_dom(url, profile, **kwargs)
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, f"the harness wrote no result; dumped DOM:\n{dom[-2000:]}"
    return json.loads(html.unescape(found.group(1)))
