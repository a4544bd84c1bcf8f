"""Story clustering: copies of one dispatch from several outlets make one story (one alert),
different articles on the same subject stay apart; the index lives in the database."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.alerts.outbox import enqueue, send_pending
from monitor.config import ChannelConfig, Config
from monitor.db.models import Article, ArticleStatus, Match, Source, Story, StoryBand, Topic
from monitor.db.session import make_engine, make_sessionmaker, transaction
from monitor.stories import MIN_WORDS, Similarity, assign_story, fingerprint, similarity
from tests.helpers import DISPATCH, DISPATCH_TITLE, LEAD_COPY, LEAD_COPY_TITLE, OTHER, OTHER_TITLE
from tests.servers import Response

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
REPRINT_TITLE = "Digital Morocco 2030: a programme to train 100,000 young people"
REPRINT = "RABAT (MAP) - " + DISPATCH.split(" - ", 1)[1].replace("on Monday", "on Monday 23 November")
INTRO = "Good news for job seekers this week, as the government finally unveiled its long-awaited plan."
PREFIXED_COPY = INTRO + "\n\n" + LEAD_COPY
# A second, unrelated story on the same topic.
DATACENTRE_TITLE = "Seghrouchni inaugurates a new data centre in Benguerir"
DATACENTRE = """Benguerir - Minister Amal El Fallah Seghrouchni on Wednesday inaugurated a data centre
built by a consortium of Moroccan and European companies on the campus of the Mohammed VI
Polytechnic University, which will host the computing capacity of several public administrations.
The site, powered partly by solar energy, covers four thousand square metres and will employ about
two hundred engineers and technicians once fully operational, according to its operators.
The minister stressed that keeping the data of citizens on national soil is a question of
sovereignty, and announced that two other centres will be built in the north of the country."""


# --------------------------------------------------------------------------- pure similarity


def test_copies_are_similar_and_the_same_subject_is_not():
    dispatch = fingerprint(DISPATCH_TITLE, DISPATCH)
    cases = {
        "reprint": (REPRINT_TITLE, REPRINT),
        "lead copy": (LEAD_COPY_TITLE, LEAD_COPY),
        "lead copy after an intro": (LEAD_COPY_TITLE, PREFIXED_COPY),
        "same minister, other news": (OTHER_TITLE, OTHER),
        "same minister, data centre": (DATACENTRE_TITLE, DATACENTRE),
    }
    same = {}
    for name, (title, text) in cases.items():
        other = fingerprint(title, text)
        sim = similarity(dispatch, other)
        same[name] = sim.same_story
        # Candidates come from shared band keys, in both directions.
        if sim.same_story:
            assert set(dispatch.query_keys) & set(other.stored_keys), name
            assert set(other.query_keys) & set(dispatch.stored_keys), name
    assert same == {
        "reprint": True,
        "lead copy": True,
        "lead copy after an intro": True,
        "same minister, other news": False,
        "same minister, data centre": False,
    }
    assert similarity(dispatch, fingerprint(REPRINT_TITLE, REPRINT)).jaccard > 0.9
    assert similarity(dispatch, fingerprint(LEAD_COPY_TITLE, LEAD_COPY)).jaccard < 0.2  # lead only


def test_normalisation_makes_case_accents_and_punctuation_irrelevant():
    a = fingerprint("t", DISPATCH)
    b = fingerprint("t", DISPATCH.upper().replace(",", " ;").replace("-", "—"))
    assert similarity(a, b).jaccard == 1.0
    assert a.stored_keys == b.stored_keys


def test_band_keys_are_those_datasketch_gave():
    """Keys stored by earlier versions (MinHash from datasketch's affine32 scheme) must keep
    matching: these were computed by datasketch 2 before it was replaced by numpy alone."""
    text = (
        "Rabat - The Ministry of Digital Transition announced on Monday a national plan for data centres "
        "in Morocco, with three new sites in Rabat, Benguerir and Dakhla, minister Amal El Fallah Seghrouchni said."
    )
    fp = fingerprint("Morocco plans three data centres", text)
    assert len(fp.stored_keys) == 48
    assert fp.stored_keys[:3] == (-9195544893823534842, -8987515949761198614, -8923488243641785272)
    assert fp.query_keys[-2:] == (7911050272403716622, 8460522460456726823)


def test_short_texts_are_not_clustered():
    assert fingerprint("t", " ".join(["word"] * (MIN_WORDS - 1))) is None
    assert fingerprint("t", None) is None


# --------------------------------------------------------------------------- assign_story


def make_sources(factory, *names: str) -> dict[str, int]:
    with transaction(factory) as s:
        rows = [Source(name=n, kind="feed", url=f"https://{n.lower()}.example/feed") for n in names]
        s.add_all(rows)
        s.flush()
        return {r.name: r.id for r in rows}


def store(session, source_id: int, slug: str, title: str, text: str, published: datetime) -> tuple:
    """What the pipeline does for one article: insert it, give it a story, mark it done."""
    art = Article(
        source_id=source_id,
        url=f"https://s{source_id}.example/{slug}",
        fetch_url=f"https://s{source_id}.example/{slug}",
        title=title,
        text=text,
        published_at=published,
        status=ArticleStatus.DONE,
    )
    session.add(art)
    session.flush()
    got = assign_story(
        session, article_id=art.id, source_id=source_id, title=title, text=text, published_at=published
    )
    art.story_id = got.story_id
    session.flush()
    return art, got


def put(factory, source_id, slug, title, text, published):
    with transaction(factory) as s:
        art, got = store(s, source_id, slug, title, text, published)
        return art.id, got


def test_three_outlets_one_story_other_subject_apart(session_factory):
    ids = make_sources(session_factory, "MAP", "Hespress", "Le360", "Medias24")
    a, first = put(session_factory, ids["MAP"], "dispatch", DISPATCH_TITLE, DISPATCH, T0)
    b, second = put(
        session_factory, ids["Hespress"], "reprint", REPRINT_TITLE, REPRINT, T0 + timedelta(hours=2)
    )
    c, third = put(session_factory, ids["Le360"], "lead", LEAD_COPY_TITLE, LEAD_COPY, T0 + timedelta(hours=5))
    d, fourth = put(session_factory, ids["Medias24"], "budget", OTHER_TITLE, OTHER, T0 + timedelta(hours=1))

    assert not first.joined
    assert second.joined and second.story_id == first.story_id and second.similar_to == a
    assert third.joined and third.story_id == first.story_id
    assert not fourth.joined and fourth.story_id != first.story_id
    with session_factory() as s:
        story = s.get(Story, first.story_id)
        assert sorted(x.id for x in story.articles) == [a, b, c]
        assert story.first_published_at == T0
        assert s.scalar(select(func.count()).select_from(StoryBand).where(StoryBand.article_id == d)) > 0


def test_only_other_outlets_join(session_factory):
    ids = make_sources(session_factory, "MAP")
    _, first = put(session_factory, ids["MAP"], "dispatch", DISPATCH_TITLE, DISPATCH, T0)
    _, again = put(session_factory, ids["MAP"], "dispatch-2", REPRINT_TITLE, REPRINT, T0 + timedelta(hours=1))
    assert not again.joined and again.story_id != first.story_id


def test_time_window(session_factory):
    ids = make_sources(session_factory, "MAP", "Hespress", "Le360")
    _, first = put(session_factory, ids["MAP"], "dispatch", DISPATCH_TITLE, DISPATCH, T0)
    _, late = put(session_factory, ids["Hespress"], "late", REPRINT_TITLE, REPRINT, T0 + timedelta(hours=49))
    assert not late.joined
    # An earlier copy (backfill order) within the window joins, and makes the story start earlier.
    _, early = put(
        session_factory, ids["Le360"], "early", LEAD_COPY_TITLE, LEAD_COPY, T0 - timedelta(hours=3)
    )
    assert early.joined and early.story_id in (first.story_id, late.story_id)
    with session_factory() as s:
        assert s.get(Story, early.story_id).first_published_at == T0 - timedelta(hours=3)


def test_copy_seen_before_the_original(session_factory):
    ids = make_sources(session_factory, "Le360", "MAP")
    _, copy = put(session_factory, ids["Le360"], "intro", LEAD_COPY_TITLE, PREFIXED_COPY, T0)
    _, original = put(
        session_factory, ids["MAP"], "dispatch", DISPATCH_TITLE, DISPATCH, T0 + timedelta(hours=1)
    )
    assert original.joined and original.story_id == copy.story_id


def test_index_survives_a_restart(db_url, engine):
    factory = make_sessionmaker(engine)
    ids = make_sources(factory, "MAP", "Hespress")
    _, first = put(factory, ids["MAP"], "dispatch", DISPATCH_TITLE, DISPATCH, T0)
    engine.dispose()
    fresh = make_engine(db_url)  # a new process: nothing in memory
    try:
        _, second = put(make_sessionmaker(fresh), ids["Hespress"], "r", REPRINT_TITLE, REPRINT, T0)
    finally:
        fresh.dispose()
    assert second.joined and second.story_id == first.story_id


def test_concurrent_writers_see_each_other(session_factory):
    """Two workers store two copies at the same time: the second waits for the first's commit
    (SQLite's write lock, PostgreSQL's advisory locks on the band keys) and joins its story."""
    ids = make_sources(session_factory, "MAP", "Hespress")
    assigned = threading.Event()
    results: dict[str, object] = {}
    errors: list[BaseException] = []

    def first():
        try:
            with transaction(session_factory) as s:
                _, got = store(s, ids["MAP"], "dispatch", DISPATCH_TITLE, DISPATCH, T0)
                results["first"] = got
                assigned.set()
                time.sleep(0.5)  # still uncommitted while the other worker starts
        except BaseException as exc:
            errors.append(exc)
            assigned.set()

    def second():
        try:
            assigned.wait(10)
            with transaction(session_factory) as s:
                _, got = store(s, ids["Hespress"], "reprint", REPRINT_TITLE, REPRINT, T0)
                results["second"] = got
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert results["second"].joined
    assert results["second"].story_id == results["first"].story_id


# --------------------------------------------------------------------------- one alert per story


def store_matched(factory, source_id, slug, title, text, published, topic: str, channels: list[str]):
    """Store an article that matched ``topic`` and queue its alert, as the pipeline does."""
    with transaction(factory) as s:
        top = s.scalar(select(Topic).where(Topic.name == topic))
        if top is None:
            top = Topic(name=topic, definition={"keywords": ["Seghrouchni"]})
            s.add(top)
            s.flush()
        art, got = store(s, source_id, slug, title, text, published)
        s.add(Match(article_id=art.id, topic_id=top.id, terms=["Seghrouchni"], fields=["body"], snippet=None))
        s.flush()
        enqueue(s, topic_id=top.id, story_id=got.story_id, article_id=art.id, channels=channels)
        return got


@pytest.fixture
def hooks(site):
    site.route("/hook", Response("ok"))
    site.route("/other", Response("ok"))
    return Config(
        timezone="Africa/Casablanca",
        channels=[
            ChannelConfig(name="hook", url=f"json://127.0.0.1:{site.port}/hook"),
            ChannelConfig(name="other", url=f"json://127.0.0.1:{site.port}/other"),
        ],
    )


def test_one_dispatch_three_outlets_one_alert_per_channel(session_factory, site, hooks):
    ids = make_sources(session_factory, "MAP", "Hespress", "Le360")
    channels = ["hook", "other"]
    store_matched(session_factory, ids["MAP"], "d", DISPATCH_TITLE, DISPATCH, T0, "Seghrouchni", channels)
    store_matched(session_factory, ids["Hespress"], "r", REPRINT_TITLE, REPRINT, T0, "Seghrouchni", channels)
    store_matched(session_factory, ids["Le360"], "l", LEAD_COPY_TITLE, LEAD_COPY, T0, "Seghrouchni", channels)

    stats = send_pending(session_factory, hooks, now=datetime.now(UTC) + timedelta(seconds=5))

    assert stats.sent == 2
    for path in ("/hook", "/other"):
        (post,) = site.posts(path)
        payload = post.json()
        assert payload["title"] == f"[Seghrouchni] {DISPATCH_TITLE}"
        assert {a["outlet"] for a in payload["alert"]["also"]} == {"Hespress", "Le360"}

    # A fourth outlet joins later: still no second alert on immediate channels.
    more = make_sources(session_factory, "Medias24")
    got = store_matched(
        session_factory, more["Medias24"], "m", REPRINT_TITLE, REPRINT, T0, "Seghrouchni", channels
    )
    assert got.joined
    assert send_pending(session_factory, hooks, now=datetime.now(UTC) + timedelta(seconds=5)).sent == 0
    assert len(site.posts("/hook")) == 1


def test_two_stories_on_one_topic_two_alerts(session_factory, site, hooks):
    ids = make_sources(session_factory, "MAP", "Hespress")
    store_matched(session_factory, ids["MAP"], "d", DISPATCH_TITLE, DISPATCH, T0, "Seghrouchni", ["hook"])
    store_matched(session_factory, ids["Hespress"], "o", OTHER_TITLE, OTHER, T0, "Seghrouchni", ["hook"])
    store_matched(
        session_factory, ids["Hespress"], "dc", DATACENTRE_TITLE, DATACENTRE, T0, "Seghrouchni", ["hook"]
    )

    assert send_pending(session_factory, hooks, now=datetime.now(UTC) + timedelta(seconds=5)).sent == 3
    titles = sorted(p.json()["title"] for p in site.posts("/hook"))
    assert titles == sorted(f"[Seghrouchni] {t}" for t in (DISPATCH_TITLE, OTHER_TITLE, DATACENTRE_TITLE))


def test_title_similarity_only_lowers_the_bar():
    assert Similarity(jaccard=0.5, lead=0.0, title=0.0).same_story
    assert Similarity(jaccard=0.1, lead=0.5, title=0.0).same_story
    assert not Similarity(jaccard=0.1, lead=0.45, title=80.0).same_story
    assert Similarity(jaccard=0.1, lead=0.45, title=95.0).same_story
    assert not Similarity(jaccard=0.1, lead=0.35, title=100.0).same_story  # a shared official title
    # A short title inside a longer one is not "the same title".
    a = fingerprint("Seghrouchni", DISPATCH)
    b = fingerprint("Seghrouchni opens the data centre in Benguerir", DATACENTRE)
    assert similarity(a, b).title < 90
