"""Web UI: server time of the pages over 100,000 stored articles, 5,000 of them matching one topic.

A database (SQLite file by default, or ``--database URL``, e.g. the local PostgreSQL) is filled
with bulk inserts: ``--articles`` articles from 20 outlets over the last 365 days in English,
French and Arabic (about one in six reprinted by one or two other outlets: the same story), the
topic "Seghrouchni" matching ``--matches`` of them, nine other topics matching fewer, and an
outbox row per match. Then each page is requested ``--repeat`` times through Starlette's test
client and the median and 95th percentile of its ``Server-Timing`` (the app's own time, from the
request reaching the app to the response's first byte) are printed, first with the schema before
the web indexes (migration 0004 downgraded: the baseline) and then with them; the ratio is
baseline / indexed. The target: the topic page and its Atom feed under 50 ms at the median.

Wall-clock times grow with the machine's load (printed at the end), so the median CPU time this
process spent per request is printed too: with SQLite it holds the database's work as well; the
login page's row is what the framework and the test client cost alone. SQLite gets no ANALYZE
(a monitor's database never has statistics); PostgreSQL is vacuumed and analysed, as autovacuum
would have done.

    .venv/bin/python bench/web.py [--articles 100000] [--matches 5000] [--repeat 40] [--database URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from monitor.config import Config  # noqa: E402
from monitor.db.migrate import alembic_config, upgrade  # noqa: E402
from monitor.db.models import DONE, OUT_SENT, Alert, Article, Match, Source, Story, Topic  # noqa: E402
from monitor.db.session import make_engine  # noqa: E402
from monitor.web.app import create_app  # noqa: E402
from monitor.web.database import open_readonly  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
SOURCES = 20
OTHER_TOPICS = ["Data centres", "Digital ministry", "Tangier port", "Phosphates", "Tourism", "Drought",
                "Football", "Railways", "Elections"]  # fmt: skip
VOCABULARY = (
    "budget council region ministry reform programme network school hospital port railway farmers "
    "investors exports tourism water energy solar wind harbour village university students teachers "
    "doctors engineers market prices inflation taxes customs airport highway bridge museum festival"
)
WORDS = VOCABULARY.split()
BASELINE = "0003"  # the schema before the web indexes


def sentence(rng: random.Random, n: int = 14) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def build(url: str, articles: int, matches: int, seed: int = 7) -> dict:
    """Fill an empty database; returns what was built."""
    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    langs = ["en", "fr", "ar"]
    with engine.begin() as conn:
        conn.execute(insert(Source), [
            {"id": i + 1, "name": f"Outlet {i + 1}", "kind": "feed", "url": f"https://outlet{i + 1}.example/feed",
             "consecutive_failures": 3 if i == 0 else 0, "last_error": "HTTP 503" if i == 0 else None,
             "last_success_at": NOW - timedelta(hours=1), "created_at": NOW - timedelta(days=400)}
            for i in range(SOURCES)
        ])  # fmt: skip
        topics = ["Seghrouchni", *OTHER_TOPICS]
        conn.execute(insert(Topic), [
            {"id": i + 1, "name": name, "definition": {"keywords": [name]}, "updated_at": NOW - timedelta(days=400)}
            for i, name in enumerate(topics)
        ])  # fmt: skip
        # Articles: stories of 1 to 3 articles from distinct outlets, published over 365 days.
        rows, stories, article_id, story_id = [], [], 0, 0
        while article_id < articles:
            story_id += 1
            published = NOW - timedelta(seconds=rng.randint(0, 365 * 86400))
            size = 1 if rng.random() < 5 / 6 else rng.choice((2, 3))
            outlets = rng.sample(range(1, SOURCES + 1), size)
            title = sentence(rng, 9)
            stories.append(
                {"id": story_id, "title": title, "first_published_at": published, "created_at": published}
            )
            for k, outlet in enumerate(outlets[: articles - article_id]):
                article_id += 1
                at = published + timedelta(minutes=37 * k)
                rows.append({
                    "id": article_id, "source_id": outlet, "url": f"https://outlet{outlet}.example/a/{article_id}",
                    "fetch_url": f"https://outlet{outlet}.example/a/{article_id}", "title": title if k == 0 else sentence(rng, 8),
                    "text": " ".join(sentence(rng) for _ in range(30)), "language": rng.choice(langs),
                    "published_at": at, "date_source": "feed", "discovered_at": at + timedelta(minutes=3),
                    "extracted_at": at + timedelta(minutes=3), "origin": "live", "status": DONE, "attempts": 1,
                    "story_id": story_id,
                })  # fmt: skip
        for start in range(0, len(stories), 5_000):
            conn.execute(insert(Story), stories[start : start + 5_000])
        for start in range(0, len(rows), 5_000):
            conn.execute(insert(Article), rows[start : start + 5_000])
        counts = {1: matches, **{i + 2: max(matches // (3 * (i + 1)), 50) for i in range(len(OTHER_TOPICS))}}
        match_rows, alert_rows = [], []
        for topic, n in counts.items():
            for aid in rng.sample(range(1, articles + 1), n):
                matched_at = rows[aid - 1]["extracted_at"]  # stored and matched when extracted
                match_rows.append({"article_id": aid, "topic_id": topic, "terms": [topics[topic - 1]],
                                   "fields": ["title", "body"], "snippet": sentence(rng, 30), "created_at": matched_at})  # fmt: skip
        for start in range(0, len(match_rows), 5_000):
            conn.execute(insert(Match), match_rows[start : start + 5_000])
        story_of = {r["id"]: r["story_id"] for r in rows}
        seen = set()
        for m in match_rows:
            key = (m["topic_id"], story_of[m["article_id"]])
            if key not in seen:
                seen.add(key)
                alert_rows.append({"topic_id": key[0], "story_id": key[1], "article_id": m["article_id"],
                                   "channel": "press", "status": OUT_SENT, "attempts": 1, "created_at": NOW,
                                   "sent_at": NOW})  # fmt: skip
        for start in range(0, len(alert_rows), 5_000):
            conn.execute(insert(Alert), alert_rows[start : start + 5_000])
    if engine.dialect.name == "postgresql":  # as autovacuum would have done; SQLite: no statistics,
        # as in a real monitor database (nothing runs ANALYZE)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        built = {
            "articles": conn.scalar(select(func.count()).select_from(Article)),
            "stories": conn.scalar(select(func.count()).select_from(Story)),
            "matches": conn.scalar(select(func.count()).select_from(Match)),
            "topic matches": conn.scalar(select(func.count()).select_from(Match).where(Match.topic_id == 1)),
            "seconds": round(time.perf_counter() - started, 1),
        }
    engine.dispose()
    return built


def config(url: str) -> Config:
    return Config.model_validate({
        "database": url, "timezone": "Africa/Casablanca",
        "sources": [{"name": f"Outlet {i + 1}", "feed": f"https://outlet{i + 1}.example/feed"} for i in range(SOURCES)],
        "topics": [{"name": n, "keywords": [n]} for n in ["Seghrouchni", *OTHER_TOPICS]],
        "channels": [{"name": "press", "url": "json://127.0.0.1:9/hook"}],
    })  # fmt: skip


def pages(client: TestClient) -> dict[str, str]:
    """The pages to time, including a deep page (its cursor taken from following the links)."""
    deep = "/topics/seghrouchni"
    for _ in range(40):
        html = client.get(deep).text
        marker = 'rel="next" href="'
        if marker not in html:
            break
        deep = html.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
    story = client.get("/topics/seghrouchni").text.split('href="/stories/', 1)[1].split('"', 1)[0]
    return {
        "topic page": "/topics/seghrouchni",
        "topic page 40": deep,
        "topic, one outlet": "/topics/seghrouchni?source=Outlet+3",
        "topic, 30 days": f"/topics/seghrouchni?from={(NOW - timedelta(days=30)):%Y-%m-%d}",
        "Atom feed": "/topics/seghrouchni.atom",
        "index": "/",
        "story": f"/stories/{story}",
        "alerts": "/alerts",
        "sources": "/sources",
        "login (overhead)": "/login",  # a tiny page: what the framework and test client cost alone
    }


def measure(url: str, repeat: int) -> dict[str, tuple[float, float, float]]:
    cfg = config(url)
    engine = open_readonly(url, current_schema=False)  # the baseline is an older schema
    client = TestClient(create_app(cfg, engine, clock=lambda: NOW))
    out = {}
    for name, path in pages(client).items():
        times, cpu = [], []
        for i in range(repeat + 2):
            started = time.process_time()
            response = client.get(path)
            used = time.process_time() - started
            assert response.status_code == 200, (path, response.status_code)
            if i >= 2:  # warm-up: templates compiled, caches filled
                times.append(float(response.headers["server-timing"].split("dur=")[1]))
                cpu.append(used * 1000)
        times.sort()
        out[name] = (statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.median(cpu))
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--matches", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--database", help="an EMPTY database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    url = args.database or f"sqlite:///{Path(folder.name) / 'bench.db'}"
    print(
        f"building {args.articles:,} articles, {args.matches:,} matches of one topic in {url.split('://')[0]} …"
    )
    built = build(url, args.articles, args.matches)
    print("built:", ", ".join(f"{k} {v:,}" for k, v in built.items()))
    engine = make_engine(url)
    command.downgrade(alembic_config(engine), BASELINE)
    before = measure(url, args.repeat)
    upgrade(engine)
    engine.dispose()
    after = measure(url, args.repeat)
    print(f"\nserver time, ms: median / p95 of {args.repeat} requests (Server-Timing, wall clock), and the")
    print("median CPU time of this process per request (SQLite runs in it; the test client's share included)")
    print(
        f"{'page':<20} {'before 0004':>16} {'with indexes':>16} {'ratio':>6} {'CPU before':>11} {'CPU after':>10}"
    )
    for name, (median, p95, cpu) in after.items():
        b_median, b_p95, b_cpu = before[name]
        print(
            f"{name:<20} {b_median:>7.1f} / {b_p95:>6.1f} {median:>7.1f} / {p95:>6.1f} {b_median / median:>5.1f}x"
            f" {b_cpu:>11.1f} {cpu:>10.1f}"
        )
    worst = max(after["topic page"][0], after["Atom feed"][0])
    verdict = "under" if worst < 50 else "OVER"
    print(f"\ntopic page and Atom feed median: {worst:.1f} ms ({verdict} the 50 ms target)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    folder.cleanup()


if __name__ == "__main__":
    main()
