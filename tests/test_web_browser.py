"""The web UI in a real browser: Debian's headless Chromium driven by Playwright (its own browser
download is never used: ``executable_path``), against uvicorn serving a database the pipeline
filled, with a token configured. Skipped without a chromium binary, except under CI.

``MONITOR_SCREENSHOTS=docs`` saves the README's screenshots (topic page, desktop and phone).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from monitor.config import WebConfig
from monitor.web.app import create_app
from monitor.web.database import open_readonly
from tests.servers import Site
from tests.webdata import ARABIC_TITLE, HOSTILE_TITLE, TOKEN, fill

PAGE_SIZE = 5
STORIES = 12
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]  # with --headless (Playwright's headless=True) and a fresh --user-data-dir (a new temporary folder)


def chromium() -> str | None:
    for candidate in (os.environ.get("MONITOR_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = chromium()
    if path is None:
        reason = "no chromium binary (apt-get install chromium, or set MONITOR_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


class _Server(uvicorn.Server):
    """uvicorn in a thread, telling when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The web UI on 127.0.0.1 (a free port), token required, over a filled SQLite database."""
    folder = tmp_path_factory.mktemp("browser")
    site = Site()
    try:
        cfg = fill(folder, f"sqlite:///{folder / 'monitor.db'}", site, now=datetime.now(UTC))
    finally:
        site.close()  # the pages link to the outlets; the browser never needs them
    cfg = cfg.model_copy(update={"web": WebConfig(token=TOKEN)})
    engine = open_readonly(cfg.database)
    app = create_app(cfg, engine, page_size=PAGE_SIZE)
    srv = _Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(srv.serve()), daemon=True)
    thread.start()
    assert srv.ready.wait(60), "uvicorn did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)
    engine.dispose()


@pytest.fixture(scope="module")
def browser(chromium_path, server, tmp_path_factory):
    """One Chromium for the module (after the server: filling it needs this thread's event loop,
    which Playwright's sync API then occupies)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser):
    """A tab that records alert dialogs and CSP violations (neither may happen)."""
    tab = browser.new_page()
    problems: list[str] = []
    tab.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    tab.on(
        "console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None
    )
    tab.problems = problems
    yield tab
    assert problems == []
    tab.close()


def log_in(page, base: str, path: str) -> None:
    """Open ``path``; if the login form shows, give it the token (it brings us back)."""
    page.goto(base + path)
    if page.locator('input[name="token"]').count():
        page.fill('input[name="token"]', TOKEN)
        page.click('form.login button[type="submit"]')
        page.wait_for_url(base + path)


def shoot(page, name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path))
    if os.environ.get("MONITOR_SCREENSHOTS"):
        target = Path(os.environ["MONITOR_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


def test_login_then_topic_page_with_highlights_rtl_and_a_harmless_hostile_title(
    browser, page, server, tmp_path
):
    browser.clear_cookies()
    response = page.goto(server + "/topics/seghrouchni")
    assert response.status == 401 and page.locator("h1").inner_text() == "Log in"
    page.fill('input[name="token"]', "not-the-token-at-all")
    page.click('form.login button[type="submit"]')
    assert page.locator("p.error").inner_text() == "wrong token"
    page.fill('input[name="token"]', TOKEN)
    page.click('form.login button[type="submit"]')
    page.wait_for_url(server + "/topics/seghrouchni")
    assert page.locator("h1").inner_text() == "Latest news with Seghrouchni"
    cookie = next(c for c in browser.cookies() if c["name"] == "monitor_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it

    stories = page.locator("article.story")
    assert stories.count() == PAGE_SIZE
    marks = page.locator("article.story mark").all_inner_texts()
    assert "Seghrouchni" in marks and "السغروشني" in marks
    assert page.locator("article.story p.also a").all_inner_texts() == ["Wire"]

    hostile = page.locator("article.story h3", has_text="<img src=x onerror=alert(1)>")
    assert hostile.count() == 1 and hostile.inner_text() == HOSTILE_TITLE
    assert page.evaluate("document.images.length") == 0

    arabic = page.locator("article.story div.text", has=page.locator("h3", has_text=ARABIC_TITLE))
    assert arabic.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert arabic.get_attribute("lang") == "ar"
    title_box, card_box = arabic.locator("h3 a").bounding_box(), arabic.bounding_box()
    right_gap = card_box["x"] + card_box["width"] - (title_box["x"] + title_box["width"])
    assert right_gap < 2 < title_box["x"] - card_box["x"]  # set against the right edge
    english = page.locator("article.story div.text").first
    assert english.evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert page.locator("figure.chart svg rect.day").count() == 30
    shoot(page, "topic-page.png", tmp_path)


def test_paging_through_every_story_then_back_to_the_newest(page, server):
    log_in(page, server, "/topics/seghrouchni")
    seen, pages = [], 0
    while True:
        pages += 1
        seen += page.locator("article.story").evaluate_all("cards => cards.map(c => c.id)")
        older = page.locator('nav.paging a[rel="next"]')
        if not older.count():
            break
        older.click()
        page.wait_for_load_state()
        assert pages < 10
    assert len(seen) == len(set(seen)) == STORIES and pages == 3
    page.click("text=Newest")
    page.wait_for_url(server + "/topics/seghrouchni")
    assert page.locator("article.story").first.get_attribute("id") == seen[0]


def test_opening_a_story_shows_every_outlet_and_its_text(page, server):
    log_in(page, server, "/topics/seghrouchni")
    page.locator("article.story p.more a", has_text="Story").first.click()
    page.wait_for_url("**/stories/*")
    assert page.locator("ol.articles li .outlet").all_inner_texts() == ["Atlas", "Wire"]
    assert "Rabat - Minister Delegate" in page.locator("div.fulltext").inner_text()
    assert "Seghrouchni" in page.locator("div.fulltext mark").all_inner_texts()
    page.click("p.topics-matched a")
    page.wait_for_url(server + "/topics/seghrouchni")


def test_pages_fit_a_phone(browser, server, tmp_path):
    phone = browser.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    try:
        for path in ("/", "/topics/seghrouchni", "/sources", "/alerts", "/search?q=Seghrouchni"):
            log_in(phone, server, path)
            width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (path, width)
        log_in(phone, server, "/topics/seghrouchni")
        shoot(phone, "topic-page-phone.png", tmp_path)
    finally:
        phone.close()
