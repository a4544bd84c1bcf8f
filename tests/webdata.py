"""A database filled by the real pipeline for the web UI's tests: four generated outlets (English,
a wire reprinting one dispatch, Arabic, French), a hostile title, a broken feed, a working and a
failing alert channel; then one ``run --once``.

Seghrouchni has 12 stories (the dispatch with its reprint, the hostile title, eight more English
ones, one Arabic, one French); "Data centres" has two.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import Config, load
from monitor.runtime import Settings
from monitor.scheduler import run_once
from tests.helpers import DISPATCH, DISPATCH_TITLE
from tests.servers import Response, Site
from tests.sitegen import article_page, rss_feed

HOSTILE_TITLE = "<img src=x onerror=alert(1)> Seghrouchni visits Tangier start-ups"
ARABIC_TITLE = "السغروشني تطلق برنامجا وطنيا للتحول الرقمي"
FRENCH_TITLE = "Seghrouchni présente la stratégie « Maroc Digital 2030 » aux élus"
DATA_TITLE = "Tangier to host a new data centre"
SECRET = "s3cret-Passw0rd-XYZ"
TOKEN = "test-token-0123456789abcdef"
FAST = Settings(page_retry_base=0.05, page_retry_max=0.1, workers=2, host_delay=0)

_VOCABULARY = (
    "budget council region ministry reform programme network school hospital port railway farmers "
    "investors exports tourism water energy solar wind harbour village university students teachers "
    "doctors engineers market prices inflation taxes customs airport highway bridge museum festival "
    "fishermen cooperative drought rainfall harvest olive argan phosphate textile automotive aviation "
    "startup incubator broadband fibre satellite archive library court judges lawyers parliament senate "
    "mayor governor prefecture province commune district quarter housing rents loans bank insurance"
)
_WORDS = _VOCABULARY.split()
_VERBS = (
    "announced",
    "discussed",
    "approved",
    "rejected",
    "reviewed",
    "funded",
    "delayed",
    "expanded",
    "opened",
    "visited",
)


def _sentences(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        words = rng.sample(_WORDS, 9)
        out.append(
            f"Officials {rng.choice(_VERBS)} the {words[0]} {words[1]} plan with {words[2]} and {words[3]} "
            f"leaders, while {words[4]} {words[5]} groups said the {words[6]} {words[7]} {words[8]} "
            f"would need {rng.randint(2, 900)} more days."
        )
    return out


def paragraphs(seed: int, lead: str) -> list[str]:
    """Four paragraphs of text no other article shares, with ``lead`` in the second."""
    rng = random.Random(seed)
    return [" ".join(_sentences(rng, 3)), lead, " ".join(_sentences(rng, 3)), " ".join(_sentences(rng, 2))]


@dataclass
class Article:
    outlet: str
    slug: str
    title: str
    body: list[str]
    age: timedelta
    lang: str = "en"


def articles() -> list[Article]:
    h = timedelta(hours=1)
    d = timedelta(days=1)
    seg = "Minister Amal El Fallah Seghrouchni {} on {} with {} representatives."
    out = [
        Article("atlas", "dispatch", DISPATCH_TITLE, DISPATCH.split("\n\n"), 2 * h),
        Article("wire", "dispatch-reprint", "Digital Morocco 2030: 100,000 young people to be trained",
                ("RABAT (MAP) - " + DISPATCH.split(" - ", 1)[1]).split("\n\n"), 1 * h),
        Article("atlas", "hostile", HOSTILE_TITLE,
                paragraphs(1, "Seghrouchni met the founders of several start-ups in Tangier on Friday."), 4 * h),
        Article("atlas", "tangier-data-centre", DATA_TITLE,
                paragraphs(2, "A new data centre will be built near Tangier, the ministry said."), 6 * h),
        Article("hespress", "arabic", ARABIC_TITLE,
                ["أعلنت الوزيرة أمل الفلاح السغروشني يوم الاثنين عن إطلاق برنامج وطني جديد للتحول الرقمي في الإدارات العمومية.",
                 "وأكدت السغروشني أن البرنامج سيشمل تكوين آلاف الموظفين في مختلف جهات المملكة خلال السنوات الثلاث المقبلة.",
                 "ويهدف البرنامج إلى تبسيط المساطر الإدارية وتقريب الخدمات من المواطنين في المدن والقرى على حد سواء."],
                3 * h, lang="ar"),
        Article("lematin", "francais", FRENCH_TITLE,
                ["La ministre Amal El Fallah Seghrouchni a présenté mercredi aux élus régionaux la stratégie numérique du Royaume.",
                 "Elle a notamment évoqué la construction d'un centre de données à Benguérir et la formation de 100 000 jeunes.",
                 "Les élus ont salué l'initiative tout en réclamant des moyens supplémentaires pour les communes rurales."],
                8 * h, lang="fr"),
    ]  # fmt: skip
    ages = [5 * h, 1 * d + h, 2 * d, 3 * d, 4 * d, 9 * d, 15 * d, 20 * d]
    topics = ["the digital budget", "online public services", "rural connectivity", "a cybersecurity plan",
              "the open data portal", "the e-government law", "the national AI strategy", "digital skills"]  # fmt: skip
    for i, (age, topic) in enumerate(zip(ages, topics, strict=True)):
        lead = seg.format(f"spoke about {topic}", "Tuesday", "regional")
        out.append(
            Article("atlas", f"seghrouchni-{i}", f"Seghrouchni on {topic}", paragraphs(100 + i, lead), age)
        )
    return out


OUTLETS = {"atlas": "Atlas", "wire": "Wire", "hespress": "Hespress", "lematin": "Le Matin"}


def serve(site: Site, now: datetime) -> list[dict]:
    """Routes for every outlet's feed and pages; the sources of the config."""
    by_outlet: dict[str, list[dict]] = {key: [] for key in OUTLETS}
    for art in articles():
        path = f"/{art.outlet}/{art.slug}/"
        site.route(path, Response(article_page(art.title, art.body, published=None, lang=art.lang)))
        by_outlet[art.outlet].append({"title": art.title, "link": site.url(path), "published": now - art.age})
    sources = []
    for key, items in by_outlet.items():
        site.route(
            f"/{key}/feed.xml", Response(rss_feed(site.base, items), content_type="application/rss+xml")
        )
        lang = {"hespress": "ar", "lematin": "fr"}.get(key, "en")
        sources.append({"name": OUTLETS[key], "feed": site.url(f"/{key}/feed.xml"), "language": lang})
    sources.append({"name": "Broken", "feed": site.url("/broken/feed.xml")})  # answers 404
    site.route("/hook", Response("ok", content_type="text/plain"))
    site.route("/hook-down", Response("down", status=500, content_type="text/plain"))
    return sources


def write_config(
    path: Path, db_url: str, sources: list[dict], site: Site, token: str | None = None
) -> Config:
    hostport = site.base.removeprefix("http://")
    data = {
        "database": db_url,
        "timezone": "Africa/Casablanca",
        "fetch": {"delay": 0},
        "sources": sources,
        "topics": [
            {"name": "Seghrouchni", "keywords": ["Seghrouchni", "السغروشني"]},
            {"name": "Data centres", "keywords": ["data centre", "centre de données"]},
        ],
        "channels": [
            {"name": "hook", "url": f"json://{hostport}/hook"},
            {"name": "down", "url": f"json://monitor:{SECRET}@{hostport}/hook-down"},
        ],
    }
    if token:
        data["web"] = {"token": token}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return load(path)


def fill(folder: Path, db_url: str, site: Site, now: datetime | None = None, runs: int = 1) -> Config:
    """Serve the outlets on ``site`` and run the pipeline ``runs`` times into ``db_url``; the config."""
    sources = serve(site, now or datetime.now(UTC))
    cfg = write_config(folder / "monitor.yaml", db_url, sources, site)
    for _ in range(runs):
        asyncio.run(run_once(cfg, FAST))
    return cfg


# --------------------------------------------------------------------------- a database of its own
