"""Alerts: outbox (enqueue, claim, retry, lease, dead), rendering, and real deliveries.

Deliveries go to real local servers: the HTTP ``Site`` for json:// and Slack's webhook, and an
aiosmtpd server for mailto://. Nothing is mocked.
"""

from __future__ import annotations

import email
import json
import threading
from datetime import datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

import monitor.alerts  # noqa: F401  (registers console:// and logfile://)
from monitor.alerts.outbox import SendStats, claim, enqueue, send_pending
from monitor.alerts.render import AlertView, build_view, render
from monitor.alerts.send import send_message
from monitor.config import ChannelConfig, Config, TopicConfig
from monitor.dates import utcnow
from monitor.db.models import Alert, Article, Match, OutboxStatus, Source, Story, Topic
from monitor.db.session import transaction
from tests.helpers import T0, add_story, channels_config, outbox_rows
from tests.servers import Response, free_port

SLACK_PATH = "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
SLACK_URL = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def t0() -> datetime:
    """'Now' for a sender run: just after the rows were queued (enqueue stamps the real time)."""
    return utcnow() + timedelta(seconds=5)


@pytest.fixture
def slack_hook(site, monkeypatch):
    """Slack's real plugin, its webhook base pointed at the local site."""
    from apprise.plugins.slack import NotifySlack

    monkeypatch.setattr(NotifySlack, "webhook_url", site.url("/services"))
    site.route(SLACK_PATH, Response("ok", content_type="text/plain"))
    return site


# --------------------------------------------------------------------------- enqueue


def test_enqueue_adds_each_channel_once(session_factory):
    story_id = add_story(session_factory, ["hook", "mail"])
    with transaction(session_factory) as s:
        row = s.scalar(select(Alert))
        again = enqueue(
            s, topic_id=row.topic_id, story_id=story_id, article_id=row.article_id, channels=["mail", "hook"]
        )
        more = enqueue(
            s,
            topic_id=row.topic_id,
            story_id=story_id,
            article_id=row.article_id,
            channels=["hook", "log", "log"],
        )
        muted = enqueue(
            s,
            topic_id=row.topic_id,
            story_id=story_id,
            article_id=row.article_id,
            channels=["quiet"],
            status=OutboxStatus.SKIPPED,
        )
    assert (again, more, muted) == (0, 1, 1)
    rows = outbox_rows(session_factory)
    assert sorted(r.channel for r in rows) == ["hook", "log", "mail", "quiet"]
    assert {r.channel: r.status for r in rows}["quiet"] == OutboxStatus.SKIPPED


def test_enqueue_is_rolled_back_with_the_callers_transaction(session_factory):
    with pytest.raises(RuntimeError), transaction(session_factory) as s:
        top = Topic(name="T", definition={})
        src = Source(name="S", kind="feed", url="https://s.example/feed")
        story = Story(title="x")
        art = Article(source=src, url="https://s.example/1", fetch_url="https://s.example/1", story=story)
        s.add_all([top, src, story, art])
        s.flush()
        assert enqueue(s, topic_id=top.id, story_id=story.id, article_id=art.id, channels=["hook"]) == 1
        raise RuntimeError("crash before commit")
    assert outbox_rows(session_factory) == []


# --------------------------------------------------------------------------- deliveries


def test_json_channel_gets_one_post_with_the_alert(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    add_story(session_factory, ["hook"])
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))

    stats = send_pending(session_factory, cfg, now=t0)

    assert stats == SendStats(sent=1)
    posts = site.posts("/hook")
    assert len(posts) == 1
    payload = posts[0].json()
    assert payload["title"] == "[Seghrouchni] Minister Seghrouchni opens the data centre"
    message = payload["message"]
    assert "https://mwn.example/news/1" in message
    assert "Seghrouchni, السغروشني" in message
    assert "Morocco World News" in message
    assert "2026-11-23 15:04 (Africa/Casablanca)" in message
    assert "… said Amal Seghrouchni on Monday …" in message
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.SENT and row.sent_at == t0 and row.attempts == 1
    assert row.result["ok"] is True and row.result["services"][0]["service"] == "JSON"

    assert send_pending(session_factory, cfg, now=t0 + timedelta(days=1)) == SendStats()
    assert len(site.posts("/hook")) == 1


def test_email_is_html_with_a_text_part(session_factory, smtp, t0):
    add_story(
        session_factory,
        ["press"],
        title="Seghrouchni & <partners> sign deal",
        also=[("Hespress", "https://hespress.example/a?x=1&y=2")],
    )
    url = f"mailto://127.0.0.1:{smtp.port}?from=monitor@example.org&to=press@example.org"

    stats = send_pending(session_factory, channels_config(("press", url)), now=t0)

    assert stats.sent == 1, outbox_rows(session_factory)[0].last_error
    (msg,) = smtp.messages
    assert msg["from"] == "monitor@example.org" and msg["to"] == ["press@example.org"]
    parsed = email.message_from_string(msg["data"], policy=policy.default)
    assert parsed["Subject"] == "[Seghrouchni] Seghrouchni & <partners> sign deal"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert '<a href="https://mwn.example/news/1">Seghrouchni &amp; &lt;partners&gt; sign deal</a>' in html
    assert "… said Amal <mark>Seghrouchni</mark> on Monday …" in html
    assert "2026-11-23 15:04 (Africa/Casablanca)" in html
    assert "<b>Matched:</b> Seghrouchni, السغروشني" in html
    assert 'Hespress: <a href="https://hespress.example/a?x=1&amp;y=2">' in html
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "URL: https://mwn.example/news/1" in text
    assert "Matched: Seghrouchni, السغروشني" in text
    assert "Seghrouchni & <partners> sign deal" in text
    assert "Hespress: https://hespress.example/a?x=1&y=2" in text
    assert "<mark>" not in text and "<b>" not in text


def test_email_format_text_option_gives_plain_text(session_factory, smtp, t0):
    add_story(session_factory, ["press"])
    url = f"mailto://127.0.0.1:{smtp.port}?from=monitor@example.org&to=press@example.org&format=text"
    assert send_pending(session_factory, channels_config(("press", url)), now=t0).sent == 1
    parsed = email.message_from_string(smtp.messages[0]["data"], policy=policy.default)
    assert parsed.get_content_type() == "text/plain"
    assert "Published: 2026-11-23 15:04 (Africa/Casablanca)" in parsed.get_content()


def test_slack_payload(session_factory, slack_hook, t0):
    add_story(
        session_factory,
        ["slack"],
        title="Seghrouchni & <partners> sign [deal]",
        also=[("Hespress", "https://hespress.example/a?x=1&y=2")],
    )

    assert send_pending(session_factory, channels_config(("slack", SLACK_URL)), now=t0).sent == 1

    (post,) = slack_hook.posts(SLACK_PATH)
    payload = post.json()
    assert payload["mrkdwn"] is True
    attachment = payload["attachments"][0]
    assert attachment["title"] == "[Seghrouchni] Seghrouchni &amp; &lt;partners&gt; sign [deal]"
    lines = attachment["text"].splitlines()
    assert lines == [
        "Topic: *Seghrouchni*",
        "*<https://mwn.example/news/1|Seghrouchni &amp; &lt;partners&gt; sign [deal]>*",
        "Outlet: Morocco World News · Published: 2026-11-23 15:04 (Africa/Casablanca)",
        "Matched: Seghrouchni, السغروشني",
        "> … said Amal *Seghrouchni* on Monday …",
        "Also reported by: <https://hespress.example/a?x=1&amp;y=2|Hespress>",
    ]


def test_json_payload_carries_the_alert_fields(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    add_story(session_factory, ["hook"], also=[("Hespress", "https://hespress.example/a")])
    url = f"json://127.0.0.1:{site.port}/hook?:source=monitor"

    assert send_pending(session_factory, channels_config(("hook", url)), now=t0).sent == 1

    (post,) = site.posts("/hook")
    payload = post.json()
    assert payload["source"] == "monitor"  # the URL's own payload extras still apply
    assert payload["title"] == "[Seghrouchni] Minister Seghrouchni opens the data centre"
    assert "URL: https://mwn.example/news/1" in payload["message"]  # readable text as before
    alert = payload["alert"]
    assert alert == {
        "topic": "Seghrouchni",
        "title": "Minister Seghrouchni opens the data centre",
        "outlet": "Morocco World News",
        "published": "2026-11-23T15:04:00+01:00",
        "url": "https://mwn.example/news/1",
        "terms": ["Seghrouchni", "السغروشني"],
        "snippet": "… said Amal Seghrouchni on Monday …",
        "matched": ["Seghrouchni", "السغروشني"],
        "highlights": [[12, 23]],
        "also": [{"outlet": "Hespress", "url": "https://hespress.example/a"}],
    }
    start, end = alert["highlights"][0]
    assert alert["snippet"][start:end] == "Seghrouchni"


def test_down_channel_is_retried_later_and_delivered_once(session_factory, site, t0):
    site.route("/hook", Response("down for maintenance", status=500))
    add_story(session_factory, ["hook"])
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))

    assert send_pending(session_factory, cfg, now=t0) == SendStats(failed=1)
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.FAILED and row.attempts == 1
    assert t0 + timedelta(seconds=60) <= row.next_attempt_at <= t0 + timedelta(seconds=66)
    assert "500" in row.last_error and "\n" not in row.last_error

    site.route("/hook", Response("ok"))
    assert send_pending(session_factory, cfg, now=t0 + timedelta(seconds=30)) == SendStats()
    assert len(site.posts("/hook")) == 1

    assert send_pending(session_factory, cfg, now=t0 + timedelta(minutes=2)) == SendStats(sent=1)
    assert send_pending(session_factory, cfg, now=t0 + timedelta(hours=1)) == SendStats()
    assert len(site.posts("/hook")) == 2  # the failed try, then exactly one delivery
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.SENT and row.attempts == 2


def test_unreachable_channel_says_connection_refused(session_factory, t0):
    add_story(session_factory, ["hook"])
    send_pending(session_factory, channels_config(("hook", f"json://127.0.0.1:{free_port()}/hook")), now=t0)
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.FAILED
    assert "refused" in row.last_error.lower()


def test_claimed_rows_are_not_sent_by_another_sender_within_the_lease(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    add_story(session_factory, ["hook"])
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))

    ids, lost = claim(session_factory, cfg, now=t0, lease=300)  # a sender that then crashes
    assert len(ids) == 1 and lost == 0
    assert claim(session_factory, cfg, now=t0)[0] == []
    assert send_pending(session_factory, cfg, now=t0 + timedelta(seconds=299)) == SendStats()
    assert site.posts("/hook") == []

    assert send_pending(session_factory, cfg, now=t0 + timedelta(seconds=301)) == SendStats(sent=1)
    assert len(site.posts("/hook")) == 1


def test_concurrent_senders_never_send_a_row_twice(session_factory, site, t0):
    site.route("/hook", Response("ok", delay=0.2))
    for n in range(4):
        add_story(session_factory, ["hook"], n=n)
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))
    results: list[SendStats] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            results.append(send_pending(session_factory, cfg, now=t0))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.sent for r in results) == 4
    assert len(site.posts("/hook")) == 4
    assert {json.loads(p.body)["title"] for p in site.posts("/hook")} == {
        "[Seghrouchni] Minister Seghrouchni opens the data centre"
    }
    assert all(r.status == OutboxStatus.SENT for r in outbox_rows(session_factory))


def test_row_stuck_in_sending_is_retried_after_its_lease(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    add_story(session_factory, ["hook"], n=1)
    add_story(session_factory, ["hook"], n=2)
    with transaction(session_factory) as s:
        first, second = s.scalars(select(Alert.id).order_by(Alert.id)).all()
        s.execute(
            update(Alert)
            .where(Alert.id == first)
            .values(status=OutboxStatus.SENDING, claimed_until=t0 - timedelta(minutes=1))
        )
        s.execute(
            update(Alert)
            .where(Alert.id == second)
            .values(status=OutboxStatus.SENDING, claimed_until=t0 + timedelta(minutes=1))
        )
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))

    assert send_pending(session_factory, cfg, now=t0) == SendStats(sent=1)
    statuses = {r.id: r.status for r in outbox_rows(session_factory)}
    assert statuses == {first: OutboxStatus.SENT, second: OutboxStatus.SENDING}
    (post,) = site.posts("/hook")
    assert "https://mwn.example/news/1" in post.json()["message"]


def test_gives_up_after_max_attempts(session_factory, site, t0):
    site.route("/hook", Response("no", status=503))
    add_story(session_factory, ["hook"])
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))
    now = t0
    outcomes = []
    for _ in range(4):
        outcomes.append(send_pending(session_factory, cfg, now=now, max_attempts=3))
        now += timedelta(hours=7)  # past any backoff (capped at 6 h + jitter)
    assert outcomes == [SendStats(failed=1), SendStats(failed=1), SendStats(dead=1), SendStats()]
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.DEAD and row.attempts == 3 and row.next_attempt_at is None
    assert "503" in row.last_error
    assert len(site.posts("/hook")) == 3


def test_backoff_doubles(session_factory, site, t0):
    site.route("/hook", Response("no", status=500))
    add_story(session_factory, ["hook"])
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))
    now = t0
    waits = []
    for _ in range(3):
        send_pending(session_factory, cfg, now=now)
        (row,) = outbox_rows(session_factory)
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    for wait, base in zip(waits, (60, 120, 240), strict=True):
        assert base <= wait <= base * 1.1 + 1


def test_channel_removed_from_config_goes_dead(session_factory, site, t0):
    add_story(session_factory, ["gone"])
    stats = send_pending(
        session_factory, channels_config(("hook", f"json://127.0.0.1:{site.port}/hook")), now=t0
    )
    assert stats == SendStats(dead=1)
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.DEAD
    assert "'gone'" in row.last_error and "config" in row.last_error
    assert site.requests == []


def test_digest_channels_are_left_pending(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    add_story(session_factory, ["daily", "hook"])
    cfg = channels_config(
        ("hook", f"json://127.0.0.1:{site.port}/hook"),
        ("daily", f"json://127.0.0.1:{site.port}/daily", "0 8 * * *"),
    )
    assert send_pending(session_factory, cfg, now=t0) == SendStats(sent=1)
    assert {r.channel: r.status for r in outbox_rows(session_factory)} == {
        "daily": OutboxStatus.PENDING,
        "hook": OutboxStatus.SENT,
    }
    assert site.posts("/daily") == []


def test_skipped_rows_are_never_sent(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    add_story(session_factory, [])
    with transaction(session_factory) as s:
        row = s.scalar(select(Match))
        story_id = s.scalar(select(Article.story_id).where(Article.id == row.article_id))
        enqueue(
            s,
            topic_id=row.topic_id,
            story_id=story_id,
            article_id=row.article_id,
            channels=["hook"],
            status=OutboxStatus.SKIPPED,
        )
    assert send_pending(
        session_factory, channels_config(("hook", f"json://127.0.0.1:{site.port}/hook")), now=t0
    ) == (SendStats())
    assert site.posts() == []


def test_limit_bounds_one_run(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    for n in range(3):
        add_story(session_factory, ["hook"], n=n)
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))
    assert send_pending(session_factory, cfg, now=t0, limit=2).sent == 2
    assert send_pending(session_factory, cfg, now=t0, limit=2).sent == 1
    with session_factory() as s:
        assert s.scalar(select(func.count()).where(Alert.status == OutboxStatus.SENT)) == 3


# --------------------------------------------------------------------------- console:// and logfile://


def test_logfile_and_console_channels(session_factory, tmp_path, monkeypatch, capsys, t0):
    monkeypatch.chdir(tmp_path)
    absolute = tmp_path / "abs" / "alerts.log"
    add_story(session_factory, ["relative", "absolute", "console"])
    cfg = channels_config(
        ("relative", "logfile://data/alerts.log"),
        ("absolute", f"logfile://{absolute}"),
        ("console", "console://"),
    )
    assert str(absolute).startswith("/")

    assert send_pending(session_factory, cfg, now=t0) == SendStats(sent=3)

    for path in (tmp_path / "data" / "alerts.log", absolute):
        text = path.read_text(encoding="utf-8")
        assert text.count("[Seghrouchni] Minister Seghrouchni opens the data centre") == 1
        assert "URL: https://mwn.example/news/1" in text
    out = capsys.readouterr().out
    assert "[Seghrouchni] Minister Seghrouchni opens the data centre" in out
    assert "Published: 2026-11-23 15:04 (Africa/Casablanca)" in out

    assert send_message(f"logfile://{absolute}", "second", "body").ok
    assert absolute.read_text(encoding="utf-8").count("URL: ") == 1
    assert absolute.read_text(encoding="utf-8").rstrip().endswith("second\nbody")


def test_logfile_that_cannot_be_written_fails_with_the_reason(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = send_message(f"logfile://{blocker}/alerts.log", "t", "b")
    assert not result.ok
    assert f"cannot write the alert log {blocker}/alerts.log: File exists" in result.error


# --------------------------------------------------------------------------- send_message errors


def test_invalid_url_error_names_the_channel_and_hides_the_password():
    result = send_message("mailto://user:s3cretpw@127.0.0.1:1?to=a@b.org", "t", "b", channel="press")
    assert not result.ok and result.results == []
    assert result.error.startswith("invalid apprise URL for channel 'press'")
    assert "s3cretpw" not in result.error

    unknown = send_message("nope://user:s3cretpw@host", "t", "b", channel="x")
    assert "unknown scheme 'nope://'" in unknown.error and "s3cretpw" not in unknown.error


def test_failure_reasons_never_contain_secrets(monkeypatch):
    from apprise.plugins.slack import NotifySlack

    port = free_port()
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{port}/services")
    result = send_message(SLACK_URL, "t", "b")
    assert not result.ok and "refused" in result.error.lower()
    assert result.results == [{"service": "Slack", "ok": False, "error": result.error}]
    dumped = json.dumps(result.results) + result.error
    for token in ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7"):
        assert token not in dumped

    mail = send_message(
        f"mailto://bob:pw1234567@127.0.0.1:{port}?from=m@example.org&to=p@example.org", "t", "b"
    )
    assert not mail.ok and "refused" in mail.error.lower()
    assert "pw1234567" not in mail.error + json.dumps(mail.results)


# --------------------------------------------------------------------------- rendering


def test_render_plain_text():
    view = AlertView(
        topic="Seghrouchni",
        title="A  title\nwith breaks",
        outlet="Morocco World News",
        published=T0,
        url="https://mwn.example/news/1",
        terms=["Seghrouchni", "Seghrouchni", "Amal El Fallah"],
        snippet="… Amal El Fallah Seghrouchni said …",
        also=[("Hespress", "https://hespress.example/a"), ("Le360", "https://le360.example/b")],
    )
    title, body = render(view, ZoneInfo("Africa/Casablanca"))
    assert title == "[Seghrouchni] A title with breaks"
    assert body.splitlines() == [
        "Outlet: Morocco World News",
        "Published: 2026-11-23 15:04 (Africa/Casablanca)",
        "URL: https://mwn.example/news/1",
        "Matched: Seghrouchni, Amal El Fallah",
        "",
        "… Amal El Fallah Seghrouchni said …",
        "",
        "Also reported by:",
        "- Hespress: https://hespress.example/a",
        "- Le360: https://le360.example/b",
    ]
    bare = AlertView(topic="T", title="x", outlet="O", published=None, url="https://o.example/1")
    _, body = render(bare, ZoneInfo("UTC"))
    assert body == "Outlet: O\nPublished: unknown\nURL: https://o.example/1"


def test_build_view_reads_the_story(session_factory):
    add_story(
        session_factory,
        ["hook"],
        also=[("Hespress", "https://hespress.example/a"), ("Le360", "https://le360.example/b")],
    )
    tz = ZoneInfo("Africa/Casablanca")
    with session_factory() as s:
        view = build_view(s, s.scalar(select(Alert)), tz)
    assert view.topic == "Seghrouchni"
    assert view.outlet == "Morocco World News"
    assert view.published == T0
    assert view.terms == ["Seghrouchni", "السغروشني"]
    assert view.snippet == "… said Amal Seghrouchni on Monday …"
    assert view.also == [("Hespress", "https://hespress.example/a"), ("Le360", "https://le360.example/b")]


def test_alerts_mark_what_the_matcher_matched(session_factory, site, t0):
    """The match row keeps the matcher's hits and highlights; every form of the alert uses them."""
    from monitor.alerts.render import render_message
    from monitor.match import Matcher

    text = (
        "أفادت مصادر محلية أن الحادث وقع مساء أمس في شارع خلفي بحي المعاريف، فيما صرح Aml Al-Fallah "
        "Sghrouchni بأن مصطفى الخلفي، الوزير السابق، سيحضر اللقاء."
    )
    topic = TopicConfig(name="Seghrouchni", keywords=["الخلفي", "Seghrouchni~1"])
    (found,) = Matcher([topic]).match(None, text)
    add_story(session_factory, ["hook"])
    with transaction(session_factory) as s:
        row = s.scalars(select(Match)).one()
        for column, value in found.columns().items():
            setattr(row, column, value)
    site.route("/hook", Response("ok"))
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))
    assert send_pending(session_factory, cfg, now=t0).sent == 1

    alert = site.posts("/hook")[0].json()["alert"]
    assert alert["terms"] == ["Seghrouchni~1", "الخلفي"]
    assert alert["matched"] == ["Sghrouchni ≈ Seghrouchni", "الخلفي"]
    assert [alert["snippet"][s:e] for s, e in alert["highlights"]] == ["Sghrouchni", "الخلفي"]
    with session_factory() as s:
        message = render_message(build_view(s, s.scalar(select(Alert)), ZoneInfo("UTC")), ZoneInfo("UTC"))
    assert "Matched: Sghrouchni ≈ Seghrouchni, الخلفي" in message.text
    assert message.html.count("<mark>") == 2 and "<mark>الخلفي</mark>" in message.html
    assert "شارع خلفي" in message.html and "<mark>خلفي" not in message.html
    assert "**Sghrouchni**" in message.markdown and "**الخلفي**" in message.markdown


def test_a_row_stored_before_highlights_renders_without_them(session_factory):
    add_story(session_factory, ["hook"])
    with transaction(session_factory) as s:
        s.scalars(select(Match)).one().highlights = None
    with session_factory() as s:
        view = build_view(s, s.scalar(select(Alert)), ZoneInfo("UTC"))
    assert view.highlights == [] and view.shown_terms() == ["Seghrouchni", "السغروشني"]
    assert view.snippet == "… said Amal Seghrouchni on Monday …"


# --------------------------------------------------------------------------- flood control


def limited(site, max_per_hour: int) -> Config:
    return Config(
        timezone="Africa/Casablanca",
        channels=[
            ChannelConfig(name="hook", url=f"json://127.0.0.1:{site.port}/hook", max_per_hour=max_per_hour)
        ],
    )


def test_flood_is_bundled_and_held_never_dropped(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    cfg = limited(site, 2)
    add_story(session_factory, ["hook"], n=0)
    assert send_pending(session_factory, cfg, now=t0) == SendStats(sent=1)

    # Three more within the hour, one message left: they go out as one bundle.
    for n in (1, 2, 3):
        add_story(session_factory, ["hook"], n=n)
    assert send_pending(session_factory, cfg, now=t0 + timedelta(minutes=10)) == SendStats(sent=3, bundles=1)
    bundle = site.posts("/hook")[-1].json()
    assert bundle["title"].startswith("3 alerts held back")
    assert bundle["digest"]["kind"] == "bundle" and bundle["digest"]["count"] == 3
    assert "More than 2 alerts within an hour" in bundle["message"]

    # The hour is used up: new alerts are held.
    for n in (4, 5):
        add_story(session_factory, ["hook"], n=n)
    assert send_pending(session_factory, cfg, now=t0 + timedelta(minutes=20)) == SendStats(held=2)
    assert send_pending(session_factory, cfg, now=t0 + timedelta(minutes=59)) == SendStats(held=2)
    assert len(site.posts("/hook")) == 2
    # One message leaves the rolling hour: the held ones go out together.
    assert send_pending(session_factory, cfg, now=t0 + timedelta(minutes=61)) == SendStats(sent=2, bundles=1)
    assert site.posts("/hook")[-1].json()["digest"]["count"] == 2

    rows = outbox_rows(session_factory)
    assert len(rows) == 6 and all(r.status == OutboxStatus.SENT for r in rows)
    sent_at = sorted({(r.bundle_id, r.sent_at) for r in rows}, key=lambda x: x[1])
    assert [at - t0 for _, at in sent_at] == [timedelta(0), timedelta(minutes=10), timedelta(minutes=61)]
    for i, (_, at) in enumerate(sent_at):  # never more than 2 messages in any hour
        assert sum(1 for _, other in sent_at if at - timedelta(hours=1) < other <= at) <= 2, i


def test_flood_under_the_limit_sends_single_alerts(session_factory, site, t0):
    site.route("/hook", Response("ok"))
    for n in range(3):
        add_story(session_factory, ["hook"], n=n)
    assert send_pending(session_factory, limited(site, 3), now=t0) == SendStats(sent=3)
    assert [p.json()["title"][:14] for p in site.posts("/hook")] == ["[Seghrouchni] "] * 3


def test_failed_bundle_is_retried_not_dropped(session_factory, site, t0):
    site.route("/hook", Response("down", status=502))
    for n in range(3):
        add_story(session_factory, ["hook"], n=n)
    cfg = limited(site, 1)
    assert send_pending(session_factory, cfg, now=t0) == SendStats(failed=3)
    assert {r.status for r in outbox_rows(session_factory)} == {OutboxStatus.FAILED}
    site.route("/hook", Response("ok"))
    assert send_pending(session_factory, cfg, now=t0 + timedelta(minutes=3)) == SendStats(sent=3, bundles=1)
    assert site.posts("/hook")[-1].json()["digest"]["count"] == 3


# --------------------------------------------------------------------------- a real process killed mid-send

KILLER = """
import os, signal, sys
from datetime import datetime
import monitor.alerts.outbox as outbox
from monitor.config import ChannelConfig, Config, TopicConfig
from monitor.db.session import make_engine, make_sessionmaker

url, hook, when, moment = sys.argv[1:5]
factory = make_sessionmaker(make_engine(url))
cfg = Config(channels=[ChannelConfig(name="hook", url=hook)])
now = datetime.fromisoformat(moment)
if when == "after-claim":
    outbox.claim(factory, cfg, now=now)
else:  # after the message went out, before it is marked sent
    outbox.mark_sent = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    outbox.send_pending(factory, cfg, now=now)
os.kill(os.getpid(), signal.SIGKILL)
"""


def kill_sender(db_url: str, hook: str, when: str, now: datetime) -> int:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", KILLER, db_url, hook, when, now.isoformat()], capture_output=True, timeout=60
    )
    return done.returncode


@pytest.mark.parametrize("when", ["after-claim", "after-send"])
def test_sender_killed_mid_send_delivers_at_most_once_more(db_url, session_factory, site, t0, when):
    site.route("/hook", Response("ok"))
    add_story(session_factory, ["hook"])
    hook = f"json://127.0.0.1:{site.port}/hook"

    assert kill_sender(db_url, hook, when, t0) == -9
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.SENDING
    before = len(site.posts("/hook"))
    assert before == (0 if when == "after-claim" else 1)

    cfg = channels_config(("hook", hook))
    assert send_pending(session_factory, cfg, now=t0 + timedelta(seconds=60)) == SendStats()  # leased
    assert send_pending(session_factory, cfg, now=t0 + timedelta(seconds=301)) == SendStats(sent=1)
    assert send_pending(session_factory, cfg, now=t0 + timedelta(hours=2)) == SendStats()
    assert len(site.posts("/hook")) == before + 1  # delivered; at most once more
    assert outbox_rows(session_factory)[0].status == OutboxStatus.SENT


# --------------------------------------------------------------------------- highlighting and rich forms


def test_rich_forms_escape_untrusted_text():
    from monitor.alerts.render import render_message

    view = AlertView(
        topic="R&D <x>",
        title="A [link](javascript:x) & <b>bold</b>",
        outlet="O",
        published=T0,
        url="https://o.example/a?x=1&y=<2>",
        terms=["bold"],
        snippet="<script>alert(1)</script> bold",
        highlights=[(26, 30)],
    )
    message = render_message(view, ZoneInfo("UTC"))
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "<mark>bold</mark>" in message.html
    assert 'href="https://o.example/a?x=1&amp;y=&lt;2&gt;"' in message.html
    assert "A \\[link\\](javascript:x) & \\<b\\>bold\\</b\\>" in message.markdown
    assert "(<https://o.example/a?x=1&y=%3C2%3E>)" in message.markdown
    assert "\\<script\\>alert(1)\\</script\\> **bold**" in message.markdown
    assert message.data["title"] == view.title and message.text.startswith("Outlet: O")


# --------------------------------------------------------------------------- list, retry, notify-test


def test_list_and_retry(session_factory, site, t0):
    from monitor.alerts.admin import list_alerts, retry_alerts

    site.route("/hook", Response("no", status=500))
    for n in range(3):
        add_story(session_factory, ["hook"], n=n)
    cfg = channels_config(("hook", f"json://127.0.0.1:{site.port}/hook"))
    send_pending(session_factory, cfg, now=t0, max_attempts=1, limit=2)  # two dead, one pending

    with session_factory() as s:
        dead = list_alerts(s, status="dead")
        assert [r.status for r in dead] == ["dead", "dead"]
        assert dead[0].id > dead[1].id  # newest first
        assert dead[0].topic == "Seghrouchni" and dead[0].outlet == "Morocco World News"
        assert "500" in dead[0].last_error and dead[0].services[0]["service"] == "JSON"
        assert len(list_alerts(s)) == 3 and len(list_alerts(s, limit=1)) == 1
        with pytest.raises(ValueError, match="unknown status"):
            list_alerts(s, status="lost")
    pending_id = next(r.id for r in outbox_rows(session_factory) if r.status == OutboxStatus.PENDING)

    with transaction(session_factory) as s:
        one = retry_alerts(s, [dead[0].id, pending_id, 999])
    assert (one.requeued, one.busy, one.missing) == ([dead[0].id], [pending_id], [999])
    with transaction(session_factory) as s:
        rest = retry_alerts(s)
    assert rest.requeued == [dead[1].id]

    site.route("/hook", Response("ok"))
    assert send_pending(session_factory, cfg, now=t0 + timedelta(seconds=10)).sent == 3
    assert {r.status for r in outbox_rows(session_factory)} == {OutboxStatus.SENT}
    # A sent row can be replayed on request.
    with transaction(session_factory) as s:
        assert retry_alerts(s, [dead[1].id]).requeued == [dead[1].id]
    assert send_pending(session_factory, cfg, now=t0 + timedelta(seconds=20)).sent == 1
    assert len(site.posts("/hook")) == 2 + 3 + 1


def test_notify_test(site, smtp):
    from monitor.alerts.admin import notify_test

    site.route("/hook", Response("ok"))
    site.route("/down", Response("no", status=500))
    url = f"mailto://127.0.0.1:{smtp.port}?from=monitor@example.org&to=press@example.org"
    cfg = Config(
        channels=[
            ChannelConfig(name="hook", url=f"json://127.0.0.1:{site.port}/hook"),
            ChannelConfig(name="down", url=f"json://127.0.0.1:{site.port}/down"),
            ChannelConfig(name="mail", url=url, digest="0 8 * * *"),
        ]
    )
    ok = notify_test(cfg, "hook")
    assert ok.ok and ok.results == [{"service": "JSON", "ok": True, "error": None}]
    payload = site.posts("/hook")[0].json()
    assert (
        payload["title"].startswith("[test] [monitor test]") and payload["alert"]["topic"] == "monitor test"
    )

    down = notify_test(cfg, "down")
    assert not down.ok and "500" in down.error

    digest = notify_test(cfg, "mail")
    assert digest.ok
    parsed = email.message_from_string(smtp.messages[0]["data"], policy=policy.default)
    assert parsed["Subject"].startswith("[test] Digest: 2 stories in 1 topic")

    unknown = notify_test(cfg, "nope")
    assert not unknown.ok and unknown.error == "unknown channel 'nope' (channels: hook, down, mail)"
