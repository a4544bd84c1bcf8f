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


_NOWHERE: tuple[None, None] = (None, None)


class _Leaf:
    """A word, phrase or prefix; ``field`` limits it to the title or the body."""

    __slots__ = ("term_id", "written", "field")

    def __init__(self, term_id: int, written: str, field: int | None = None) -> None:
        self.term_id, self.written, self.field = term_id, written, field

    def spans(self, ev: _Evidence) -> Sequence[Span | None]:
        """``[title span, body span]`` of the first occurrence in each field (None: absent)."""
        slot = ev.first.get(self.term_id)
        if slot is None:
            return _NOWHERE
        if self.field is None:
            return slot
        return (slot[0], None) if self.field == _TITLE else (None, slot[1])

    def holds(self, ev: _Evidence) -> bool:
        if self.field is None:
            return self.term_id in ev.first
        slot = ev.first.get(self.term_id)
        return slot is not None and slot[self.field] is not None

    def witness(self, ev: _Evidence, out: list) -> None:
        if self.holds(ev):
            out.append(self)

    def leaves(self) -> list:
        return [self]

    def term_ids(self) -> tuple[int, ...]:
        return (self.term_id,)


class _Near:
    """Every word (one term each, maybe repeated) within ``distance`` other words, in any order."""

    __slots__ = ("term_ids_", "distance", "written", "field")

    def __init__(
        self, term_ids: tuple[int, ...], distance: int, written: str, field: int | None = None
    ) -> None:
        self.term_ids_, self.distance, self.written, self.field = term_ids, distance, written, field

    def spans(self, ev: _Evidence) -> Sequence[Span | None]:
        return ev.near(self)

    def holds(self, ev: _Evidence) -> bool:
        first = ev.first
        for term_id in self.term_ids_:
            if term_id not in first:
                return False
        found = ev.near(self)
        return found[0] is not None or found[1] is not None

    def witness(self, ev: _Evidence, out: list) -> None:
        if self.holds(ev):
            out.append(self)

    def leaves(self) -> list:
        return [self]

    def term_ids(self) -> tuple[int, ...]:
        return self.term_ids_


class _All:
    __slots__ = ("children",)

    def __init__(self, children: tuple[_Expr, ...]) -> None:
        self.children = children

    def holds(self, ev: _Evidence) -> bool:
        for child in self.children:  # noqa: SIM110 (a loop beats all() of a generator here)
            if not child.holds(ev):
                return False
        return True

    def witness(self, ev: _Evidence, out: list) -> None:
        for child in self.children:
            child.witness(ev, out)

    def leaves(self) -> list:
        return [leaf for c in self.children for leaf in c.leaves()]

    def term_ids(self) -> tuple[int, ...]:
        return tuple(t for c in self.children for t in c.term_ids())


class _Any(_All):
    __slots__ = ()

    def holds(self, ev: _Evidence) -> bool:
        for child in self.children:  # noqa: SIM110
            if child.holds(ev):
                return True
        return False

    def witness(self, ev: _Evidence, out: list) -> None:
        for child in self.children:
            if child.holds(ev):
                child.witness(ev, out)


class _None:
    __slots__ = ("child",)

    def __init__(self, child: _Expr) -> None:
        self.child = child

    def holds(self, ev: _Evidence) -> bool:
        return not self.child.holds(ev)

    def witness(self, ev: _Evidence, out: list) -> None:
        """Leaves under NOT are never reported."""

    def leaves(self) -> list:
        return self.child.leaves()

    def term_ids(self) -> tuple[int, ...]:
        return self.child.term_ids()


_Expr = _Leaf | _Near | _All | _Any | _None


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
            if expr.holds(_Evidence.EMPTY):
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
            positive.update(expr.term_ids())
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
        first = evidence.first
        reported: list[_Leaf | _Near] = [leaf for leaf in topic.keywords if leaf.term_id in first]
        if topic.query is not None and topic.query.holds(evidence):
            witnesses: list[_Leaf | _Near] = []
            topic.query.witness(evidence, witnesses)
            reported += witnesses or [leaf for leaf in topic.query.leaves() if leaf.holds(evidence)]
        if not reported:
            return None
        spans = [leaf.spans(evidence) for leaf in reported]
        if len(reported) == 1:
            terms = [reported[0].written]
        else:
            starts = [min(s[0] for s in field_spans if s is not None) for field_spans in spans]
            order = sorted(range(len(reported)), key=starts.__getitem__)
            terms = list(dict.fromkeys(reported[i].written for i in order))
        fields = [_FIELD_NAMES[f] for f in (_TITLE, _BODY) if any(s[f] for s in spans)]
        body_spans = [s[_BODY] for s in spans if s[_BODY]]
        if body_spans:
            snippet = article.snippet(_BODY, min(body_spans))
        else:
            snippet = article.snippet(_TITLE, min(s[_TITLE] for s in spans if s[_TITLE]))
        return TopicMatch(topic.name, terms, fields, snippet)


class _Evidence:
    """The hits of one article, and the proximity windows found so far."""

    EMPTY: _Evidence

    __slots__ = ("first", "every", "article", "_near")

    def __init__(self, first: dict[int, list], every: dict[int, list[Span]], article: _Article | None):
        self.first = first  # term id -> [first title span, first body span]
        self.every = every  # term id -> every span, for terms used in a proximity
        self.article = article
        self._near: dict = {}  # id(near) -> its windows; (term id, field) -> positions

    def near(self, near: _Near) -> list[Span | None]:
        """``[title window, body window]`` of a proximity (None where it does not hold)."""
        found = self._near.get(id(near))
        if found is None:
            found = self._near[id(near)] = [None, None]
            if all(t in self.first for t in near.term_ids_):
                for field in (_TITLE, _BODY) if near.field is None else (near.field,):
                    found[field] = self._window(near, field)
        return found

    def _positions(self, term_id: int, field: int) -> list[tuple[int, int, Span]]:
        """``(word index, term id, span)`` of every hit of a tracked term in ``field``."""
        key = (term_id, field)
        found = self._near.get(key)
        if found is None:
            assert self.article is not None
            body_start, word_index, in_body = self.article.body_start, self.article.word_index, field == _BODY
            found = self._near[key] = [
                (word_index(span[0]), term_id, span)
                for span in self.every.get(term_id, ())
                if (span[0] >= body_start) is in_body
            ]
        return found

    def _window(self, near: _Near, field: int) -> Span | None:
        """The span of the first smallest window of ``field`` holding every word of ``near``
        with at most ``near.distance`` other words among them; None when there is none."""
        need = Counter(near.term_ids_)
        events = sorted(event for term_id in need for event in self._positions(term_id, field))
        have: Counter[int] = Counter()
        satisfied, left, words = 0, 0, len(near.term_ids_)
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
        """Index, within its field, of the word at ``stream_pos``."""
        index = self.word_index(stream_pos)
        return index if field == _TITLE else index - len(self.fields[_TITLE].words)

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
        cut = max(text.rfind(" ", end, hi), text.rfind("\n", end, hi))
        hi = cut if cut >= end else hi
    piece = " ".join(text[lo:hi].split())
    return ("…" if lo > 0 else "") + piece + ("…" if hi < len(text) else "")
