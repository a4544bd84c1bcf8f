"""Topic matching speed from 10 to 10,000 topics, on real article text.

Articles: every ``articleBody`` of ground-truth.json (default /work/shared/corpus/articles), with
the words of its URL slug as the title. Topics (fixed seed) have 1-3 keywords of 1-3 words each;
every 5th topic also has an AND query, and the next ones a prefix query (``minis* AND "x y"``), a
proximity query (``"x y"~5``) and a field query (``title:x OR body:"y z"``); every 7th topic has
an exclude term. Two vocabularies:

- ``sparse`` (what a deployment looks like: most topics match nothing in a given article): the
  same 10 topics built from corpus phrases in every run, plus synthetic topics whose terms are
  name-like pseudo-words in Latin and Arabic script (with French/Arabic forms: accents, ال). Matches
  per article stay constant, so the rates show what the topic count itself costs.
- ``dense``: every term drawn from the corpus itself (single words of 6+ letters and 2-3 word
  phrases), so matches per article grow with the topic count; the rates include building one
  TopicMatch (terms, fields, snippet) per matched topic.

- ``fuzzy``: the sparse topics with every keyword word of 5+ letters made fuzzy (``~1``, or ``~2``
  from 8 letters), so every topic has fuzzy terms; compared with the same topics exact.

Prints articles/s of normalisation alone (done once per article inside ``match``), then per
vocabulary and topic count: build time, automaton keys, articles/s of ``Matcher.match``, matched
topics per article; and the ratio of the 10,000-topic rate to the 10-topic rate. For fuzzy terms:
the steady rate (the cache of words already looked up is warm, as in a running daemon), the rate
of the first pass over the corpus (every word looked up once), and how many times as fast the same
topics match without fuzzy markers, from alternating passes of both (the budget at 1,000 topics:
3x). Rates are per second of this process's CPU time: the machine is shared.

    .venv/bin/python bench/matching.py [CORPUS_DIR] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import TopicConfig  # noqa: E402
from monitor.match import Matcher  # noqa: E402
from monitor.match.normalize import normalize, normalize_term  # noqa: E402

DEFAULT_CORPUS = Path("/work/shared/corpus/articles")
SIZES = (10, 1_000, 10_000)
WORD = re.compile(r"[^\W\d_]+")
LATIN_SYLLABLES = ["ta", "mo", "ri", "ka", "zou", "ben", "el", "ha", "dri", "sse", "lou", "ni", "gha", "rté"]
ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def load_articles(corpus: Path) -> list[tuple[str, str]]:
    """(title, body) pairs: the URL slug's words as a title, the article body."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    articles = []
    for item in truth.values():
        if item.get("articleBody"):
            slug = (item.get("url") or "").rstrip("/").rsplit("/", 1)[-1]
            articles.append((" ".join(WORD.findall(slug)), item["articleBody"]))
    return articles


def _prefix(term: str) -> str:
    """A prefix query from the longest word of a term: its first 3-6 letters and ``*``."""
    word = max(term.split(), key=len)
    if len(word) < 3:
        return f'"{term}"'
    return word[: max(3, min(6, len(word) - 2))] + "*"


def _query(i: int, term: Callable[[], str]) -> str | None:
    kind = i % 5
    if kind == 0:
        return f'"{term()}" AND "{term()}"'
    if kind == 1:
        return f'{_prefix(term())} AND "{term()}"'
    if kind == 2:
        words = f"{term()} {term()}".split()
        return f'"{words[0]} {words[-1]}"~5'
    if kind == 3:
        return f'title:"{term()}" OR body:"{term()}"'
    return None


def _topics(count: int, term: Callable[[], str], rng: random.Random, first: int = 0) -> list[TopicConfig]:
    topics = []
    for i in range(first, first + count):
        keywords = [term() for _ in range(rng.randint(1, 3))]
        query = _query(i, term)
        exclude = [term()] if i % 7 == 0 else []
        topics.append(TopicConfig(name=f"topic {i}", keywords=keywords, query=query, exclude=exclude))
    return topics


def dense_term_maker(articles: list[tuple[str, str]], rng: random.Random) -> Callable[[], str]:
    texts = [WORD.findall(body) for _, body in articles]
    singles = sorted({w for words in texts for w in words if len(w) >= 6})

    def term() -> str:
        if rng.random() < 0.5:
            return rng.choice(singles)
        words = rng.choice(texts)
        n = rng.randint(2, 3)
        start = rng.randrange(max(len(words) - n, 1))
        return " ".join(words[start : start + n]) or rng.choice(singles)

    return term


def sparse_term_maker(rng: random.Random) -> Callable[[], str]:
    def word() -> str:
        if rng.random() < 0.25:
            stem = "".join(rng.choice(ARABIC_LETTERS) for _ in range(rng.randint(4, 7)))
            return ("ال" if rng.random() < 0.5 else "") + stem
        name = "".join(rng.choice(LATIN_SYLLABLES) for _ in range(rng.randint(2, 4)))
        return name.capitalize() if rng.random() < 0.5 else name

    def term() -> str:
        return " ".join(word() for _ in range(rng.randint(1, 3)))

    return term


def make_topics(
    articles: list[tuple[str, str]], count: int, vocabulary: str, seed: int = 1
) -> list[TopicConfig]:
    """``count`` topics: dense ones from the corpus, or 10 corpus topics plus sparse synthetic ones."""
    if vocabulary == "dense":
        rng = random.Random(seed)
        return _topics(count, dense_term_maker(articles, rng), rng)
    real_rng = random.Random(seed)
    real = _topics(min(count, 10), dense_term_maker(articles, real_rng), real_rng)
    rng = random.Random(seed + 1)
    return real + _topics(count - len(real), sparse_term_maker(rng), rng, first=len(real))


def _fuzzy(term: str) -> str:
    """``term`` with a fuzzy marker after each word of 5+ letters (~2 from 8 letters)."""
    words = []
    for word in term.split():
        letters = len("".join(normalize_term(word)))
        words.append(word + ("" if letters < 5 else "~1" if letters < 8 else "~2"))
    return " ".join(words)


def fuzzy_topics(topics: list[TopicConfig]) -> list[TopicConfig]:
    return [t.model_copy(update={"keywords": [_fuzzy(k) for k in t.keywords]}) for t in topics]


def first_pass(matcher: Matcher, articles: list[tuple[str, str]]) -> float:
    """Articles/s of one pass with an empty word cache."""
    start = time.perf_counter()
    for title, body in articles:
        matcher.match(title, body)
    return len(articles) / (time.perf_counter() - start)


def rate(func, articles: list[tuple[str, str]], seconds: float) -> tuple[float, float]:
    """Articles/s of ``func(title, body)`` over the corpus, repeated for at least ``seconds`` of
    this process's CPU time (the machine is shared: wall time would count other processes' work);
    results per article."""
    done, results, start = 0, 0, time.process_time()
    while True:
        for title, body in articles:
            results += len(func(title, body) or ())
        done += len(articles)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return done / elapsed, results / done


def paired(first: Matcher, second: Matcher, articles: list[tuple[str, str]], seconds: float) -> float:
    """How many times as fast ``first`` matches the corpus as ``second``: passes of each in turn
    (order alternating) for about ``seconds`` of CPU, the median of the per-pass ratios, so a
    change in the machine's load falls on both alike."""
    ratios, start = [], time.process_time()
    while time.process_time() - start < seconds or len(ratios) < 5:
        took = {}
        for matcher in (first, second) if len(ratios) % 2 else (second, first):
            begin = time.process_time()
            for title, body in articles:
                matcher.match(title, body)
            took[id(matcher)] = time.process_time() - begin
        ratios.append(took[id(second)] / took[id(first)])
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timing per row")
    args = parser.parse_args()

    articles = load_articles(args.corpus)
    mean_chars = sum(len(t) + len(b) for t, b in articles) / len(articles)
    print(f"{len(articles)} articles, {mean_chars:,.0f} chars on average")

    def normalise_only(title: str, body: str) -> None:
        normalize(title)
        normalize(body)

    norm_rate, _ = rate(normalise_only, articles, args.seconds)
    print(f"normalise only: {norm_rate:,.0f} articles/s ({norm_rate * mean_chars / 1e6:.1f}M chars/s)")
    for vocabulary in ("sparse", "dense"):
        print(f"\n{vocabulary} vocabulary")
        print(
            f"{'topics':>7} {'build s':>8} {'keys':>8} {'articles/s':>11} {'M chars/s':>10} {'matches/art':>12}"
        )
        rates = {}
        for count in SIZES:
            topics = make_topics(articles, count, vocabulary)
            start = time.perf_counter()
            matcher = Matcher(topics)
            build = time.perf_counter() - start
            keys = len(matcher._automaton) if matcher._automaton is not None else 0
            per_second, matches = rate(matcher.match, articles, args.seconds)
            rates[count] = per_second
            print(
                f"{count:>7,} {build:>8.2f} {keys:>8,} {per_second:>11,.0f} "
                f"{per_second * mean_chars / 1e6:>10.1f} {matches:>12.1f}"
            )
        slowdown = rates[10] / rates[10_000]
        verdict = "within" if slowdown <= 3 else "NOT within"
        print(f"10 topics run {slowdown:.2f}x as fast as 10,000 ({verdict} the 3x budget)")
        print(f"normalisation share of match time at 10 topics: {rates[10] / norm_rate:.0%}")
    print("\nfuzzy terms (the sparse topics, every keyword word of 5+ letters fuzzy)")
    print(
        f"{'topics':>7} {'build s':>8} {'deletions':>10} {'articles/s':>11} {'first pass':>11} {'matches/art':>12}"
    )
    for count in (1_000, 10_000):
        exact_topics = make_topics(articles, count, "sparse")
        start = time.perf_counter()
        matcher = Matcher(fuzzy_topics(exact_topics))
        build = time.perf_counter() - start
        cold = first_pass(matcher, articles)
        per_second, matches = rate(matcher.match, articles, args.seconds)
        print(
            f"{count:>7,} {build:>8.2f} {len(matcher._fuzzy):>10,} {per_second:>11,.0f} {cold:>11,.0f} {matches:>12.1f}"
        )
        ratio = paired(Matcher(exact_topics), matcher, articles, args.seconds * 3)
        verdict = "within" if ratio <= 3 else "NOT within"
        budget = f" ({verdict} the 3x budget)" if count == 1_000 else ""
        print(
            f"  exact-only at {count:,} topics runs {ratio:.2f}x as fast as with fuzzy terms{budget} (paired passes)"
        )


if __name__ == "__main__":
    main()
