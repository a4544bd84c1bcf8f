"""Back-testing and rematching topics over stored articles; changed topics are never applied silently;
topic filters in the pipeline; the `monitor topics` commands."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from monitor.config import Config, SourceConfig, TopicConfig
from monitor.db.migrate import upgrade
from monitor.db.models import Alert, Article, ArticleStatus, Match, Source, Story, Topic
from monitor.db.session import make_engine, make_sessionmaker, transaction
from monitor.db.sync import sync_config, topic_definition
from monitor.runtime import Settings
from monitor.topics import backtest, rematch
from tests.helpers import FILLER, cli, db, make_config, once
from tests.servers import Response
from tests.sitegen import article_page, rss_feed

DAY = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

# (source, slug, title, text, language, day, status)
ARTICLES = [
    ("Atlas", "a1", "Seghrouchni in Paris", "The minister met start-up founders.", "en", 1, ArticleStatus.DONE),
    ("Atlas", "a2", "Budget vote", "Minister Amal El Fallah Seghrouchni defended the digital budget.", "en", 2, ArticleStatus.DONE),
    ("Atlas", "a3", "Football", "Seghrouchni attended the football cup final.", "en", 3, ArticleStatus.DONE),
    ("Sahara", "s1", "Transition numérique", "La ministre Seghrouchni a présenté la stratégie.", "fr-FR", 4, ArticleStatus.DONE),
    ("Sahara", "s2", "السغروشني", "قالت الوزيرة السَّغروشني إن المشروع مهم", "ar", 5, ArticleStatus.DONE),
    ("Sahara", "s3", "Weather", "Rain expected in Rabat.", "en", 6, ArticleStatus.DONE),
    ("Sahara", "s4", "Seghrouchni pending", "Seghrouchni again.", "en", 7, ArticleStatus.PENDING),
]  # fmt: skip


def seed(factory) -> dict[str, int]:
    """Two sources and the articles above; returns article ids by slug."""
    ids = {}
    with transaction(factory) as s:
        sources = {}
        for name in ("Atlas", "Sahara"):
            sources[name] = Source(name=name, kind="feed", url=f"https://{name.lower()}.example/feed")
            s.add(sources[name])
        s.flush()
        for source, slug, title, text, language, day, status in ARTICLES:
            row = Article(
                source_id=sources[source].id,
                url=f"https://{source.lower()}.example/{slug}/",
                fetch_url=f"https://{source.lower()}.example/{slug}/",
                title=title,
                text=text,
                language=language,
                published_at=DAY + timedelta(days=day - 1),
                status=status,
            )
            s.add(row)
            s.flush()
            ids[slug] = row.id
    return ids


def config(*topics: TopicConfig) -> Config:
    sources = [SourceConfig(name=n, feed=f"https://{n.lower()}.example/feed") for n in ("Atlas", "Sahara")]
    return Config(sources=sources, topics=list(topics))


def store_match(factory, topic: TopicConfig, article_id: int, terms: list[str]) -> None:
    with transaction(factory) as s:
        row = s.scalars(select(Topic).where(Topic.name == topic.name)).first()
        if row is None:
            row = Topic(name=topic.name, definition=topic_definition(topic))
            s.add(row)
            s.flush()
        s.add(Match(article_id=article_id, topic_id=row.id, terms=terms, fields=["body"], snippet="old"))


SEGHROUCHNI = TopicConfig(name="Seghrouchni", keywords=["Seghrouchni", "السغروشني"])


# --------------------------------------------------------------------------- backtest


def test_backtest_lists_what_would_match_newest_first_and_why(session_factory):
    ids = seed(session_factory)
    with session_factory() as s:
        report = backtest(s, SEGHROUCHNI, chunk_size=2)  # several chunks
    assert report.scanned == 6  # done articles only
    assert [r.article_id for r in report.matches] == [ids["s2"], ids["s1"], ids["a3"], ids["a2"], ids["a1"]]
    arabic, french = report.matches[0], report.matches[1]
    assert arabic.terms == ["السغروشني"] and arabic.fields == ["title", "body"] and arabic.source == "Sahara"
    assert "السَّغروشني" in arabic.snippet
    assert french.terms == ["Seghrouchni"] and french.fields == ["body"]
    assert french.snippet == "La ministre Seghrouchni a présenté la stratégie."
    assert report.matches[-1].fields == ["title"]
    assert not any(r.stored for r in report.matches) and report.dropped == [] and not report.changed
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Match)) == 0  # nothing stored


def test_backtest_since_filters_and_queries(session_factory):
    ids = seed(session_factory)
    topic = TopicConfig(
        name="Minister", query='"seghrouchni minister"~3 -football', sources=["Atlas"], languages=["en"]
    )
    with session_factory() as s:
        report = backtest(s, topic)
        recent = backtest(s, topic, since=DAY + timedelta(days=2))
    assert [r.article_id for r in report.matches] == [ids["a2"]]
    assert report.matches[0].terms == ['"seghrouchni minister"~3']
    assert recent.scanned == 4 and recent.matches == []


def test_backtest_of_a_changed_topic_shows_new_and_dropped_matches(session_factory):
    ids = seed(session_factory)
    store_match(session_factory, SEGHROUCHNI, ids["a1"], ["Seghrouchni"])
    store_match(session_factory, SEGHROUCHNI, ids["a3"], ["Seghrouchni"])
    changed = TopicConfig(name="Seghrouchni", keywords=["Seghrouchni"], exclude=["football"])
    with session_factory() as s:
        report = backtest(s, changed)
    assert report.changed
    by_id = {r.article_id: r for r in report.matches}
    assert set(by_id) == {ids["a1"], ids["a2"], ids["s1"]}
    assert by_id[ids["a1"]].stored and not by_id[ids["a2"]].stored
    assert [r.article_id for r in report.dropped] == [ids["a3"]]
    assert report.dropped[0].terms == ["Seghrouchni"] and report.dropped[0].snippet == "old"
    with session_factory() as s:
        assert not backtest(s, SEGHROUCHNI).changed


# --------------------------------------------------------------------------- rematch and sync


def test_rematch_recomputes_one_topic_without_alerts(session_factory):
    ids = seed(session_factory)
    old = TopicConfig(name="Seghrouchni", keywords=["Seghrouchni"])
    other = TopicConfig(name="Weather", keywords=["rain"])
    store_match(session_factory, old, ids["a1"], ["stale"])  # still matches: kept, refreshed
    store_match(session_factory, old, ids["a3"], ["Seghrouchni"])  # football: removed
    store_match(session_factory, other, ids["s3"], ["rain"])  # another topic: untouched
    new = TopicConfig(name="Seghrouchni", keywords=["Seghrouchni", "السغروشني"], exclude=["football"])
    cfg = config(new, other)

    report = rematch(session_factory, cfg, "Seghrouchni", chunk_size=2)
    assert (report.scanned, report.added, report.removed, report.kept) == (6, 3, 1, 1)
    with session_factory() as s:
        topic_id = s.scalar(select(Topic.id).where(Topic.name == "Seghrouchni"))
        rows = {m.article_id: m for m in s.scalars(select(Match).where(Match.topic_id == topic_id))}
        assert set(rows) == {ids["a1"], ids["a2"], ids["s1"], ids["s2"]}
        assert rows[ids["a1"]].terms == ["Seghrouchni"] and rows[ids["a1"]].fields == ["title"]
        assert rows[ids["s2"]].terms == ["السغروشني"]
        assert s.scalar(select(func.count()).select_from(Alert)) == 0  # a rematch never alerts
        assert s.scalar(select(func.count()).select_from(Match).where(Match.topic_id != topic_id)) == 1
        assert s.get(Topic, topic_id).definition == topic_definition(new)

    again = rematch(session_factory, cfg, "Seghrouchni")
    assert (again.added, again.removed, again.kept) == (0, 0, 4)


def test_rematch_withdraws_unsent_alerts_of_dropped_matches(session_factory):
    ids = seed(session_factory)
    old = TopicConfig(name="Seghrouchni", keywords=["Seghrouchni"])
    store_match(session_factory, old, ids["a3"], ["Seghrouchni"])  # the football article
    store_match(session_factory, old, ids["a1"], ["Seghrouchni"])
    with transaction(session_factory) as s:
        topic_id = s.scalar(select(Topic.id).where(Topic.name == "Seghrouchni"))
        for key, status in (("a3", "pending"), ("a1", "pending")):
            story = Story(title=key)
            s.add(story)
            s.flush()
            s.add(
                Alert(
                    topic_id=topic_id, story_id=story.id, article_id=ids[key], channel="press", status=status
                )
            )
    new = TopicConfig(name="Seghrouchni", keywords=["Seghrouchni"], exclude=["football"])
    rematch(session_factory, config(new), "Seghrouchni")
    with session_factory() as s:
        by_article = {a.article_id: a for a in s.scalars(select(Alert))}
    assert by_article[ids["a3"]].status == "skipped" and "withdrawn" in by_article[ids["a3"]].last_error
    assert by_article[ids["a1"]].status == "pending"


def test_rematch_of_a_topic_never_stored_creates_it(session_factory):
    seed(session_factory)
    report = rematch(session_factory, config(SEGHROUCHNI), "Seghrouchni")
    assert report.added == 5
    with session_factory() as s:
        assert s.scalar(select(Topic.definition).where(Topic.name == "Seghrouchni")) == topic_definition(
            SEGHROUCHNI
        )


def test_sync_keeps_a_changed_definition_and_warns(session_factory, caplog):
    first = config(SEGHROUCHNI)
    with transaction(session_factory) as s:
        sync_config(s, first)
    changed = TopicConfig(name="Seghrouchni", query="Seghrouchni -football")
    new_topic = TopicConfig(name="Data centres", keywords=["data centre"], languages=["fr"])
    with caplog.at_level(logging.WARNING, logger="monitor.db.sync"), transaction(session_factory) as s:
        _, topic_ids = sync_config(s, config(changed, new_topic))
    assert set(topic_ids) == {"Seghrouchni", "Data centres"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "topic 'Seghrouchni' changed since its matches were computed; run `monitor topics rematch Seghrouchni`"
    ]
    with session_factory() as s:
        stored = dict(s.execute(select(Topic.name, Topic.definition)).all())
    assert stored["Seghrouchni"] == topic_definition(SEGHROUCHNI)  # not applied silently
    assert stored["Data centres"] == {
        "keywords": ["data centre"],
        "query": None,
        "exclude": [],
        "languages": ["fr"],
    }
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="monitor.db.sync"), transaction(session_factory) as s:
        sync_config(s, first)
    assert not caplog.records


def test_topic_definition_only_names_filters_that_are_set():
    assert topic_definition(SEGHROUCHNI) == {
        "keywords": ["Seghrouchni", "السغروشني"],
        "query": None,
        "exclude": [],
    }
    filtered = TopicConfig(name="x", keywords=["x"], sources=["Atlas"], languages=["fr"])
    assert topic_definition(filtered)["sources"] == ["Atlas"] and topic_definition(filtered)["languages"] == [
        "fr"
    ]


# --------------------------------------------------------------------------- the pipeline applies filters


def test_pipeline_applies_source_and_language_filters(tmp_path, db_url, site):
    base = site.base
    text = "Minister Amal El Fallah Seghrouchni presented the national digital strategy."
    site.route("/atlas/one/", Response(article_page("Digital strategy", [FILLER[0], text, FILLER[1]])))
    site.route(
        "/other/two/", Response(article_page("Stratégie numérique", [FILLER[0], text, FILLER[2]], lang="fr"))
    )
    site.route("/other/three/", Response("oops", status=500, content_type="text/plain"))
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    site.route(
        "/atlas.xml",
        Response(
            rss_feed(base, [{"title": "Digital strategy", "link": f"{base}/atlas/one/", "published": now}]),
            content_type="application/rss+xml",
        ),
    )
    site.route("/other.xml", Response(rss_feed(base, [
        {"title": "Stratégie numérique", "link": f"{base}/other/two/", "published": now},
        {"title": "Seghrouchni au Parlement", "link": f"{base}/other/three/", "published": now,
         "summary": "La ministre Seghrouchni au Parlement."},
    ]), content_type="application/rss+xml"))  # fmt: skip
    site.route("/hook", Response("ok", content_type="text/plain"))
    topics = [
        {"name": "All", "keywords": ["Seghrouchni"]},
        {"name": "Atlas only", "keywords": ["Seghrouchni"], "sources": ["Atlas"]},
        {"name": "French", "keywords": ["Seghrouchni"], "languages": ["fr"]},
    ]
    sources = [
        {"name": "Atlas", "feed": site.url("/atlas.xml")},
        {"name": "Other", "feed": site.url("/other.xml"), "language": "fr"},  # used when the page is lost
    ]
    cfg = make_config(tmp_path, db_url, sources, site.base[7:] + "/hook", topics=topics)
    settings = Settings(
        page_retry_base=0.01, page_retry_max=0.02, max_page_attempts=2, workers=2, host_delay=0
    )
    for _ in range(3):
        once(cfg, settings)
        time.sleep(0.05)
    with db(cfg)() as s:
        rows = s.execute(select(Article.url, Topic.name).join(Match.article).join(Match.topic)).all()
    found = {(url.removeprefix(base), name) for url, name in rows}
    assert found == {
        ("/atlas/one/", "All"), ("/atlas/one/", "Atlas only"),
        ("/other/two/", "All"), ("/other/two/", "French"),
        ("/other/three/", "All"), ("/other/three/", "French"),  # from the feed; the source says fr
    }  # fmt: skip


# --------------------------------------------------------------------------- the commands


def _cli_database(tmp_path) -> tuple[object, dict[str, int]]:
    """A config file (with the two sources and a Seghrouchni topic) and a seeded SQLite database."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = make_engine(url)
    upgrade(engine)
    ids = seed(make_sessionmaker(engine))
    engine.dispose()
    sources = [{"name": n, "feed": f"https://{n.lower()}.example/feed"} for n in ("Atlas", "Sahara")]
    cfg = make_config(tmp_path, url, sources, "127.0.0.1:9/hook")  # topics: Seghrouchni, Data centres
    return cfg, ids


def test_topics_test_command(tmp_path):
    cfg, _ = _cli_database(tmp_path)
    proc = cli(
        "--config",
        cfg.path,
        "topics",
        "test",
        "--query",
        "minist* AND body:Seghrouchni",
        "-f",
        "json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["topic"] == "(query)" and data["scanned"] == 6
    assert [m["title"] for m in data["matches"]] == ["Transition numérique", "Budget vote"]
    assert data["matches"][0]["terms"] == ["minist*", "Seghrouchni"] and data["matches"][0]["fields"] == [
        "body"
    ]
    assert data["matches"][0]["published"].startswith("2026-11-04T10:00:00+01:00")  # config timezone
    assert data["matches"][0]["stored"] is False and data["no_longer_matching"] == []

    env = {**os.environ, "COLUMNS": "250"}
    proc = cli(
        "--config", cfg.path, "topics", "test", "Seghrouchni", "--since", "2026-11-03", cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "Seghrouchni: 3 of 4 stored articles would match" in proc.stdout
    assert "La ministre Seghrouchni a présenté la stratégie." in proc.stdout
    assert "Budget vote" not in proc.stdout and "Nothing was stored or alerted." in proc.stdout


def test_topics_test_shows_the_spelling_a_fuzzy_term_found(tmp_path):
    cfg, _ = _cli_database(tmp_path)
    query = '"El Fellah~1 Seghrouchini~1" OR Seghrouchini~1'  # the user misspelt the name
    proc = cli("--config", cfg.path, "topics", "test", "--query", query, "-f", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    matches = {m["title"]: m for m in json.loads(proc.stdout)["matches"]}
    budget = matches["Budget vote"]
    assert budget["terms"] == ["El Fellah~1 Seghrouchini~1", "Seghrouchini~1"]
    assert budget["matched"] == [
        "El Fallah Seghrouchni ≈ El Fellah Seghrouchini",
        "Seghrouchni ≈ Seghrouchini",
    ]
    env = {**os.environ, "COLUMNS": "250"}
    proc = cli("--config", cfg.path, "topics", "test", "--query", query, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Seghrouchni ≈ Seghrouchini" in proc.stdout


def test_topics_test_command_errors(tmp_path):
    cfg, _ = _cli_database(tmp_path)
    proc = cli("--config", cfg.path, "topics", "test", "Seghruchni", cwd=tmp_path)
    assert (
        proc.returncode == 2
        and proc.stderr.strip() == "unknown topic 'Seghruchni' (did you mean 'Seghrouchni'?)"
    )
    proc = cli("--config", cfg.path, "topics", "test", "--query", "Amal~1 Seghrouchni~1", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(
        "topic '(query)': query 'Amal~1 Seghrouchni~1': a fuzzy word needs at least 5 letters ('Amal' has 4)"
    )
    assert proc.stderr.strip().endswith("at column 1")
    proc = cli("--config", cfg.path, "topics", "test", cwd=tmp_path)
    assert proc.returncode == 2 and "give a topic NAME or --query" in proc.stderr
    proc = cli("--config", cfg.path, "topics", "test", "Seghrouchni", "--query", "x", cwd=tmp_path)
    assert proc.returncode == 2
    proc = cli("--config", cfg.path, "topics", "test", "Seghrouchni", "--since", "someday", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("--since: invalid date")


def test_topics_rematch_command(tmp_path):
    cfg, ids = _cli_database(tmp_path)
    proc = cli("--config", cfg.path, "topics", "rematch", "Seghrouchni", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert " ".join(proc.stdout.split()) == (
        "topic 'Seghrouchni': 6 stored articles matched again: 5 added, 0 removed, 0 kept. "
        "New matches were stored without alerts."
    )
    factory = db(cfg)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Match)) == 5
        assert s.scalar(select(func.count()).select_from(Alert)) == 0
    proc = cli("--config", cfg.path, "topics", "rematch", "Nope", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown topic 'Nope'" in proc.stderr
