"""Feeds as they come, polled from a real local server: items without a link are stored and
matched on their text (and what is skipped is said), an undeclared windows-1256 feed reads as
Arabic, and a GUID reused for another URL keeps both articles."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from sqlalchemy import select

from monitor.db.models import Article, ArticleStatus, Match, Topic
from monitor.pipeline.article import FEED_ITEM_NOTE
from monitor.urls import is_feed_item
from tests.helpers import FAST, RSS, count, db, hook, make_config, once, paragraphs
from tests.servers import Response
from tests.sitegen import article_page


def _channel(base: str, items: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return (
        f'{declaration}<rss version="2.0"><channel><title>Wire</title><link>{base}/</link>'
        f"<description>d</description>{items}</channel></rss>"
    )


def _matched(factory) -> dict[str, set[str]]:
    """Topic name -> the titles it matched."""
    with factory() as session:
        rows = session.execute(select(Topic.name, Article.title).join(Match.topic).join(Match.article))
        found: dict[str, set[str]] = {}
        for topic, title in rows:
            found.setdefault(topic, set()).add(title)
        return found


def test_items_without_a_link_are_matched_on_their_text(tmp_path, db_url, site, caplog):
    items = (
        "<item><title>Seghrouchni opens the digital week</title>"
        "<description>The minister spoke in Rabat.</description></item>"
        '<item><guid isPermaLink="false">wire-4471</guid><title>Flash</title>'
        "<description>Amal El Fallah Seghrouchni announced a data centre.</description></item>"
        '<item><guid isPermaLink="false">wire-4472</guid></item>'  # nothing to match: skipped
        "<item><title>Weather</title><description>Sunny all week.</description></item>"
    )
    site.route("/wire.xml", Response(_channel(site.base, items), content_type=RSS))
    cfg = make_config(tmp_path, db_url, [{"name": "Wire", "feed": site.url("/wire.xml")}], hook(site))
    caplog.set_level(logging.INFO)

    once(cfg)
    factory = db(cfg)
    with factory() as session:
        rows = session.execute(select(Article.url, Article.status, Article.last_error, Article.guid)).all()
    assert len(rows) == 3 and {r.status for r in rows} == {ArticleStatus.DONE}
    assert {r.last_error for r in rows} == {FEED_ITEM_NOTE}
    assert all(is_feed_item(r.url) and r.url.startswith(f"{site.base}/#monitor-feed-item-") for r in rows)
    assert "wire-4471" in {r.guid for r in rows}
    assert _matched(factory) == {
        "Seghrouchni": {"Seghrouchni opens the digital week", "Flash"},
        "Data centres": {"Flash"},
    }
    # Alerted, linking to the outlet's site (the feed's own <link>) with the item's fragment.
    alerts = [p.json()["alert"] for p in site.posts("/hook")]
    assert {a["title"] for a in alerts} == {"Seghrouchni opens the digital week", "Flash"}
    assert {a["url"] for a in alerts} <= {r.url for r in rows}
    # Nothing but the feed was fetched, and the skipped item was named with the reason.
    assert {r.path for r in site.requests if r.method == "GET"} == {"/wire.xml"}
    assert "1 item(s) skipped: no link, no title and no summary (GUIDs: wire-4472)" in caplog.text

    sent = len(site.posts("/hook"))
    once(cfg)  # the same items again: the same articles, nothing alerted twice
    assert count(factory, Article) == 3 and len(site.posts("/hook")) == sent


ARABIC_TITLE = "السغروشني تقدم الاستراتيجية الرقمية أمام البرلمان"
ARABIC_SUMMARY = "قدمت الوزيرة أمل الفلاح السغروشني الاستراتيجية الوطنية للتحول الرقمي"
ARABIC_PAGE_TITLE = "خبر اقتصادي من الرباط"
ARABIC_TEXT = [
    "أعلنت الحكومة اليوم في الرباط عن برنامج جديد لدعم المقاولات الناشئة في مجال التكنولوجيا.",
    "وقالت الوزيرة أمل الفلاح السغروشني إن البرنامج سيشمل التكوين والتمويل والمواكبة طيلة ثلاث سنوات.",
    "وأضاف بلاغ الوزارة أن المرحلة الأولى ستنطلق في الأشهر المقبلة بشراكة مع الجامعات والجهات.",
]


@pytest.mark.parametrize(
    "declaration",
    ['<?xml version="1.0"?>', "", '<?xml version="1.0" encoding="utf-8"?>',
     '<?xml version="1.0" encoding="ISO-8859-1"?>'],
    ids=["undeclared", "no-prolog", "says-utf-8", "says-latin-1"],
)  # fmt: skip
def test_undeclared_windows_1256_feed_reads_as_arabic(tmp_path, site, declaration):
    items = (
        f"<item><title>{ARABIC_TITLE}</title><link>{site.url('/ar/gone')}</link>"
        f"<description>{ARABIC_SUMMARY}</description></item>"
        f"<item><title>{ARABIC_PAGE_TITLE}</title><link>{site.url('/ar/page')}</link></item>"
    )
    feed = _channel(site.base, items, declaration).encode("cp1256")
    site.route("/ar.xml", Response(feed, content_type="application/rss+xml"))  # no charset anywhere
    site.route("/ar/gone", Response("gone", status=404, content_type="text/plain"))  # feed text fallback
    page = article_page(ARABIC_PAGE_TITLE, paragraphs(*ARABIC_TEXT), lang="ar")
    page = page.replace('<meta charset="utf-8">', "").encode("cp1256")  # an undeclared page, too
    site.route("/ar/page", Response(page, content_type="text/html"))
    cfg = make_config(
        tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [{"name": "Hespress", "feed": site.url("/ar.xml")}], hook(site)
    )

    once(cfg, replace(FAST, max_page_attempts=1))
    factory = db(cfg)
    with factory() as session:
        stored = {a.title: a for a in session.scalars(select(Article))}
    assert set(stored) == {ARABIC_TITLE, ARABIC_PAGE_TITLE}
    assert "stored from the feed" in stored[ARABIC_TITLE].last_error and ARABIC_SUMMARY in stored[ARABIC_TITLE].text
    assert ARABIC_TEXT[1] in stored[ARABIC_PAGE_TITLE].text
    # The Arabic keyword matched through the feed text (page gone) and through the page.
    assert _matched(factory)["Seghrouchni"] == {ARABIC_TITLE, ARABIC_PAGE_TITLE}
    assert {p.json()["alert"]["title"] for p in site.posts("/hook")} == {ARABIC_TITLE, ARABIC_PAGE_TITLE}


def test_a_guid_reused_for_another_url_keeps_both_articles(tmp_path, db_url, site, caplog):
    texts = {
        "/g/rabat": ("Seghrouchni in Rabat", "Minister Seghrouchni visited a school in Rabat on Monday."),
        "/g/fes": ("Seghrouchni in Fes", "In Fes, Seghrouchni opened a digital skills centre for young people."),
        "/g/oujda": ("Seghrouchni in Oujda", "Seghrouchni met start-up founders in Oujda on Wednesday evening."),
    }
    for path, (title, text) in texts.items():
        site.route(path, Response(article_page(title, paragraphs(text))))

    def serve(paths: list[str]) -> None:
        items = "".join(
            f'<item><title>{texts[p][0]}</title><link>{site.url(p)}</link><guid isPermaLink="false">post-1</guid></item>'
            for p in paths
        )  # one GUID for all: a CMS that recycles its ids
        site.route("/feed.xml", Response(_channel(site.base, items), content_type=RSS))

    serve(["/g/rabat", "/g/fes"])
    cfg = make_config(tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], hook(site))
    caplog.set_level(logging.INFO)
    once(cfg)
    factory = db(cfg)
    assert _matched(factory)["Seghrouchni"] == {"Seghrouchni in Rabat", "Seghrouchni in Fes"}
    assert f"GUID 'post-1' reused for another URL, stored as a new article: {site.url('/g/fes')}" in caplog.text

    serve(["/g/oujda", "/g/rabat", "/g/fes"])  # and at a later poll, once more
    once(cfg)
    assert count(factory, Article, Article.status == ArticleStatus.DONE) == 3
    assert {p.json()["alert"]["title"] for p in site.posts("/hook")} == {t for t, _ in texts.values()}
