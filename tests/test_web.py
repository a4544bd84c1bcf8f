"""The web UI's routes, through Starlette's test client, over a database filled by the real
pipeline from generated outlets (tests/webdata.py), on SQLite and PostgreSQL; and `monitor serve`
as a subprocess (missing database, off-loopback refusal, SIGTERM)."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import lxml.html
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from monitor.config import ConfigError, TopicConfig, WebConfig, load
from monitor.db.migrate import alembic_config, upgrade
from monitor.db.models import Base, Topic
from monitor.db.session import make_engine
from monitor.match import Matcher, QueryError
from monitor.web.app import create_app
from monitor.web.database import DatabaseUnavailable, open_readonly
from tests.databases import BASE_PG_URL, create_database, drop_database
from tests.servers import Site
from tests.webdata import (
    ARABIC_TITLE,
    DATA_TITLE,
    FRENCH_TITLE,
    HOSTILE_TITLE,
    SECRET,
    TOKEN,
    fill,
)

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Africa/Casablanca")


def _anchor() -> datetime:
    """The last local noon: articles dated up to 12 h before it are all "today"."""
    local = datetime.now(TZ)
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    return (noon if noon <= local else noon - timedelta(days=1)).astimezone(UTC)


ANCHOR = _anchor()
NOW = ANCHOR + timedelta(minutes=30)
SEGHROUCHNI_STORIES = 12


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def filled(request, tmp_path_factory, pg_available):
    """A config whose database the pipeline filled (three passes: the broken feed is then failing)."""
    folder = tmp_path_factory.mktemp("web")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'monitor.db'}"
    elif not pg_available:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {BASE_PG_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {BASE_PG_URL}")
    else:
        url = create_database("web")
    site = Site()
    try:
        yield fill(folder, url, site, now=ANCHOR, runs=3)
    finally:
        site.close()
        if request.param == "postgres":
            drop_database(url)


def _client(cfg, **options):
    engine = open_readonly(cfg.database)
    return engine, TestClient(create_app(cfg, engine, clock=lambda: NOW, **options))


@pytest.fixture
def client(filled):
    engine, client = _client(filled, page_size=3)
    with client:
        yield client
    engine.dispose()


def html(response) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(response.text)


def story_cards(doc) -> list[dict]:
    cards = []
    for card in doc.cssselect("article.story"):
        text = card.cssselect("div.text")[0]
        cards.append(
            {
                "id": int(card.get("id").removeprefix("story-")),
                "outlet": card.cssselect(".outlet")[0].text_content(),
                "title": card.cssselect("h3")[0].text_content(),
                "marks": [m.text_content() for m in card.cssselect("mark")],
                "also": [a.text_content() for a in card.cssselect("p.also a")],
                "lang": text.get("lang"),
                "dir": text.get("dir"),
                "when": card.cssselect("time")[0].get("datetime"),
                "exact": card.cssselect("time")[0].get("title"),
            }
        )
    return cards


def all_pages(client, path: str) -> tuple[list[dict], int]:
    """Follow "Older stories" from ``path``; every card, and how many pages."""
    cards, pages = [], 0
    while path:
        response = client.get(path)
        assert response.status_code == 200
        doc = html(response)
        cards += story_cards(doc)
        pages += 1
        older = doc.cssselect('nav.paging a[rel="next"]')
        path = older[0].get("href") if older else None
        assert pages < 20
    return cards, pages


# --------------------------------------------------------------------------- pages


def test_index_shows_every_topic_with_counts_chart_latest_story_and_failing_sources(client):
    response = client.get("/")
    assert response.status_code == 200
    doc = html(response)
    cards = {c.cssselect("h2 a")[0].text_content(): c for c in doc.cssselect("section.topic-card")}
    assert list(cards) == ["Seghrouchni", "Data centres"]
    assert cards["Seghrouchni"].cssselect("h2 a")[0].get("href") == "/topics/seghrouchni"
    counts = [b.text_content() for b in cards["Seghrouchni"].cssselect("p.counts b")]
    assert counts == ["6", "10", "13"]  # today / 7 days / 30 days (matches, the reprint included)
    assert [b.text_content() for b in cards["Data centres"].cssselect("p.counts b")] == ["2", "2", "2"]
    bars = cards["Seghrouchni"].cssselect("svg rect.day")
    assert len(bars) == 30 and bars[-1].getparent().cssselect("title")[0].text_content().endswith(": 6")
    assert (
        "Wire" not in cards["Seghrouchni"].cssselect("p.latest")[0].text_content()
    )  # the story's first article
    assert (
        "Seghrouchni launches national programme"
        in cards["Seghrouchni"].cssselect("p.latest")[0].text_content()
    )
    strip = doc.cssselect("section.health")[0].text_content()
    assert "1 of 5 sources need attention" in strip and "Broken" in strip and "failing" in strip


def test_topic_page_stories_newest_first_highlighted_with_other_outlets(client):
    response = client.get("/topics/seghrouchni")
    assert response.status_code == 200
    doc = html(response)
    assert doc.cssselect("h1")[0].text_content() == "Latest news with Seghrouchni"
    cards = story_cards(doc)
    assert [c["outlet"] for c in cards] == ["Atlas", "Hespress", "Atlas"]
    dispatch, arabic, hostile = cards
    assert dispatch["title"].startswith("Seghrouchni launches national programme")
    assert dispatch["also"] == ["Wire"] and "Seghrouchni" in dispatch["marks"]
    assert (
        dispatch["exact"].endswith("(Africa/Casablanca)")
        and dispatch["when"] > arabic["when"] > hostile["when"]
    )
    assert arabic["title"] == ARABIC_TITLE and arabic["lang"] == "ar" and arabic["dir"] == "rtl"
    assert "السغروشني" in arabic["marks"]
    assert dispatch["lang"] == "en" and dispatch["dir"] == "ltr"
    feed = doc.cssselect('link[rel="alternate"][type="application/atom+xml"]')[0]
    assert feed.get("href") == "/topics/seghrouchni.atom"
    assert len(doc.cssselect("figure.chart svg rect.day")) == 30


def test_a_hostile_title_is_shown_as_text(client):
    response = client.get("/topics/seghrouchni")
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    titles = [c["title"] for c in story_cards(html(response))]
    assert HOSTILE_TITLE in titles
    assert not html(response).cssselect("img")


def test_paging_visits_every_story_once_in_order(client):
    cards, pages = all_pages(client, "/topics/seghrouchni")
    ids = [c["id"] for c in cards]
    assert len(ids) == SEGHROUCHNI_STORIES == len(set(ids)) and pages == 4
    times = [c["when"] for c in cards]
    assert times == sorted(times, reverse=True)
    older = html(client.get("/topics/seghrouchni")).cssselect('nav.paging a[rel="next"]')[0].get("href")
    assert html(client.get(older)).cssselect("nav.paging a")[0].text_content() == "Newest"


def test_filters_by_outlet_language_and_dates(client):
    only = story_cards(html(client.get("/topics/seghrouchni?source=Hespress")))
    assert [c["title"] for c in only] == [ARABIC_TITLE]
    french = story_cards(html(client.get("/topics/seghrouchni?lang=fr")))
    assert [c["title"] for c in french] == [FRENCH_TITLE]
    today = f"{ANCHOR.astimezone(TZ):%Y-%m-%d}"
    cards, _ = all_pages(client, f"/topics/seghrouchni?from={today}&to={today}")
    assert len(cards) == 5  # the dispatch story, the Arabic, hostile, French and one English article
    week_ago = f"{(ANCHOR - timedelta(days=10)).astimezone(TZ):%Y-%m-%d}"
    older, _ = all_pages(client, f"/topics/seghrouchni?to={week_ago}")
    assert len(older) == 2  # 15 and 20 days old
    # Paging keeps the filters.
    first = html(client.get(f"/topics/seghrouchni?from={today}"))
    assert f"from={today}" in first.cssselect('nav.paging a[rel="next"]')[0].get("href")


def test_bad_filters_get_a_message_on_the_page(client):
    response = client.get("/topics/seghrouchni?from=yesterday&source=Nope&before=soon")
    assert response.status_code == 400
    errors = [p.text_content() for p in html(response).cssselect("p.error")]
    assert "unknown outlet 'Nope'" in errors
    assert any(e.startswith("from: invalid date 'yesterday'") for e in errors)
    assert any(e.startswith("before: invalid date 'soon'") for e in errors)
    assert client.get("/topics/nope").status_code == 404
    assert client.get("/stories/999999").status_code == 404


def test_french_and_arabic_text_intact(client):
    response = client.get("/topics/seghrouchni?lang=fr")
    assert FRENCH_TITLE in html(response).text_content()
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_story_page_every_outlet_first_and_last_seen_topics_and_text(client):
    doc = html(client.get("/topics/seghrouchni"))
    link = doc.cssselect("article.story p.more a")[0].get("href")
    response = client.get(link)
    assert response.status_code == 200
    page = html(response)
    outlets = [o.text_content() for o in page.cssselect("ol.articles .outlet")]
    assert outlets == ["Atlas", "Wire"]
    meta = page.cssselect("p.meta")[0].text_content()
    assert "2 articles" in meta and "first seen" in meta and "last seen" in meta
    assert [a.text_content() for a in page.cssselect("p.topics-matched a")] == ["Seghrouchni"]
    text = page.cssselect("div.fulltext")[0]
    assert "Rabat - Minister Delegate in charge of Digital Transition" in text.text_content()
    assert "Seghrouchni" in [m.text_content() for m in text.cssselect("mark")]


def test_story_of_two_topics_lists_both(client):
    doc = html(client.get("/topics/data-centres"))
    french = next(c for c in story_cards(doc) if c["title"] == FRENCH_TITLE)
    page = html(client.get(f"/stories/{french['id']}"))
    assert [a.text_content() for a in page.cssselect("p.topics-matched a")] == ["Data centres", "Seghrouchni"]
    assert page.cssselect("div.fulltext")[0].get("dir") == "ltr"
    assert [c["title"] for c in story_cards(doc)] == [DATA_TITLE, FRENCH_TITLE]


def test_sources_page_shows_health(client):
    doc = html(client.get("/sources"))
    rows = {r.get("id"): r for r in doc.cssselect("table.grid tbody tr[id]")}
    assert list(rows) == ["Atlas", "Wire", "Hespress", "Le Matin", "Broken"]
    assert "failing" in rows["Broken"].text_content() and "ok" in rows["Atlas"].text_content()
    assert "404" in rows["Broken"].getnext().text_content()


def test_alerts_page_shows_the_outbox_without_secrets(filled, client):
    response = client.get("/alerts")
    assert response.status_code == 200 and SECRET not in response.text
    doc = html(response)
    statuses = [s.text_content() for s in doc.cssselect("span.status")]
    assert statuses.count("sent") == 14 and statuses.count("failed") == 14
    assert "500" in doc.cssselect("tr.status-failed")[0].getnext().text_content()
    failed = html(client.get("/alerts?status=failed&channel=down"))
    assert {s.text_content() for s in failed.cssselect("span.status")} == {"failed"}
    bad = client.get("/alerts?status=lost")
    assert bad.status_code == 400 and "unknown status 'lost'" in html(bad).text_content()


def test_alert_errors_are_redacted_even_if_stored_with_a_secret(filled, tmp_path):
    """Errors are redacted when stored; the page redacts again (an older version may have stored one)."""
    engine = make_engine(filled.database)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE alerts SET last_error = :e WHERE id = (SELECT min(id) FROM alerts)"),
            {"e": f"POST json://monitor:{SECRET}@host/hook-down failed"},
        )
    engine.dispose()
    engine, client = _client(filled)
    try:
        response = client.get("/alerts")
        assert SECRET not in response.text
        # as send.py redacts: only the secret (alerts.secrets), the user and the path stay readable
        assert "POST json://monitor:***@host/hook-down failed" in html(response).text_content()
    finally:
        engine.dispose()


def test_search_explains_each_hit_and_reports_bad_queries_like_the_cli(client):
    response = client.get("/search", params={"q": 'Tangier AND "data centre"', "since": "all"})
    assert response.status_code == 200
    doc = html(response)
    titles = [h.text_content() for h in doc.cssselect("article.story h3")]
    assert titles == [DATA_TITLE]
    why = doc.cssselect("p.why")[0]
    assert {t.strip() for t in why.cssselect(".terms")[0].text_content().split(",")} == {
        "data centre",
        "Tangier",
    }
    assert "in title and body" in why.text_content()
    arabic = html(client.get("/search", params={"q": "السغروشني"})).cssselect("article.story div.text")
    assert [(d.get("lang"), d.get("dir")) for d in arabic] == [("ar", "rtl")]
    bad = "Seghrouchni AND (minister"
    response = client.get("/search", params={"q": bad})
    assert response.status_code == 400
    with pytest.raises(QueryError) as expected:
        Matcher([TopicConfig(name="(query)", query=bad)])
    assert html(response).cssselect("p.error")[0].text_content() == str(expected.value)


# --------------------------------------------------------------------------- the Atom feed


def test_atom_feed_is_valid_with_the_stories_and_answers_304(client):
    response = client.get("/topics/seghrouchni.atom")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and parsed.feed.title == "Latest news with Seghrouchni"
    assert len(parsed.entries) == SEGHROUCHNI_STORIES
    first = parsed.entries[0]
    assert first.title.startswith("Seghrouchni launches national programme") and first.author == "Atlas"
    assert first.link.endswith("/atlas/dispatch/") and first.id.startswith("urn:monitor:story:")
    assert "Seghrouchni" in first.summary and first.published_parsed and first.updated_parsed
    assert (
        "Also reported by: Wire" in first.content[0].value
        and "<strong>Seghrouchni</strong>" in first.content[0].value
    )
    assert first.source.title == "Atlas" and [t.term for t in first.tags] == ["Seghrouchni"]
    assert HOSTILE_TITLE in [e.title for e in parsed.entries]
    etag, modified = response.headers["etag"], response.headers["last-modified"]
    again = client.get("/topics/seghrouchni.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/topics/seghrouchni.atom", headers={"If-Modified-Since": modified}).status_code == 304
    other = client.get("/topics/seghrouchni.atom?lang=ar", headers={"If-None-Match": etag})
    assert other.status_code == 200 and len(feedparser.parse(other.content).entries) == 1
    assert client.get("/topics/seghrouchni.atom", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_an_empty_topic_has_a_valid_feed(filled):
    cfg = filled.model_copy(
        update={"topics": [*filled.topics, TopicConfig(name="Nobody", keywords=["zzzz"])]}
    )
    engine, client = _client(cfg)
    try:
        response = client.get("/topics/nobody.atom")
        parsed = feedparser.parse(response.content)
        assert response.status_code == 200 and not parsed.bozo and parsed.entries == []
        page = client.get("/topics/nobody")
        assert page.status_code == 200 and "No stories" in page.text
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- safety


PAGES = ["/", "/topics/seghrouchni", "/stories/1", "/sources", "/alerts", "/search?q=Seghrouchni", "/login"]


def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(client):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        doc = html(response)
        assert not doc.cssselect("script") and not doc.cssselect("[style]") and not doc.cssselect("style"), (
            path
        )
        assert not [e for e in doc.iter() if any(k.startswith("on") for k in e.attrib)], path
        for link in doc.cssselect("link[href], a[href], form[action]"):
            target = link.get("href") or link.get("action")
            assert target.startswith(("/", "#", "?", "http://127.0.0.1")), (path, target)
    assert client.get("/static/style.css").status_code == 200


def test_gets_change_nothing_and_the_engine_cannot_write(filled, client):
    assert client.post("/").status_code == 405
    assert client.post("/topics/seghrouchni").status_code == 405
    engine = open_readonly(filled.database)
    try:
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(insert(Topic).values(name="written", definition={}, updated_at=NOW))
    finally:
        engine.dispose()


@pytest.fixture
def guarded(filled):
    cfg = filled.model_copy(update={"web": WebConfig(token=TOKEN)})
    engine, client = _client(cfg)
    with client:
        yield client
    engine.dispose()


def test_token_bearer_cookie_and_feed_parameter(guarded):
    page = guarded.get("/topics/seghrouchni", headers={"Accept": "text/html"})
    assert page.status_code == 401 and html(page).cssselect('form[action="/login"] input[name="token"]')
    assert html(page).cssselect('input[name="next"]')[0].get("value") == "/topics/seghrouchni"
    assert guarded.get("/topics/seghrouchni.atom").status_code == 401
    assert guarded.get("/topics/seghrouchni?token=" + TOKEN).status_code == 401  # pages: no token in URLs
    assert guarded.get("/", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert guarded.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    feed = guarded.get(f"/topics/seghrouchni.atom?token={TOKEN}")
    assert feed.status_code == 200 and TOKEN not in feed.text  # the self link drops it
    assert guarded.get("/static/style.css").status_code == 200


def test_login_form_sets_a_strict_httponly_cookie(guarded):
    wrong = guarded.post("/login", data={"token": "nope", "next": "/sources"}, follow_redirects=False)
    assert wrong.status_code == 401 and "wrong token" in wrong.text and "set-cookie" not in wrong.headers
    ok = guarded.post("/login", data={"token": TOKEN, "next": "/sources"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/sources"
    cookie = ok.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
        and TOKEN not in cookie
    )
    assert guarded.get("/sources").status_code == 200  # the client keeps the cookie
    out = guarded.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and guarded.get("/sources").status_code == 401
    away = guarded.post("/login", data={"token": TOKEN, "next": "//evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/"


# --------------------------------------------------------------------------- opening the database


def test_open_readonly_never_creates_and_says_why(tmp_path, db_url):
    if db_url.startswith("sqlite"):
        with pytest.raises(DatabaseUnavailable, match=r"no such file .*monitor\.db; `monitor run`"):
            open_readonly(db_url)
        assert not (tmp_path / "monitor.db").exists()
    else:
        with pytest.raises(DatabaseUnavailable, match="has no monitor tables yet"):
            open_readonly(db_url)
    engine = make_engine(db_url)
    upgrade(engine, "0003")
    engine.dispose()
    with pytest.raises(DatabaseUnavailable, match=r"at schema revision 0003, .*run `monitor db upgrade`"):
        open_readonly(db_url)


def test_web_token_config_errors_are_precise(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text("database: sqlite:///x.db\nweb:\n  token: short\n")
    with pytest.raises(ConfigError, match=r"monitor\.yaml:3: web\.token: the token must be at least 16"):
        load(path)
    path.write_text("web:\n  tokn: x\n")
    with pytest.raises(ConfigError, match=r"monitor\.yaml:2: web\.tokn: unknown key"):
        load(path)
    path.write_text("web:\n  token: ''\n")
    assert load(path).web.token is None


# --------------------------------------------------------------------------- `monitor serve`


def _monitor(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("MONITOR_CONFIG", "MONITOR_DATABASE")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs,
    )  # fmt: skip


def _config_file(tmp_path: Path, database: str, **extra) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(json.dumps({"database": database, **extra}))
    return path


def test_serve_says_which_database_file_is_missing_and_creates_nothing(tmp_path):
    config = _config_file(tmp_path, "sqlite:///data/monitor.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _monitor(["--config", str(config), "serve"], elsewhere)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(elsewhere / "data" / "monitor.db") in lines[0] and "no such file" in lines[0]
    assert f"relative to {elsewhere}" in lines[0]
    assert not (elsewhere / "data").exists()


def test_serve_refuses_to_bind_off_loopback_without_a_token(tmp_path):
    config = _config_file(tmp_path, f"sqlite:///{tmp_path / 'monitor.db'}")
    proc = _monitor(["--config", str(config), "serve", "--http", "0.0.0.0:8765"], tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        f"--http 0.0.0.0:8765: refusing to serve off loopback without a token: anyone who can reach "
        f"0.0.0.0 could read your coverage; set web: {{token: ...}} in {config}, or bind 127.0.0.1"
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_answers_then_stops_on_sigterm(tmp_path):
    database = f"sqlite:///{tmp_path / 'monitor.db'}"
    engine = make_engine(database)
    upgrade(engine)
    engine.dispose()
    config = _config_file(tmp_path, database, topics=[{"name": "Seghrouchni", "keywords": ["Seghrouchni"]}])
    port = _free_port()
    proc = _monitor(["--config", str(config), "serve", "--http", f"127.0.0.1:{port}"], tmp_path)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    try:
        seen = []
        while not any("Uvicorn running on" in line for line in seen):
            seen.append(lines.get(timeout=60))
        assert any("read-only" in line for line in seen), seen
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/topics/seghrouchni", timeout=10) as response:
            assert response.status == 200 and b"Latest news with" in response.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_migration_0005_downgrades_and_upgrades(engine):
    command.downgrade(alembic_config(engine), "0004")
    names = {i["name"] for i in inspect(engine).get_indexes("articles")}
    assert "ix_articles_timeline" not in names and "ix_articles_story_id" not in names
    upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
