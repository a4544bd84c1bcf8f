"""Digests on a fast schedule (a cron of every minute, explicit ``now`` values): one message per
period grouped by topic then story, nothing for an empty period, retries, crashes, restarts."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from monitor.alerts.digest import DigestStats, latest_boundary, send_digests
from monitor.alerts.outbox import claim_where, send_pending
from monitor.config import Config
from monitor.dates import utcnow
from monitor.db.models import Alert, ChannelState, OutboxStatus
from monitor.db.session import transaction
from tests.helpers import add_story, channels_config, outbox_rows
from tests.servers import Response

EVERY_MINUTE = "* * * * *"
TZ = ZoneInfo("Africa/Casablanca")


def minute_base() -> datetime:
    """A whole minute ten minutes ago: explicit 'now' values after it are all in the past, so
    rows queued at the real time can be dated inside the test's periods."""
    now = utcnow()
    return now.replace(second=0, microsecond=0) - timedelta(minutes=10)


def date_rows(factory, at: datetime, ids: list[int] | None = None) -> None:
    """Pretend the rows (default: all pending) were queued at ``at``."""
    with transaction(factory) as s:
        query = update(Alert).values(created_at=at, next_attempt_at=at)
        query = query.where(Alert.id.in_(ids)) if ids else query.where(Alert.status == OutboxStatus.PENDING)
        s.execute(query)


def hook_config(site, path="/daily", cron=EVERY_MINUTE, extra=()):
    return channels_config(("daily", f"json://127.0.0.1:{site.port}{path}", cron), *extra)


def one_row_queued(factory, site) -> tuple[Config, datetime]:
    """A digest channel (registered at ``base``) with one story queued 10 s into the period after
    ``base``; returns (config, base)."""
    site.route("/daily", Response("ok"))
    cfg = hook_config(site)
    base = minute_base()
    send_digests(factory, cfg, base)
    add_story(factory, ["daily"], n=1)
    date_rows(factory, base + timedelta(seconds=10))
    return cfg, base


def test_latest_boundary_in_the_config_timezone():
    after = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 07:00 in Casablanca (UTC+1)
    now = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)  # 08:30 there, two days later
    assert latest_boundary("0 8 * * *", TZ, after, now) == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert latest_boundary("0 8 * * *", TZ, now, now + timedelta(hours=1)) is None
    # A frequent cron far behind does not walk every minute since.
    far = latest_boundary(EVERY_MINUTE, TZ, after - timedelta(days=400), now)
    assert far == now


def test_one_message_per_period_grouped_by_topic_then_story(session_factory, site):
    site.route("/daily", Response("ok"))
    cfg = hook_config(site)
    base = minute_base()
    assert send_digests(session_factory, cfg, base + timedelta(seconds=5)) == DigestStats()  # registers

    add_story(session_factory, ["daily"], n=1, title="Seghrouchni opens the data centre")
    add_story(
        session_factory,
        ["daily"],
        n=2,
        topic="Data centres",
        title="Tangier to host a data centre",
        also=[("Hespress", "https://hespress.example/dc"), ("Le360", "https://le360.example/dc")],
    )
    add_story(session_factory, ["daily"], n=3, title="Seghrouchni meets start-up founders")
    date_rows(session_factory, base + timedelta(seconds=20))

    # Before the period ends: nothing.
    assert send_digests(session_factory, cfg, base + timedelta(seconds=50)) == DigestStats()
    assert site.posts("/daily") == []
    # The period ends at base+60s: one message with the three stories.
    stats = send_digests(session_factory, cfg, base + timedelta(seconds=61))
    assert stats == DigestStats(digests=1, sent=3)
    (post,) = site.posts("/daily")
    payload = post.json()
    assert payload["title"].startswith("Digest: 3 stories in 2 topics until ")
    digest = payload["digest"]
    assert digest["kind"] == "digest" and digest["count"] == 3
    assert [t["topic"] for t in digest["topics"]] == ["Data centres", "Seghrouchni"]
    assert [s["title"] for s in digest["topics"][1]["stories"]] == [
        "Seghrouchni opens the data centre",
        "Seghrouchni meets start-up founders",
    ]
    dc = digest["topics"][0]["stories"][0]
    assert [a["outlet"] for a in dc["also"]] == ["Hespress", "Le360"]  # every outlet of the story
    message = payload["message"]
    assert message.index("== Data centres (1) ==") < message.index("== Seghrouchni (2) ==")
    assert "- Le360: https://le360.example/dc" in message
    assert all(r.status == OutboxStatus.SENT for r in outbox_rows(session_factory))

    # An empty period sends nothing.
    assert send_digests(session_factory, cfg, base + timedelta(seconds=121)) == DigestStats(empty=1)
    assert len(site.posts("/daily")) == 1

    # A row queued in the next period waits for its end.
    add_story(session_factory, ["daily"], n=4, title="Seghrouchni in Dakhla")
    date_rows(session_factory, base + timedelta(seconds=130))
    assert send_digests(session_factory, cfg, base + timedelta(seconds=170)) == DigestStats()
    assert send_digests(session_factory, cfg, base + timedelta(seconds=185)) == DigestStats(digests=1, sent=1)
    assert site.posts("/daily")[-1].json()["digest"]["count"] == 1


def test_immediate_channels_are_not_affected(session_factory, site):
    site.route("/daily", Response("ok"))
    site.route("/hook", Response("ok"))
    cfg = hook_config(site, extra=[("hook", f"json://127.0.0.1:{site.port}/hook")])
    base = minute_base()
    send_digests(session_factory, cfg, base)
    add_story(session_factory, ["daily", "hook"])
    date_rows(session_factory, base + timedelta(seconds=10))
    assert send_pending(session_factory, cfg, now=base + timedelta(seconds=20)).sent == 1
    assert send_digests(session_factory, cfg, base + timedelta(seconds=61)).sent == 1
    assert len(site.posts("/hook")) == 1 and len(site.posts("/daily")) == 1


def test_email_digest_has_html_and_text(session_factory, smtp):
    url = f"mailto://127.0.0.1:{smtp.port}?from=monitor@example.org&to=press@example.org"
    cfg = channels_config(("daily", url, EVERY_MINUTE))
    base = minute_base()
    send_digests(session_factory, cfg, base)
    add_story(session_factory, ["daily"], n=1, also=[("Hespress", "https://hespress.example/a")])
    add_story(session_factory, ["daily"], n=2, title="Seghrouchni & partners")
    date_rows(session_factory, base + timedelta(seconds=10))

    assert send_digests(session_factory, cfg, base + timedelta(seconds=61)).digests == 1

    (msg,) = smtp.messages
    parsed = email.message_from_string(msg["data"], policy=policy.default)
    assert parsed["Subject"].startswith("Digest: 2 stories in 1 topic")
    html = parsed.get_body(preferencelist=("html",)).get_content()
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    assert "Seghrouchni &amp; partners" in html and "<mark>Seghrouchni</mark>" in html
    assert "Seghrouchni & partners" in text and "https://hespress.example/a" in text


def test_channel_down_then_up_delivers_once(session_factory, site):
    site.route("/daily", Response("down", status=503))
    cfg = hook_config(site)
    base = minute_base()
    send_digests(session_factory, cfg, base)
    add_story(session_factory, ["daily"])
    date_rows(session_factory, base + timedelta(seconds=10))

    assert send_digests(session_factory, cfg, base + timedelta(seconds=61)) == DigestStats(failed=1)
    (row,) = outbox_rows(session_factory)
    assert row.status == OutboxStatus.FAILED and "503" in row.last_error

    site.route("/daily", Response("ok"))
    # Retried after its backoff (about a minute), not a whole period later; nothing before.
    assert send_digests(session_factory, cfg, base + timedelta(seconds=70)) == DigestStats()
    assert send_digests(session_factory, cfg, base + timedelta(seconds=61 + 70)).sent == 1
    assert send_digests(session_factory, cfg, base + timedelta(seconds=300)).sent == 0
    assert [p.json()["digest"]["count"] for p in site.posts("/daily")] == [1, 1]  # the failed try, then one
    assert outbox_rows(session_factory)[0].status == OutboxStatus.SENT


def test_crash_after_claim_resends_after_the_lease(session_factory, site):
    cfg, base = one_row_queued(session_factory, site)
    # A sender claimed the rows for the period, then died before sending.
    with transaction(session_factory) as s:
        s.execute(update(ChannelState).values(last_digest_at=base + timedelta(seconds=60)))
    rows, _ = claim_where(
        session_factory, Alert.channel == "daily", now=base + timedelta(seconds=61), limit=10, lease=300
    )
    assert len(rows) == 1 and outbox_rows(session_factory)[0].status == OutboxStatus.SENDING

    assert send_digests(session_factory, cfg, base + timedelta(seconds=62)) == DigestStats()
    assert send_digests(session_factory, cfg, base + timedelta(seconds=362)).sent == 1
    assert len(site.posts("/daily")) == 1


def test_state_survives_restarts_and_one_process_wins_a_period(session_factory, site):
    cfg, base = one_row_queued(session_factory, site)
    # Two runs for the same moment (two processes, or a restart): one message.
    first = send_digests(session_factory, cfg, base + timedelta(seconds=61))
    second = send_digests(session_factory, cfg, base + timedelta(seconds=61))
    assert (first.digests, second.digests) == (1, 0)
    with session_factory() as s:
        assert s.scalar(select(ChannelState.last_digest_at)) == base + timedelta(seconds=60)


def test_missed_periods_make_one_message(session_factory, site):
    cfg, base = one_row_queued(session_factory, site)
    add_story(session_factory, ["daily"], n=2)
    date_rows(session_factory, base + timedelta(seconds=130))
    # Down for five periods: both rows in one digest.
    assert send_digests(session_factory, cfg, base + timedelta(seconds=305)) == DigestStats(digests=1, sent=2)
    assert len(site.posts("/daily")) == 1
