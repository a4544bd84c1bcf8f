"""End to end: three outlets carry one agency dispatch (in full, reprinted, lead only) and a fourth
publishes its own article on the same minister: two stories, one alert each, with every outlet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from monitor.db.models import Alert, Article
from tests.helpers import (
    DISPATCH,
    DISPATCH_TITLE,
    LEAD_COPY,
    LEAD_COPY_TITLE,
    OTHER,
    OTHER_TITLE,
    db,
    make_config,
    once,
)
from tests.servers import Response
from tests.sitegen import article_page, rss_feed

REPRINT = "RABAT (MAP) - " + DISPATCH.split(" - ", 1)[1]
OUTLETS = {
    "map": (DISPATCH_TITLE, DISPATCH),
    "hespress": ("Digital Morocco 2030: 100,000 young people to be trained", REPRINT),
    "le360": (LEAD_COPY_TITLE, LEAD_COPY),
    "medias24": (OTHER_TITLE, OTHER),
}


def test_one_dispatch_three_outlets_one_alert(tmp_path, db_url, site):
    when = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    sources = []
    for i, (outlet, (title, text)) in enumerate(OUTLETS.items()):
        path = f"/{outlet}/2026/11/story/"
        site.route(path, Response(article_page(title, text.split("\n\n"))))
        items = [{"title": title, "link": site.url(path), "published": when + timedelta(hours=i)}]
        site.route(
            f"/{outlet}/feed.xml", Response(rss_feed(site.base, items), content_type="application/rss+xml")
        )
        sources.append({"name": outlet, "feed": site.url(f"/{outlet}/feed.xml")})
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(tmp_path, db_url, sources, site.base[7:] + "/hook")

    once(cfg)

    posts = [p.json() for p in site.posts("/hook")]
    assert len(posts) == 2
    other = [p for p in posts if p["title"] == f"[Seghrouchni] {OTHER_TITLE}"]
    (dispatch,) = [p for p in posts if p not in other]
    assert len(other) == 1 and other[0]["alert"]["also"] == []
    outlets = {dispatch["alert"]["outlet"]} | {a["outlet"] for a in dispatch["alert"]["also"]}
    assert outlets == {"map", "hespress", "le360"}
    with db(cfg)() as s:
        assert s.scalar(select(func.count(func.distinct(Article.story_id)))) == 2
        assert s.scalar(select(func.count()).select_from(Alert)) == 2
