"""Match an article against every topic: normalise once, scan once, then decide per topic.

All terms of all topics (keywords, query terms, exclude terms) go into ONE Aho-Corasick automaton,
built over normalised words joined by single spaces. An article's title and body are normalised,
their words joined the same way into one stream (``" title words \\n body words "``; the newline
keeps phrases from spanning the two), and the stream is scanned once. Cost per article is the
normalisation plus one linear scan plus work proportional to the hits, nearly flat in the number of
topics.

Whole words: a key is `` word … word `` with a space on both sides, so it cannot match inside a
longer word. An Arabic term instead gets a key without the leading space; a hit is kept only when
it starts a word or follows one of :data:`~monitor.match.normalize.ARABIC_PROCLITICS` at the start
of a word (و ف ب ك ل ال وال لل …), and only if the term's first word has at least
:data:`~monitor.match.normalize.MIN_ARABIC_STEM` letters. The article ال is optional on every
Arabic word of a term: ``السغروشني`` and ``سغروشني`` are the same term, and the later words of an
Arabic phrase match with or without ال (``مركز البيانات`` = ``مركز بيانات``).

A topic matches when a keyword or its query matches and none of its exclude terms occurs in the
title or the body. Query terms are evaluated on the article as a whole (title and body together).

The snippet is cut from the ORIGINAL text around the first hit of a reported term in the BODY, or
from the title when only the title matched (the alert shows the title anyway; the body gives
context).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick

from monitor.config import TopicConfig
from monitor.match import query as q
from monitor.match.normalize import (
    ARABIC_PROCLITICS,
    MIN_ARABIC_STEM,
    Normalized,
    is_arabic,
    normalize,
    normalize_term,
)
from monitor.match.query import QueryError

__all__ = ["Matcher", "QueryError", "TopicMatch", "make_snippet"]

SNIPPET_WIDTH = 200
_MAX_PHRASE_VARIANTS = 64
_TITLE, _BODY = 0, 1
_FIELD_NAMES = ("title", "body")
_SPACE = re.compile(r"\s")


@dataclass
class TopicMatch:
    """One topic that matched an article."""

    topic: str
    terms: list[str]  # as written in the topic config, deduplicated, in order of first hit
    fields: list[str]  # subset of ["title", "body"], in that order
    snippet: str  # ~200 chars of the original text around the first hit (body preferred)


# --------------------------------------------------------------------------- compiled topics


@dataclass(frozen=True, slots=True)
class _Leaf:
    term_id: int
    written: str


@dataclass(frozen=True, slots=True)
class _All:
    children: tuple[_Expr, ...]


@dataclass(frozen=True, slots=True)
class _Any:
    children: tuple[_Expr, ...]


@dataclass(frozen=True, slots=True)
class _None:
    child: _Expr


_Expr = _Leaf | _All | _Any | _None


def _holds(expr: _Expr, hits: dict[int, list]) -> bool:
    if isinstance(expr, _Leaf):
        return expr.term_id in hits
    if isinstance(expr, _All):
        return all(_holds(c, hits) for c in expr.children)
    if isinstance(expr, _Any):
        return any(_holds(c, hits) for c in expr.children)
    return not _holds(expr.child, hits)


def _witness(expr: _Expr, hits: dict[int, list]) -> list[_Leaf]:
    """The hit terms that make a true expression true (terms under NOT are never reported)."""
    if isinstance(expr, _Leaf):
        return [expr] if expr.term_id in hits else []
    if isinstance(expr, _None):
        return []
    return [leaf for c in expr.children if _holds(c, hits) for leaf in _witness(c, hits)]


def _leaves(expr: _Expr) -> list[_Leaf]:
    if isinstance(expr, _Leaf):
        return [expr]
    if isinstance(expr, _None):
        return _leaves(expr.child)
    return [leaf for c in expr.children for leaf in _leaves(c)]


@dataclass(slots=True)
class _Topic:
    name: str
    keywords: list[_Leaf]
    query: _Expr | None
    exclude: list[int]


# --------------------------------------------------------------------------- automaton keys


def _article_variants(word: str) -> list[str]:
    """An Arabic word with and without the article ال (when the rest is a long enough stem)."""
    if not is_arabic(word):
        return [word]
    if word.startswith("ال") and len(word) - 2 >= MIN_ARABIC_STEM:
        return [word, word[2:]]
    if len(word) >= MIN_ARABIC_STEM:
        return [word, "ال" + word]
    return [word]


def _keys(words: tuple[str, ...]) -> list[tuple[str, bool]]:
    """Automaton keys for a term's words, each with whether its left edge needs a proclitic check."""
    first, rest = words[0], words[1:]
    proclitic = False
    if is_arabic(first):
        if first.startswith("ال") and len(first) - 2 >= MIN_ARABIC_STEM:
            first = first[2:]  # ال comes back as a proclitic
        proclitic = len(first) >= MIN_ARABIC_STEM
    variants = [_article_variants(w) for w in rest]
    count = 1
    for v in variants:
        count *= len(v)
    if count > _MAX_PHRASE_VARIANTS:
        variants = [[w] for w in rest]
    lead = "" if proclitic else " "
    return [(lead + " ".join((first, *combo)) + " ", proclitic) for combo in itertools.product(*variants)]


class Matcher:
    """Every topic compiled into one automaton; :meth:`match` says which topics an article matches."""

    def __init__(self, topics: Sequence[TopicConfig]) -> None:
        self._term_ids: dict[tuple[str, ...], int] = {}
        self._positive: list[list[int]] = []  # term id -> topics where it can make a match
        self._excluding: list[list[int]] = []  # term id -> topics it excludes
        self._topics = [self._compile(i, t) for i, t in enumerate(topics)]
        self._automaton = self._build()

    # ---- building

    def _term(self, written: str, topic: str, source: str, position: int | None, kind: str) -> int:
        words = normalize_term(written)
        if not words:
            problem = f"{written!r} has no letters or digits to match"
            raise QueryError(topic, source, problem, position, kind)
        term_id = self._term_ids.get(words)
        if term_id is None:
            term_id = self._term_ids[words] = len(self._term_ids)
            self._positive.append([])
            self._excluding.append([])
        return term_id

    def _compile(self, index: int, topic: TopicConfig) -> _Topic:
        keywords = [_Leaf(self._term(k, topic.name, k, None, "keyword"), k) for k in topic.keywords]
        expr = None
        if topic.query and topic.query.strip():
            expr = self._expr(q.parse(topic.query, topic.name), topic.name, topic.query)
            if _holds(expr, {}):
                raise QueryError(
                    topic.name,
                    topic.query,
                    "the query matches articles that contain none of its terms; "
                    "NOT needs a positive term beside it, e.g. 'x NOT y'",
                )
        exclude = [self._term(x, topic.name, x, None, "exclude term") for x in topic.exclude]
        positive = {leaf.term_id for leaf in keywords}
        if expr is not None:
            positive.update(leaf.term_id for leaf in _leaves(expr))
        for term_id in positive:
            self._positive[term_id].append(index)
        for term_id in set(exclude):
            self._excluding[term_id].append(index)
        return _Topic(topic.name, keywords, expr, exclude)

    def _expr(self, node: q.Node, topic: str, query: str) -> _Expr:
        if isinstance(node, q.Term):
            return _Leaf(self._term(node.text, topic, query, node.position, "query"), node.text)
        if isinstance(node, q.Not):
            return _None(self._expr(node.child, topic, query))
        children = tuple(self._expr(c, topic, query) for c in node.children)
        return _All(children) if isinstance(node, q.And) else _Any(children)

    def _build(self) -> ahocorasick.Automaton | None:
        keys: dict[str, tuple[bool, list[int]]] = {}
        for words, term_id in self._term_ids.items():
            for key, proclitic in _keys(words):
                keys.setdefault(key, (proclitic, []))[1].append(term_id)
        if not keys:
            return None
        automaton = ahocorasick.Automaton()
        for key, (proclitic, term_ids) in keys.items():
            automaton.add_word(key, (len(key), proclitic, tuple(term_ids)))
        automaton.make_automaton()
        return automaton

    # ---- matching

    def match(self, title: str | None, text: str | None) -> list[TopicMatch]:
        """The topics this article matches, in topic config order."""
        if self._automaton is None:
            return []
        article = _Article(normalize(title or ""), normalize(text or ""))
        hits = self._scan(article.stream, article.body_start)
        if not hits:
            return []
        candidates: set[int] = set()
        excluded: set[int] = set()
        for term_id in hits:
            candidates.update(self._positive[term_id])
            excluded.update(self._excluding[term_id])
        results = []
        for index in sorted(candidates - excluded):
            found = self._decide(self._topics[index], hits, article)
            if found is not None:
                results.append(found)
        return results

    def _scan(self, stream: str, body_start: int) -> dict[int, list]:
        """term id -> [first title hit, first body hit], each a (start, end) span of the stream."""
        hits: dict[int, list] = {}
        for end, (length, proclitic, term_ids) in self._automaton.iter(stream):
            start = end - length + 1
            if proclitic:
                if stream[start - 1] != " ":
                    word_start = stream.rfind(" ", 0, start) + 1
                    if stream[word_start:start] not in ARABIC_PROCLITICS:
                        continue
                    start = word_start
            else:
                start += 1  # the key's leading space
            field = _TITLE if start < body_start else _BODY
            for term_id in term_ids:
                slot = hits.get(term_id)
                if slot is None:
                    slot = hits[term_id] = [None, None]
                if slot[field] is None:
                    slot[field] = (start, end)
        return hits

    def _decide(self, topic: _Topic, hits: dict[int, list], article: _Article) -> TopicMatch | None:
        reported = [leaf for leaf in topic.keywords if leaf.term_id in hits]
        if topic.query is not None and _holds(topic.query, hits):
            reported += _witness(topic.query, hits) or [
                leaf for leaf in _leaves(topic.query) if leaf.term_id in hits
            ]
        if not reported:
            return None

        def first(leaf: _Leaf) -> int:
            return min(span[0] for span in hits[leaf.term_id] if span is not None)

        terms = list(dict.fromkeys(leaf.written for leaf in sorted(reported, key=first)))
        fields = [_FIELD_NAMES[f] for f in (_TITLE, _BODY) if any(hits[x.term_id][f] for x in reported)]
        body_spans = [hits[x.term_id][_BODY] for x in reported if hits[x.term_id][_BODY]]
        if body_spans:
            snippet = article.snippet(_BODY, min(body_spans))
        else:
            snippet = article.snippet(_TITLE, min(hits[x.term_id][_TITLE] for x in reported))
        return TopicMatch(topic.name, terms, fields, snippet)


class _Article:
    """The normalised title and body of one article, and the stream that is scanned."""

    def __init__(self, title: Normalized, body: Normalized) -> None:
        self.fields = (title, body)
        title_words = " ".join(title.words)
        self.stream = f" {title_words} \n {' '.join(body.words)} "
        self.body_start = len(title_words) + 4  # stream index of the body's first word
        self._snippets: dict[tuple[int, tuple[int, int]], str] = {}

    def _word_index(self, field: int, stream_pos: int) -> int:
        """Index, within its field, of the word at ``stream_pos`` (words are one space apart)."""
        base = 1 if field == _TITLE else self.body_start
        return self.stream.count(" ", base, stream_pos)

    def snippet(self, field: int, span: tuple[int, int]) -> str:
        """The snippet around the words at ``span`` of the stream, cut from the original field."""
        snippet = self._snippets.get((field, span))
        if snippet is None:
            text = self.fields[field]
            start = text.word_span(self._word_index(field, span[0]))[0]
            end = text.word_span(self._word_index(field, span[1] - 1))[1]
            snippet = self._snippets[(field, span)] = make_snippet(text.original, start, end)
        return snippet


def make_snippet(text: str, start: int, end: int, width: int = SNIPPET_WIDTH) -> str:
    """About ``width`` characters of ``text`` around ``text[start:end]``, cut at word boundaries.

    Whitespace is collapsed; "…" marks each end that was cut.
    """
    room = max(width - (end - start), 0)
    lo = max(start - room * 2 // 5, 0)
    hi = min(end + room - (start - lo), len(text))
    lo = max(min(lo, hi - width), 0)
    if lo > 0 and not text[lo - 1].isspace() and (space := _SPACE.search(text, lo, start)):
        lo = space.end()
    if hi < len(text) and not text[hi].isspace():
        spaces = [m.start() for m in _SPACE.finditer(text, end, hi)]
        hi = spaces[-1] if spaces else hi
    piece = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(text) else "")
