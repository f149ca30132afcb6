"""Browser tests: Playwright driving Debian's chromium against one uvicorn server.

The server runs in a thread on a free loopback port, over a small knowledge base made from a
few real corpus files (hashing embedder, so it builds in seconds), and is shared by every
test of the session, as is the browser. Screenshots go to ``tests/artifacts/`` (git-ignored).
Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing
(``make test`` installs chromium with apt).
"""

from __future__ import annotations

import csv
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.config import ApiSettings
from ingest.embedders import HashingEmbedder
from ingest.kb import open_kb
from ingest.pipeline import run_ingest
from ingest.settings import Settings
from tests.conftest import SHARED_CORPUS

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FILES = (
    "regulations/cn/安全生产法(2021-06-10).md",
    "regulations/us/29cfr1910/1910.146.html",
    "regulations/us/29cfr1910/1910.132.html",
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def web_settings(tmp_path_factory) -> Settings:
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"starter corpus not found at {SHARED_CORPUS}")
    base = tmp_path_factory.mktemp("web")
    root = base / "corpus"
    with (SHARED_CORPUS / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["path"] in FILES]
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_CORPUS / rel, root / rel)
    with (root / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Settings(
        data_dir=base / "data", corpus=[root], embedder="hashing", embed_cache=base / "cache.sqlite"
    )


@pytest.fixture(scope="session")
def server(web_settings: Settings) -> Iterator[str]:
    import uvicorn

    kb = open_kb(web_settings, embedder=HashingEmbedder())
    report = run_ingest(kb)
    assert not report.failed, report.failed
    app = create_app(
        kb=kb,
        settings=web_settings,
        api_settings=ApiSettings(_env_file=None, rate_limit_per_minute=10_000),  # type: ignore[call-arg]
    )
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, name="uvicorn-browser-tests", daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > end or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=15)
    kb.close()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install -y chromium (make test does it)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            accept_downloads=True,
            locale="en-US",
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(20_000)
        yield context
        context.close()


@pytest.fixture
def page(browser_context, server):
    pg = browser_context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server + "/")
    pg.wait_for_selector("body[data-ready='1']")
    pg.evaluate("localStorage.setItem('anquan.lang', 'en')")
    yield pg
    pg.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def shot():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, element: str | None = None) -> Path:
        """The viewport, or one element (``element`` is its selector)."""
        path = ARTIFACTS / f"{name}.png"
        if element:
            page.locator(element).screenshot(path=str(path))
        else:
            page.screenshot(path=str(path))
        return path

    return save
