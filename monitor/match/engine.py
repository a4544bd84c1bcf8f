"""Match an article against every topic: normalise once, scan once, then decide per topic.

All terms of all topics (keywords, query terms, the words of proximity queries, exclude terms) go
into ONE Aho-Corasick automaton, built over normalised words joined by single spaces. An article's
title and body are normalised, their words joined the same way into one stream
(``" title words \\n body words "``; the newline keeps phrases from spanning the two), and the
stream is scanned once. Each hit knows its field (title or body) and its span. Cost per article is
the normalisation plus one linear scan plus work proportional to the hits and to the topics those
hits concern: nearly flat in the number of topics.

Whole words: a key is `` word … word `` with a space on both sides, so it cannot match inside a
longer word; a prefix term (``minist*``) has no trailing space, so it matches the start of a word.
An Arabic term instead gets a key without the leading space; a hit is kept only when it starts a
word or follows one of :data:`~monitor.match.normalize.ARABIC_PROCLITICS` at the start of a word
(و ف ب ك ل ال وال لل …), and only if the term's first word has at least
:data:`~monitor.match.normalize.MIN_ARABIC_STEM` letters. The article ال is optional on every
Arabic word of a term: ``السغروشني`` and ``سغروشني`` are the same term, and the later words of an
Arabic phrase match with or without ال (``مركز البيانات`` = ``مركز بيانات``).

A topic matches when a keyword or its query matches, none of its exclude terms occurs in the title
or the body, and the article passes its ``sources`` / ``languages`` filters. Query terms without a
field look at the title and the body; ``title:`` / ``body:`` terms at one of them. A proximity
``"a b"~N`` holds when every word occurs, in any order, within one field, with at most N other
words among them; it is evaluated from the word positions of its words' hits, which are kept only
for words that appear in a proximity query.

The snippet is cut from the ORIGINAL text around the first hit of a reported term in the BODY, or
from the title when only the title matched (the alert shows the title anyway; the body gives
context).
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections import Counter
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

__all__ = ["MIN_PREFIX", "Matcher", "QueryError", "TopicMatch", "make_snippet", "primary_language"]

SNIPPET_WIDTH = 200
MIN_PREFIX = 3
"""A prefix term (``minist*``) needs at least this many letters before the ``*``."""
_MAX_PHRASE_VARIANTS = 64
_TITLE, _BODY = 0, 1
_FIELD_NAMES = ("title", "body")
_SPACE = re.compile(r"\s")

Span = tuple[int, int]  # start, end (exclusive) of a hit in the scanned stream


@dataclass
class TopicMatch:
    """One topic that matched an article."""

    topic: str
    terms: list[str]  # as written in the topic config, deduplicated, in order of first hit
    fields: list[str]  # subset of ["title", "body"], in that order
    snippet: str  # ~200 chars of the original text around the first hit (body preferred)


def primary_language(tag: str | None) -> str | None:
    """The primary subtag of a language tag, lower-cased: ``fr-FR`` → ``fr``; None when unknown."""
    if not tag:
        return None
    primary = re.split(r"[-_\s]", tag.strip(), maxsplit=1)[0].lower()
    return primary or None


# --------------------------------------------------------------------------- compiled topics


@dataclass(frozen=True, slots=True, eq=False)
class _Leaf:
    """A word, phrase or prefix; ``field`` limits it to the title or the body."""

    term_id: int
    written: str
    field: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class _Near:
    """Every word (one term each, maybe repeated) within ``distance`` other words, in any order."""

    term_ids: tuple[int, ...]
    distance: int
    written: str
    field: int | None = None


@dataclass(frozen=True, slots=True)
class _All:
    children: tuple[_Expr, ...]


@dataclass(frozen=True, slots=True)
class _Any:
    children: tuple[_Expr, ...]


@dataclass(frozen=True, slots=True)
class _None:
    child: _Expr


_Expr = _Leaf | _Near | _All | _Any | _None


def _leaves(expr: _Expr) -> list[_Leaf | _Near]:
    if isinstance(expr, _Leaf | _Near):
        return [expr]
    if isinstance(expr, _None):
        return _leaves(expr.child)
    return [leaf for c in expr.children for leaf in _leaves(c)]


def _term_ids(expr: _Expr) -> set[int]:
    ids: set[int] = set()
    for leaf in _leaves(expr):
        if isinstance(leaf, _Leaf):
            ids.add(leaf.term_id)
        else:
            ids.update(leaf.term_ids)
    return ids


@dataclass(slots=True)
class _Topic:
    name: str
    keywords: list[_Leaf]
    query: _Expr | None
    exclude: list[int]
    sources: frozenset[str] | None
    languages: frozenset[str] | None


def _split_prefix(written: str) -> tuple[str, bool]:
    """A keyword or exclude term and whether it ends with the prefix ``*``."""
    text = written.rstrip()
    if text.endswith("*"):
        return text[:-1], True
    return written, False


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


def _keys(words: tuple[str, ...], prefix: bool) -> list[tuple[str, bool]]:
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
    trail = "" if prefix else " "
    return [(lead + " ".join((first, *combo)) + trail, proclitic) for combo in itertools.product(*variants)]


class Matcher:
    """Every topic compiled into one automaton; :meth:`match` says which topics an article matches."""

    def __init__(self, topics: Sequence[TopicConfig]) -> None:
        self._term_ids: dict[tuple[tuple[str, ...], bool], int] = {}
        self._tracked: list[bool] = []  # term id -> its positions are needed (proximity)
        self._positive: list[list[int]] = []  # term id -> topics where it can make a match
        self._excluding: list[list[int]] = []  # term id -> topics it excludes
        self._topics = [self._compile(i, t) for i, t in enumerate(topics)]
        self._automaton = self._build()

    # ---- building

    def _term(
        self,
        written: str,
        topic: str,
        source: str,
        position: int | None,
        kind: str,
        *,
        prefix: bool = False,
    ) -> int:
        words = normalize_term(written)
        if not words:
            problem = f"{written!r} has no letters or digits to match"
            raise QueryError(topic, source, problem, position, kind)
        if prefix and len(words[-1]) < MIN_PREFIX:
            problem = f"a prefix needs at least {MIN_PREFIX} letters before '*' ({written}*)"
            raise QueryError(topic, source, problem, position, kind)
        return self._term_id(words, prefix)

    def _term_id(self, words: tuple[str, ...], prefix: bool, *, track: bool = False) -> int:
        term_id = self._term_ids.get((words, prefix))
        if term_id is None:
            term_id = self._term_ids[(words, prefix)] = len(self._term_ids)
            self._tracked.append(False)
            self._positive.append([])
            self._excluding.append([])
        if track:
            self._tracked[term_id] = True
        return term_id

    def _compile(self, index: int, topic: TopicConfig) -> _Topic:
        keywords = []
        for k in topic.keywords:
            text, prefix = _split_prefix(k)
            keywords.append(_Leaf(self._term(text, topic.name, k, None, "keyword", prefix=prefix), k))
        expr = None
        if topic.query and topic.query.strip():
            expr = self._expr(q.parse(topic.query, topic.name), topic.name, topic.query, None)
            if _Evidence.EMPTY.holds(expr):
                raise QueryError(
                    topic.name,
                    topic.query,
                    "the query matches articles that contain none of its terms; "
                    "NOT needs a positive term beside it, e.g. 'x NOT y'",
                )
        exclude = []
        for x in topic.exclude:
            text, prefix = _split_prefix(x)
            exclude.append(self._term(text, topic.name, x, None, "exclude term", prefix=prefix))
        positive = {leaf.term_id for leaf in keywords}
        if expr is not None:
            positive.update(_term_ids(expr))
        for term_id in positive:
            self._positive[term_id].append(index)
        for term_id in set(exclude):
            self._excluding[term_id].append(index)
        languages = topic.languages
        return _Topic(
            topic.name,
            keywords,
            expr,
            exclude,
            frozenset(topic.sources) if topic.sources is not None else None,
            frozenset(primary_language(x) for x in languages) if languages is not None else None,
        )

    def _expr(self, node: q.Node, topic: str, query: str, field: int | None) -> _Expr:
        if isinstance(node, q.Term):
            written = node.text + ("*" if node.prefix else "")
            term_id = self._term(node.text, topic, query, node.position, "query", prefix=node.prefix)
            return _Leaf(term_id, written, field)
        if isinstance(node, q.Near):
            words = normalize_term(node.text)
            if not words:
                problem = f"{node.text!r} has no letters or digits to match"
                raise QueryError(topic, query, problem, node.position)
            written = f'"{node.text}"~{node.distance}'
            if len(words) == 1:
                return _Leaf(self._term_id(words, False), written, field)
            term_ids = tuple(self._term_id((w,), False, track=True) for w in words)
            return _Near(term_ids, node.distance, written, field)
        if isinstance(node, q.Field):
            return self._expr(node.child, topic, query, _FIELD_NAMES.index(node.name))
        if isinstance(node, q.Not):
            return _None(self._expr(node.child, topic, query, field))
        children = tuple(self._expr(c, topic, query, field) for c in node.children)
        return _All(children) if isinstance(node, q.And) else _Any(children)

    def _build(self) -> ahocorasick.Automaton | None:
        keys: dict[tuple[str, bool], list[int]] = {}
        for (words, prefix), term_id in self._term_ids.items():
            for key, proclitic in _keys(words, prefix):
                keys.setdefault((key, proclitic), []).append(term_id)
        if not keys:
            return None
        automaton = ahocorasick.Automaton()
        for (key, proclitic), term_ids in keys.items():
            prefix = not key.endswith(" ")
            track = any(self._tracked[t] for t in term_ids)
            automaton.add_word(key, (len(key), proclitic, prefix, track, tuple(term_ids)))
        automaton.make_automaton()
        return automaton

    # ---- matching

    def match(
        self, title: str | None, text: str | None, *, source: str | None = None, language: str | None = None
    ) -> list[TopicMatch]:
        """The topics this article matches, in topic config order.

        ``source`` (the source's name) and ``language`` (a tag such as ``fr`` or ``fr-FR``) are
        checked against the topics' ``sources`` / ``languages`` filters; when one is unknown
        (None) the filter on it passes, so an article is never dropped for missing metadata.
        """
        if self._automaton is None:
            return []
        article = _Article(normalize(title or ""), normalize(text or ""))
        evidence = self._scan(article)
        if not evidence.first:
            return []
        candidates: set[int] = set()
        excluded: set[int] = set()
        for term_id in evidence.first:
            candidates.update(self._positive[term_id])
            excluded.update(self._excluding[term_id])
        lang = primary_language(language)
        results = []
        for index in sorted(candidates - excluded):
            topic = self._topics[index]
            if source is not None and topic.sources is not None and source not in topic.sources:
                continue
            if lang is not None and topic.languages is not None and lang not in topic.languages:
                continue
            found = self._decide(topic, evidence, article)
            if found is not None:
                results.append(found)
        return results

    def _scan(self, article: _Article) -> _Evidence:
        """Every hit of the stream: first title and body span per term, all spans of tracked terms."""
        stream, body_start, tracked = article.stream, article.body_start, self._tracked
        first: dict[int, list] = {}
        every: dict[int, list[Span]] = {}
        for end, (length, proclitic, prefix, track, term_ids) in self._automaton.iter(stream):
            start = end - length + 1
            if proclitic:
                if stream[start - 1] != " ":
                    word_start = stream.rfind(" ", 0, start) + 1
                    if stream[word_start:start] not in ARABIC_PROCLITICS:
                        continue
                    start = word_start
            else:
                start += 1  # the key's leading space
            if prefix:
                end = stream.find(" ", end)  # the end of the word the prefix starts
            field = _TITLE if start < body_start else _BODY
            for term_id in term_ids:
                slot = first.get(term_id)
                if slot is None:
                    slot = first[term_id] = [None, None]
                if slot[field] is None:
                    slot[field] = (start, end)
                if track and tracked[term_id]:
                    every.setdefault(term_id, []).append((start, end))
        return _Evidence(first, every, article)

    def _decide(self, topic: _Topic, evidence: _Evidence, article: _Article) -> TopicMatch | None:
        reported: list[_Leaf | _Near] = [leaf for leaf in topic.keywords if leaf.term_id in evidence.first]
        if topic.query is not None and evidence.holds(topic.query):
            reported += evidence.witness(topic.query) or [
                leaf for leaf in _leaves(topic.query) if evidence.found(leaf)
            ]
        if not reported:
            return None
        spans = [evidence.spans(leaf) for leaf in reported]
        order = sorted(range(len(reported)), key=lambda i: min(s[0] for s in spans[i] if s is not None))
        terms = list(dict.fromkeys(reported[i].written for i in order))
        fields = [_FIELD_NAMES[f] for f in (_TITLE, _BODY) if any(s[f] for s in spans)]
        body_spans = [s[_BODY] for s in spans if s[_BODY]]
        if body_spans:
            snippet = article.snippet(_BODY, min(body_spans))
        else:
            snippet = article.snippet(_TITLE, min(s[_TITLE] for s in spans if s[_TITLE]))
        return TopicMatch(topic.name, terms, fields, snippet)


_NOWHERE: tuple[None, None] = (None, None)


class _Evidence:
    """The hits of one article, and the truth of topic expressions over them."""

    EMPTY: _Evidence

    __slots__ = ("first", "every", "article", "_near")

    def __init__(self, first: dict[int, list], every: dict[int, list[Span]], article: _Article | None):
        self.first = first  # term id -> [first title span, first body span]
        self.every = every  # term id -> every span, for terms used in a proximity
        self.article = article
        self._near: dict[int, list] = {}

    def spans(self, leaf: _Leaf | _Near) -> Sequence[Span | None]:
        """``[title span, body span]`` of the leaf's first occurrence in each field (None: absent)."""
        if isinstance(leaf, _Leaf):
            slot = self.first.get(leaf.term_id)
            if slot is None:
                return _NOWHERE
            if leaf.field is None:
                return slot
            return (slot[0], None) if leaf.field == _TITLE else (None, slot[1])
        found = self._near.get(id(leaf))
        if found is None:
            found = self._near[id(leaf)] = [None, None]
            if all(t in self.first for t in leaf.term_ids):
                for field in (_TITLE, _BODY) if leaf.field is None else (leaf.field,):
                    found[field] = self._window(leaf, field)
        return found

    def found(self, leaf: _Leaf | _Near) -> bool:
        spans = self.spans(leaf)
        return spans[0] is not None or spans[1] is not None

    def holds(self, expr: _Expr) -> bool:
        if isinstance(expr, _Leaf | _Near):
            return self.found(expr)
        if isinstance(expr, _All):
            return all(self.holds(c) for c in expr.children)
        if isinstance(expr, _Any):
            return any(self.holds(c) for c in expr.children)
        return not self.holds(expr.child)

    def witness(self, expr: _Expr) -> list[_Leaf | _Near]:
        """The hit leaves that make a true expression true (leaves under NOT are never reported)."""
        if isinstance(expr, _Leaf | _Near):
            return [expr] if self.found(expr) else []
        if isinstance(expr, _None):
            return []
        return [leaf for c in expr.children if self.holds(c) for leaf in self.witness(c)]

    def _window(self, near: _Near, field: int) -> Span | None:
        """The span of the first smallest window of ``field`` holding every word of ``near``
        with at most ``near.distance`` other words among them; None when there is none."""
        assert self.article is not None
        need = Counter(near.term_ids)
        in_field = self.article.in_field
        events = sorted(
            (self.article.word_index(span[0]), term_id, span)
            for term_id in need
            for span in self.every.get(term_id, ())
            if in_field(span[0], field)
        )
        have: Counter[int] = Counter()
        satisfied, left, words = 0, 0, len(near.term_ids)
        for index, term_id, span in events:
            have[term_id] += 1
            if have[term_id] == need[term_id]:
                satisfied += 1
            while have[events[left][1]] > need[events[left][1]]:  # drop surplus words on the left
                have[events[left][1]] -= 1
                left += 1
            if satisfied == len(need) and index - events[left][0] + 1 - words <= near.distance:
                return events[left][2][0], span[1]
        return None


_Evidence.EMPTY = _Evidence({}, {}, None)


class _Article:
    """The normalised title and body of one article, and the stream that is scanned."""

    def __init__(self, title: Normalized, body: Normalized) -> None:
        self.fields = (title, body)
        title_words = " ".join(title.words)
        self.stream = f" {title_words} \n {' '.join(body.words)} "
        self.body_start = len(title_words) + 4  # stream index of the body's first word
        self._snippets: dict[tuple[int, tuple[int, int]], str] = {}
        self._starts: list[int] | None = None

    def in_field(self, stream_pos: int, field: int) -> bool:
        return (stream_pos < self.body_start) == (field == _TITLE)

    def word_index(self, stream_pos: int) -> int:
        """Position of the word starting at ``stream_pos``: title words first, then body words."""
        if self._starts is None:
            starts, pos = [], 1
            for word in self.fields[_TITLE].words:
                starts.append(pos)
                pos += len(word) + 1
            pos = self.body_start
            for word in self.fields[_BODY].words:
                starts.append(pos)
                pos += len(word) + 1
            self._starts = starts
        return bisect_right(self._starts, stream_pos) - 1

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
