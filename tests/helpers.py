"""What several test modules share, so that no test module imports another: the CLI run as a
user runs it, config builders, a generated local outlet, the fast pipeline settings,
database peeks, a route recording its requests' timing, outbox rows made by hand, and the
daemon run as a process.

Servers (and ``free_port``) live in tests/servers.py, generated pages and feeds in
tests/sitegen.py (the benches use them too); texts too long to read inline in a test live under tests/data/.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from monitor.alerts.outbox import enqueue
from monitor.checks import load_config
from monitor.config import ChannelConfig, Config
from monitor.db.models import Alert, Article, ArticleStatus, Match, Source, Story, Topic
from monitor.db.session import make_engine, make_sessionmaker, transaction
from monitor.runtime import Settings
from monitor.scheduler import run_once
from tests.servers import Response
from tests.sitegen import article_page, rss_feed

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def data_text(name: str) -> str:
    """A text fixture under tests/data/, without the file's final newline."""
    return (DATA / name).read_text(encoding="utf-8").removesuffix("\n")


# --------------------------------------------------------------------------- the command line


def cli(
    *args: str, cwd: Path, env: dict | None = None, columns: int | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """``monitor ARGS`` in a subprocess, as a user (or cron) runs it; output captured as text.

    ``columns`` sets the terminal width the output is laid out for (80: what a pipe or cron gets).
    """
    if columns is not None:
        env = {**(os.environ if env is None else env), "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


# --------------------------------------------------------------------------- a local outlet

FILLER = [
    "The announcement was made on Thursday in Rabat during a press conference attended by officials "
    "from several ministries, industry representatives and international partners.",
    "According to the statement, the programme will be rolled out in stages over the next three years, "
    "with a first phase focused on training and on the modernisation of public services.",
    "Observers noted that the plan builds on earlier commitments and that its financing relies on a mix "
    "of public funds and private investment, with a review planned at the end of each phase.",
]

SEGHROUCHNI = "Minister Amal El Fallah Seghrouchni presented the national digital strategy to parliament."
DATACENTRE = "A new data centre will be built near Tangier, the ministry said."


def paragraphs(*extra: str) -> list[str]:
    return [FILLER[0], *extra, FILLER[1], FILLER[2]]


def serve_outlet(site) -> None:
    """Three articles: one on Seghrouchni, one on a data centre, one unrelated whose sidebar teaser
    names Seghrouchni and whose comments talk about a data centre."""
    base = site.base
    site.route(
        "/2026/11/digital-strategy-presented/",
        Response(article_page("Digital strategy presented to parliament", paragraphs(SEGHROUCHNI))),
    )
    site.route(
        "/2026/11/tangier-data-centre-project/",
        Response(article_page("Tangier to host a new data centre", paragraphs(DATACENTRE))),
    )
    site.route(
        "/2026/11/football-cup-final-report/",
        Response(
            article_page(
                "Cup final ends in a draw after extra time",
                paragraphs("The match ended one all after a tense evening at the stadium in Casablanca."),
                teasers=["Seghrouchni meets start-up founders in Casablanca"],
                comments=["They should build a data centre instead of a new stadium."],
            )
        ),
    )
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    items = [
        {"title": "Digital strategy presented to parliament", "link": f"{base}/2026/11/digital-strategy-presented/",
         "published": now},
        {"title": "Tangier to host a new data centre", "link": f"{base}/2026/11/tangier-data-centre-project/",
         "published": now - timedelta(hours=1)},
        {"title": "Cup final ends in a draw", "link": f"{base}/2026/11/football-cup-final-report/",
         "published": now - timedelta(hours=2)},
    ]  # fmt: skip
    site.route("/feed.xml", Response(rss_feed(base, items), content_type="application/rss+xml"))


class InFlight:
    """A route recording how many requests were in flight at once and when each started
    (``starts`` may be shared by several routes, to time them on one clock)."""

    def __init__(
        self, response: Response | None = None, hold: float = 0.0, starts: list[float] | None = None
    ):
        self.response = response or Response("ok", content_type="text/plain")
        self.hold = hold
        self.current = self.peak = 0
        self.starts: list[float] = [] if starts is None else starts
        self._lock = threading.Lock()

    def __call__(self, _req):
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
            self.starts.append(time.monotonic())
        time.sleep(self.hold)
        with self._lock:
            self.current -= 1
        return self.response


def gaps(starts: list[float]) -> list[float]:
    """The intervals between consecutive start times."""
    starts = sorted(starts)
    return [b - a for a, b in zip(starts, starts[1:], strict=False)]


# --------------------------------------------------------------------------- config and pipeline


def make_config(tmp_path: Path, db_url: str, sources: list[dict], hook: str, **extra) -> Config:
    """A config file in ``tmp_path`` (two topics, one json:// channel to ``hook``), loaded as the
    commands load it."""
    data = {
        "database": db_url,
        "timezone": "Africa/Casablanca",
        "fetch": {"delay": 0},  # politeness has its own tests; here one local server plays every outlet
        "sources": sources,
        "topics": [
            {"name": "Seghrouchni", "keywords": ["Seghrouchni", "السغروشني"]},
            {"name": "Data centres", "keywords": ["data centre", "data center", "centre de données"]},
        ],
        "channels": [{"name": "hook", "url": f"json://{hook}"}],
        **extra,
    }
    path = tmp_path / "monitor.yaml"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return load_config(path)


FAST = Settings(page_retry_base=0.05, page_retry_max=0.1, workers=2, host_delay=0)


def once(cfg, settings: Settings = FAST):
    """``run --once`` in this process: (poll reports, send stats)."""
    return asyncio.run(run_once(cfg, settings))


def db(cfg):
    """A session factory on the config's database."""
    return make_sessionmaker(make_engine(cfg.database))


def count(factory, model, *where) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# --------------------------------------------------------------------------- story texts

# Hand-written news texts for the story-clustering tests: one agency dispatch, a copy of its lead
# paragraph, and an article on the same minister that is NOT a copy.
DISPATCH_TITLE = "Seghrouchni launches national programme to train 100,000 young people in digital skills"
DISPATCH = data_text("stories/dispatch.txt")
LEAD_COPY_TITLE = "100,000 young Moroccans to be trained in digital jobs"
LEAD_COPY = data_text("stories/lead-copy.txt")  # the dispatch's first paragraph, then the outlet's own
OTHER_TITLE = "Seghrouchni defends digital administration budget before parliament"
OTHER = data_text("stories/other.txt")


# --------------------------------------------------------------------------- outbox rows by hand

T0 = datetime(2026, 11, 23, 14, 4, tzinfo=UTC)


def channels_config(*channels: tuple[str, str] | tuple[str, str, str]) -> Config:
    """A config of channels alone: (name, url) or (name, url, digest cron)."""
    return Config(
        timezone="Africa/Casablanca",
        channels=[ChannelConfig(name=c[0], url=c[1], digest=c[2] if len(c) > 2 else None) for c in channels],
    )


def add_story(
    factory,
    channels: list[str],
    *,
    n: int = 1,
    topic: str = "Seghrouchni",
    title: str = "Minister Seghrouchni opens the data centre",
    outlet: str = "Morocco World News",
    also: list[tuple[str, str]] = (),
) -> int:
    """Source, story, article(s), topic, match and outbox rows; returns the story id."""
    with transaction(factory) as s:
        src = s.scalar(select(Source).where(Source.name == outlet)) or Source(
            name=outlet, kind="feed", url="https://mwn.example/feed"
        )
        top = s.scalar(select(Topic).where(Topic.name == topic)) or Topic(
            name=topic, definition={"keywords": ["Seghrouchni", "السغروشني"]}
        )
        story = Story(title=title, first_published_at=T0)
        art = Article(
            source=src,
            url=f"https://mwn.example/news/{n}",
            fetch_url=f"https://mwn.example/news/{n}?utm_source=rss",
            title=title,
            text="… said Amal Seghrouchni on Monday …",
            published_at=T0,
            status=ArticleStatus.DONE,
            story=story,
        )
        s.add_all([src, top, story, art])
        for i, (other_outlet, other_url) in enumerate(also):
            other_src = s.scalar(select(Source).where(Source.name == other_outlet)) or Source(
                name=other_outlet, kind="feed", url=f"https://other{i}.example/feed"
            )
            s.add(
                Article(
                    source=other_src,
                    url=other_url,
                    fetch_url=other_url,
                    title=title,
                    published_at=T0 + timedelta(hours=1 + i),
                    status=ArticleStatus.DONE,
                    story=story,
                )
            )
        s.flush()
        s.add(
            Match(
                article_id=art.id,
                topic_id=top.id,
                terms=["Seghrouchni", "السغروشني"],
                fields=["title", "body"],
                snippet="… said Amal Seghrouchni on Monday …",
                highlights=[[12, 23]],
            )
        )
        enqueue(s, topic_id=top.id, story_id=story.id, article_id=art.id, channels=channels)
        return story.id


def outbox_rows(factory) -> list[Alert]:
    """Every outbox row, oldest first."""
    with factory() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


# --------------------------------------------------------------------------- daemons and feeds

RSS = "application/rss+xml"


def story(site, path: str, title: str, *text: str, delay: float = 0.0, summary: str = "") -> dict:
    """Serve an article page at ``path``; return its feed item."""
    site.route(path, Response(article_page(title, paragraphs(*text)), delay=delay))
    return {"title": title, "link": site.url(path), "summary": summary}


def serve_feed(site, path: str, items: list[dict], **headers: str) -> bytes:
    body = rss_feed(site.base, items).encode()
    site.route(path, Response(body, content_type=RSS, headers=headers))
    return body


def hook(site) -> str:
    """A json:// receiver on the site; returns the host/path for make_config."""
    site.route("/hook", Response("ok", content_type="text/plain"))
    return site.base[7:] + "/hook"


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Daemon:
    """`monitor run` in a subprocess (fast tick), its stderr in a file."""

    def __init__(self, cfg, tmp_path: Path, *run_args: str, global_args: tuple[str, ...] = ()) -> None:
        self.log_path = tmp_path / f"daemon-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", cfg.path, *global_args, "run", "--tick", "0.3",
             *run_args],
            stdout=subprocess.DEVNULL, stderr=self._log, text=True, cwd=tmp_path,
            start_new_session=True,  # its own process group, as in a terminal (Ctrl-C reaches all of it)
        )  # fmt: skip

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 60, ctrl_c: bool = False) -> tuple[int, float]:
        """SIGTERM (or SIGINT to the whole process group, as Ctrl-C does); returns (exit code,
        seconds it took to exit)."""
        started = time.monotonic()
        if ctrl_c:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
