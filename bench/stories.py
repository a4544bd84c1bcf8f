"""Story clustering: cost per article at 10,000 and 100,000 stored articles, and its accuracy.

Cost: a SQLite file per size is filled with N articles (20 sources, 1,000 articles a day, their
band keys in ``story_bands``). Texts are 8-25 sentences written by a word bigram chain trained on
the real articles of the corpus (default /work/shared/corpus/articles): news-like vocabulary and
phrasing, but no sentence repeated from one article to another. Then ``--probe`` new articles (half copies of recent stored ones from another
source: full reprints and lead-only copies; half new texts) are assigned one at a time with
``assign_story`` in their own transaction, as the pipeline does. Prints per size: build time,
database size, band rows, ms per article (mean, p50, p95; fingerprint alone; database part),
copies found, new texts wrongly joined; then the 100k/10k ratio.

Accuracy (``--quality``): copies built from every corpus article (full reprint with a new dateline,
a dropped sentence and edited words; lead paragraph plus three foreign sentences; the same after an
intro sentence; first half of the text), each checked both ways (original stored first, and copy
stored first) through the real band keys and confirmation, against every pair of distinct corpus
articles (some on the same subject).

    .venv/bin/python bench/stories.py [CORPUS_DIR] [--sizes 10000 100000] [--probe 400] [--quality]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from monitor.db.migrate import upgrade  # noqa: E402
from monitor.db.models import Article, ArticleStatus, Source, Story, StoryBand  # noqa: E402
from monitor.db.session import make_engine, make_sessionmaker, transaction  # noqa: E402
from monitor.stories import assign_story, fingerprint, similarity  # noqa: E402

DEFAULT_CORPUS = Path("/work/shared/corpus/articles")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PER_DAY = 1_000
SOURCES = 20


def load_bodies(corpus: Path) -> list[str]:
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        item["articleBody"] for item in truth.values() if len((item.get("articleBody") or "").split()) >= 80
    ]


def sentences(bodies: list[str]) -> list[str]:
    pool = []
    for body in bodies:
        pool += [s.strip() for s in SENTENCE.split(body) if len(s.split()) >= 6]
    return pool


class Writer:
    """News-like text that does not repeat the corpus: a word bigram chain trained on it, which
    jumps to a random sentence start where the corpus allows only one next word (so it does not
    copy the corpus's long unique runs, such as URLs, into several articles)."""

    def __init__(self, bodies: list[str]) -> None:
        self.next: dict[str, list[str]] = {}
        self.starts: list[str] = []
        for sentence in sentences(bodies):
            words = [w for w in sentence.split() if "http" not in w and "www." not in w]
            if len(words) < 6:
                continue
            self.starts.append(words[0])
            for a, b in itertools.pairwise(words):
                self.next.setdefault(a, []).append(b)
        self.forced = {w for w, nxt in self.next.items() if len(set(nxt)) == 1}

    def sentence(self, rng: random.Random) -> str:
        word = rng.choice(self.starts)
        out = [word]
        while len(out) < 40:
            if word in self.forced or word not in self.next:
                word = rng.choice(self.starts)
            else:
                word = rng.choice(self.next[word])
            out.append(word)
            if len(out) >= 12 and word[-1:] in ".!?":
                break
        return " ".join(out).rstrip(".!?") + "."

    def title(self, rng: random.Random) -> str:
        return " ".join(self.sentence(rng).split()[: rng.randint(6, 12)]).rstrip(".")

    def article(self, rng: random.Random) -> str:
        picked = [self.sentence(rng) for _ in range(rng.randint(8, 25))]
        return "\n\n".join(" ".join(picked[i : i + 3]) for i in range(0, len(picked), 3))


def lead_copy(rng: random.Random, text: str, writer: Writer) -> str:
    return text.split("\n\n")[0] + "\n\n" + " ".join(writer.sentence(rng) for _ in range(3))


def reprint(text: str) -> str:
    return "RABAT (MAP) - " + text.replace(" the ", " the ", 1)


# --------------------------------------------------------------------------- cost


def _keys(args: tuple[str, str]) -> tuple[int, ...]:
    found = fingerprint(*args)
    return found.stored_keys if found else ()


def build(
    path: Path, n: int, writer: Writer, seed: int
) -> tuple[float, list[tuple[int, int, str, datetime]]]:
    """Fill a fresh database with ``n`` stored articles; return (seconds, recent articles)."""
    rng = random.Random(seed)
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_sessionmaker(engine)
    span = timedelta(days=n / PER_DAY)
    texts = [writer.article(rng) for _ in range(n)]
    titles = [writer.title(rng) for _ in range(n)]
    dates = sorted(END - span * rng.random() for _ in range(n))
    with multiprocessing.Pool() as workers:
        keys = workers.map(_keys, list(zip(titles, texts, strict=True)), chunksize=200)
    with transaction(factory) as s:
        s.execute(
            insert(Source),
            [{"name": f"s{i}", "kind": "feed", "url": f"https://s{i}.example/f"} for i in range(SOURCES)],
        )
        source_ids = list(s.scalars(select(Source.id).order_by(Source.id)))
        s.execute(
            insert(Story),
            [
                {"id": i + 1, "title": titles[i], "first_published_at": d, "created_at": d}
                for i, d in enumerate(dates)
            ],
        )
        rows = [
            {
                "id": i + 1,
                "source_id": source_ids[i % SOURCES],
                "url": f"https://s.example/{i}",
                "fetch_url": f"https://s.example/{i}",
                "title": titles[i],
                "text": t,
                "published_at": d,
                "discovered_at": d,
                "origin": "live",
                "status": ArticleStatus.DONE,
                "attempts": 0,
                "story_id": i + 1,
            }
            for i, (t, d) in enumerate(zip(texts, dates, strict=True))
        ]
        for start in range(0, n, 5_000):
            s.execute(insert(Article), rows[start : start + 5_000])
        bands = [{"key": k, "article_id": i + 1} for i, ks in enumerate(keys) for k in ks]
        for start in range(0, len(bands), 50_000):
            s.execute(insert(StoryBand), bands[start : start + 50_000])
    engine.dispose()
    recent = [(r["id"], r["source_id"], r["title"], r["text"], r["published_at"]) for r in rows[-2_000:]]
    return time.perf_counter() - started, recent


def probe(path: Path, recent: list, writer: Writer, count: int, seed: int) -> dict:
    rng = random.Random(seed + 1)
    engine = make_engine(f"sqlite:///{path}")
    factory = make_sessionmaker(engine)
    with factory() as s:
        source_ids = list(s.scalars(select(Source.id).order_by(Source.id)))
        bands = s.scalar(select(func.count()).select_from(StoryBand))
    cases = []
    for i in range(count):
        if i % 2 == 0:
            original_id, source_id, title, text, published = rng.choice(recent)
            if i % 4 == 0:  # a full reprint under the same title, or the lead under a new one
                title, copy = title, reprint(text)
            else:
                title, copy = writer.title(rng), lead_copy(rng, text, writer)
            other = next(x for x in source_ids if x != source_id)
            cases.append((other, title, copy, published + timedelta(hours=3), original_id))
        else:
            cases.append((rng.choice(source_ids), writer.title(rng), writer.article(rng), END, None))
    total, fingerprint_only, found, wrong = [], [], 0, 0
    for n, (source_id, title, text, published, original) in enumerate(cases):
        t0 = time.perf_counter()
        fingerprint(title, text)
        fingerprint_only.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with transaction(factory) as s:
            art = Article(
                source_id=source_id,
                url=f"https://probe.example/{n}",
                fetch_url=f"https://probe.example/{n}",
                title=title,
                text=text,
                published_at=published,
                status=ArticleStatus.DONE,
            )
            s.add(art)
            s.flush()
            got = assign_story(
                s,
                article_id=art.id,
                source_id=source_id,
                title=title,
                text=text,
                published_at=published,
            )
            art.story_id = got.story_id
        total.append(time.perf_counter() - t0)
        if original is not None:
            found += got.joined and got.story_id == original
        else:
            wrong += got.joined
    engine.dispose()
    ms = [t * 1000 for t in total]
    return {
        "bands": bands,
        "mean": statistics.mean(ms),
        "p50": statistics.median(ms),
        "p95": sorted(ms)[int(len(ms) * 0.95)],
        "fingerprint": statistics.mean(fingerprint_only) * 1000,
        "found": found,
        "copies": sum(1 for c in cases if c[4] is not None),
        "wrong": wrong,
        "fresh": sum(1 for c in cases if c[4] is None),
    }


def cost(writer: Writer, sizes: list[int], count: int, folder: Path) -> None:
    print(
        f"clustering cost: SQLite file, {SOURCES} sources, {PER_DAY:,} articles/day, {count} probes per size"
    )
    print(f"{'stored':>9} {'build s':>8} {'DB MB':>7} {'bands':>10} {'ms/art':>7} {'p50':>6} {'p95':>6} "
          f"{'fp ms':>6} {'db ms':>6} {'copies found':>13} {'new joined':>11}")  # fmt: skip
    means = {}
    for size in sizes:
        path = folder / f"stories-{size}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        seconds, recent = build(path, size, writer, seed=size)
        result = probe(path, recent, writer, count, seed=size)
        means[size] = result["mean"]
        mb = sum(Path(f"{path}{x}").stat().st_size for x in ("", "-wal") if Path(f"{path}{x}").exists()) / 1e6
        print(
            f"{size:>9,} {seconds:>8.1f} {mb:>7.0f} {result['bands']:>10,} {result['mean']:>7.2f} "
            f"{result['p50']:>6.2f} {result['p95']:>6.2f} {result['fingerprint']:>6.2f} "
            f"{result['mean'] - result['fingerprint']:>6.2f} "
            f"{result['found']:>6}/{result['copies']:<6} {result['wrong']:>5}/{result['fresh']:<5}"
        )
    if len(sizes) >= 2:
        small, large = min(sizes), max(sizes)
        print(f"ratio {large:,}/{small:,}: {means[large] / means[small]:.2f}")


# --------------------------------------------------------------------------- accuracy


def quality(bodies: list[str]) -> None:
    rng = random.Random(7)
    paragraphs = [[p for p in b.split("\n") if p.strip()] for b in bodies]

    def lead(ps: list[str]) -> str:
        out, i = ps[0], 1
        while len(out.split()) < 25 and i < len(ps):
            out, i = out + "\n" + ps[i], i + 1
        return out

    def foreign(k: int) -> str:
        return " ".join(SENTENCE.split(rng.choice(bodies))[:k])

    cases: dict[str, list[tuple[str, str]]] = {
        "reprint": [],
        "lead copy": [],
        "intro + lead": [],
        "first half": [],
    }
    for body, ps in zip(bodies, paragraphs, strict=True):
        sents = SENTENCE.split(body)
        if len(sents) > 4:
            del sents[rng.randrange(1, len(sents) - 1)]
        words = " ".join(sents).split()
        for _ in range(3):
            words[rng.randrange(len(words))] = rng.choice(["the", "said", "also", "new"])
        cases["reprint"].append((body, "RABAT - " + " ".join(words) + " (MAP)"))
        cases["lead copy"].append((body, lead(ps) + "\n" + foreign(3)))
        cases["intro + lead"].append((body, foreign(1) + " " + lead(ps) + "\n" + foreign(3)))
        cases["first half"].append((body, "\n".join(ps[: max(1, len(ps) // 2)])))

    def found(stored: str, new: str) -> bool:
        a, b = fingerprint("a", stored), fingerprint("b", new)
        if a is None or b is None:
            return False
        return bool(set(a.stored_keys) & set(b.query_keys)) and similarity(a, b).same_story

    print(f"accuracy on {len(bodies)} corpus articles (copy found: original first / copy first)")
    for name, pairs in cases.items():
        forward = sum(found(a, b) for a, b in pairs)
        backward = sum(found(b, a) for a, b in pairs)
        print(f"  {name:<14} {forward}/{len(pairs)}  {backward}/{len(pairs)}")
    prints = [fingerprint("x", b) for b in bodies]
    scores, joined, candidates = [], 0, 0
    for a, b in itertools.combinations(prints, 2):
        sim = similarity(a, b)
        scores.append(sim.score)
        candidates += bool(set(a.stored_keys) & set(b.query_keys))
        joined += sim.same_story
    print(
        f"  distinct pairs {len(scores)}: wrongly joined {joined}, LSH candidates {candidates}, "
        f"highest score {max(scores):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--probe", type=int, default=400)
    parser.add_argument("--quality", action="store_true", help="also measure accuracy on the corpus")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the SQLite files go (default: a temp dir)"
    )
    args = parser.parse_args()
    bodies = load_bodies(args.corpus)
    writer = Writer(bodies)
    if args.quality:
        quality(bodies)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench-stories-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"(cpu count {os.cpu_count()}, files in {folder})")
    cost(writer, args.sizes, args.probe, folder)


if __name__ == "__main__":
    main()
