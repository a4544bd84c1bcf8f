"""Match an article against every topic: normalise once, scan once, then decide per topic.

All exact terms of all topics (keywords, query terms, the words of proximity queries, exclude
terms) go into ONE Aho-Corasick automaton, built over normalised words joined by single spaces
(:func:`monitor.match.terms.automaton_keys`, which also holds the Arabic clitic rules). An
article's title and body are normalised and joined the same way into one stream
(:class:`monitor.match.article.Article`), scanned once; fuzzy terms are looked up in their own
index (:mod:`monitor.match.fuzzy`). A hit is a span of the stream; the scan keeps each term's
first hit in the title and in the body (every hit of proximity words and fuzzy terms). Cost per
article is the normalisation plus one linear scan plus work proportional to the hits and to the
topics those hits concern: nearly flat in the number of topics.

A topic matches when a keyword or its query matches (:mod:`monitor.match.expr` evaluates the
query's tree), none of its exclude terms occurs in the title or the body, and the article passes
its ``sources`` / ``languages`` filters.

The result (:class:`monitor.match.result.TopicMatch`) reports the terms that made the match, each
with its first hit in the title and the body as offsets in the ORIGINAL text, a snippet cut from
the original text around the first hit in the BODY (or the title when only the title matched), and
the spans of the snippet where reported terms matched (:mod:`monitor.match.highlight`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ahocorasick

from monitor.config import TopicConfig
from monitor.match import query as q
from monitor.match.article import Article
from monitor.match.expr import BODY, TITLE, All, AnyOf, Evidence, Expr, Leaf, Near, NoneOf, Span
from monitor.match.fuzzy import FuzzyIndex
from monitor.match.highlight import Presenter, merge
from monitor.match.normalize import normalize
from monitor.match.query import QueryError
from monitor.match.result import TopicMatch
from monitor.match.terms import (
    ARTICLE,
    CLITIC,
    TermProblem,
    TermSpec,
    automaton_keys,
    clitic_allowed,
    parse_term,
)

__all__ = ["Matcher", "QueryError", "TopicMatch", "check_query", "primary_language"]

_FIELD_NAMES = ("title", "body")


def primary_language(tag: str | None) -> str | None:
    """The primary subtag of a language tag, lower-cased: ``fr-FR`` → ``fr``; None when unknown."""
    if not tag:
        return None
    primary = re.split(r"[-_\s]", tag.strip(), maxsplit=1)[0].lower()
    return primary or None


def check_query(text: str, *, kind: str = "query", topic: str | None = None) -> str | None:
    """Why a query (``kind="query"``), keyword (``"keyword"``) or exclude term (``"exclude term"``)
    cannot be used, as the one-line message the config loader shows; None when it can."""
    fields = {"query": {"query": text}, "keyword": {"keywords": [text]}, "exclude term": {"exclude": [text]}}
    if kind not in fields:
        raise ValueError(f"unknown kind {kind!r}")
    spec = {"keywords": [], "query": None, "exclude": [], "sources": None, "languages": None, **fields[kind]}
    try:  # compiled exactly as a topic is, without the config's own checks
        Matcher([TopicConfig.model_construct(name=topic, **spec)])
    except QueryError as exc:
        return str(exc)
    return None


class _Topic:
    __slots__ = ("name", "keywords", "query", "exclude", "sources", "languages")

    def __init__(self, name, keywords, query, exclude, sources, languages) -> None:
        self.name: str = name
        self.keywords: list[Leaf] = keywords
        self.query: Expr | None = query
        self.exclude: list[int] = exclude
        self.sources: frozenset[str] | None = sources
        self.languages: frozenset[str] | None = languages


def _split_prefix(written: str) -> tuple[str, bool]:
    """A keyword or exclude term and whether it ends with the prefix ``*``."""
    text = written.rstrip()
    if text.endswith("*"):
        return text[:-1], True
    return written, False


class Matcher:
    """Every topic compiled into one automaton; :meth:`match` says which topics an article matches."""

    def __init__(self, topics: Sequence[TopicConfig]) -> None:
        self._specs: dict[TermSpec, int] = {}
        self._spec_of: list[TermSpec] = []  # term id -> what it asks for
        self._keys: dict[int, list[tuple[str, int]]] = {}  # term id -> its keys, once highlighted
        self._tracked: set[int] = set()  # term ids whose every span the scan keeps (proximity words)
        self._positive: list[list[int]] = []  # term id -> topics where it can make a match
        self._excluding: list[list[int]] = []  # term id -> topics it excludes
        self._topics = [self._compile(i, t) for i, t in enumerate(topics)]
        self._automaton = self._build()
        self._fuzzy = FuzzyIndex()
        for spec, term_id in self._specs.items():
            if spec.fuzzy:
                self._fuzzy.add(term_id, spec)

    # ---- building

    def _term(
        self, written: str, topic: str, source: str, position: int | None, kind: str, *, prefix=False
    ) -> int:
        try:
            spec = parse_term(written, prefix=prefix)
        except TermProblem as exc:
            at = position if position is None or exc.offset is None else position + exc.offset
            raise QueryError(topic, source, exc.problem, at, kind) from None
        return self._term_id(spec)

    def _term_id(self, spec: TermSpec) -> int:
        term_id = self._specs.get(spec)
        if term_id is None:
            term_id = self._specs[spec] = len(self._specs)
            self._positive.append([])
            self._excluding.append([])
            self._spec_of.append(spec)
        return term_id

    def _compile(self, index: int, topic: TopicConfig) -> _Topic:
        keywords = []
        for k in topic.keywords:
            text, prefix = _split_prefix(k)
            keywords.append(Leaf(self._term(text, topic.name, k, None, "keyword", prefix=prefix), k))
        expr = None
        if topic.query and topic.query.strip():
            expr = self._expr(q.parse(topic.query, topic.name), topic.name, topic.query, None)
            if expr.holds(Evidence.EMPTY):
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

    def _expr(self, node: q.Node, topic: str, query: str, field: int | None) -> Expr:
        if isinstance(node, q.Term):
            written = node.text + ("*" if node.prefix else "")
            at = node.position + node.quoted
            term_id = self._term(node.text, topic, query, at, "query", prefix=node.prefix)
            return Leaf(term_id, written, field)
        if isinstance(node, q.Near):
            written = f'"{node.text}"~{node.distance}'
            try:
                spec = parse_term(node.text)
            except TermProblem as exc:
                at = node.position + 1 + (exc.offset or 0)
                raise QueryError(topic, query, exc.problem, at) from None
            if len(spec.words) == 1:
                return Leaf(self._term_id(spec), written, field)
            edits = spec.edits or (0,) * len(spec.words)
            term_ids = tuple(
                self._term_id(TermSpec((w,), False, (e,) if e else ()))
                for w, e in zip(spec.words, edits, strict=True)
            )
            self._tracked.update(term_ids)
            return Near(term_ids, node.distance, written, field)
        if isinstance(node, q.Field):
            return self._expr(node.child, topic, query, _FIELD_NAMES.index(node.name))
        if isinstance(node, q.Not):
            return NoneOf(self._expr(node.child, topic, query, field))
        children = tuple(self._expr(c, topic, query, field) for c in node.children)
        return All(children) if isinstance(node, q.And) else AnyOf(children)

    def _build(self) -> ahocorasick.Automaton | None:
        keys: dict[str, tuple[list[int], list[int], list[int]]] = {}  # key -> term ids by mode
        for spec, term_id in self._specs.items():
            if not spec.fuzzy:
                for key, mode in automaton_keys(spec):
                    by_mode = keys.get(key)
                    if by_mode is None:
                        by_mode = keys[key] = ([], [], [])
                    by_mode[mode].append(term_id)
        if not keys:
            return None
        automaton = ahocorasick.Automaton()
        for key, (whole, clitic, article) in keys.items():
            # A key is a whole-word key (leading space) or an Arabic stem, found by terms written
            # without their article (CLITIC) and/or with it (ARTICLE); and the proximity words
            # among them, whose every hit is kept.
            ids, with_article = tuple(whole or clitic), tuple(article)
            tracked = tuple(self._tracked.intersection(ids + with_article)) if self._tracked else ()
            automaton.add_word(
                key, (len(key), not key.endswith(" "), key[0] != " ", ids, with_article, tracked)
            )
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
        if self._automaton is None and not self._fuzzy:
            return []
        article = Article(normalize(title or ""), normalize(text or ""))
        first, every = self._scan(article)
        approximate = self._fuzzy.find(article, first, every) if self._fuzzy else set()
        if not first:
            return []
        evidence = Evidence(first, every, self._keys_of, approximate, article)
        candidates: set[int] = set()
        excluded: set[int] = set()
        for term_id in first:
            candidates.update(self._positive[term_id])
            excluded.update(self._excluding[term_id])
        lang = primary_language(language)
        results = []
        shown = Presenter(article, evidence)
        for index in sorted(candidates - excluded):
            topic = self._topics[index]
            if source is not None and topic.sources is not None and source not in topic.sources:
                continue
            if lang is not None and topic.languages is not None and lang not in topic.languages:
                continue
            found = _decide(topic, evidence, shown)
            if found is not None:
                results.append(found)
        return results

    def spans(self, text: str | None) -> list[tuple[int, int]]:
        """Every place in ``text`` where one of this matcher's terms matches, whole words as
        matching finds them, merged and in order: for highlighting texts that are not a stored
        match's snippet (a story's text, another outlet's title)."""
        if not text or (self._automaton is None and not self._fuzzy):
            return []
        article = Article(normalize(""), normalize(text))
        first, every = self._scan(article)
        approximate = self._fuzzy.find(article, first, every) if self._fuzzy else set()
        evidence = Evidence(first, every, self._keys_of, approximate, article)
        found = []
        for term_id in first:
            for span in evidence.between(term_id, 0, len(article.stream)):
                _, start, end = article.original(span)
                found.append((start, end))
        return merge(found)

    def _keys_of(self, term_id: int) -> list[tuple[str, int]]:
        """The automaton keys of an exact term and their left-edge modes (for highlights)."""
        found = self._keys.get(term_id)
        if found is None:
            found = self._keys[term_id] = automaton_keys(self._spec_of[term_id])
        return found

    def _scan(self, article: Article) -> tuple[dict[int, list], dict[int, list[Span]]]:
        """The exact terms' hits: per term its first title and body span; every span of the
        proximity words. (Highlights find a reported term's other hits from its keys, in the
        snippet only: recording every hit of every term here would slow every article.)"""
        first: dict[int, list] = {}
        every: dict[int, list[Span]] = {}
        if self._automaton is None:
            return first, every
        stream, body_start = article.stream, article.body_start
        for end, (length, prefix, arabic, term_ids, article_ids, tracked) in self._automaton.iter(stream):
            start = end - length + 1
            if not arabic:
                start += 1  # the key's leading space
            else:  # a stem: what precedes it in its word decides which terms it finds
                word_start = stream.rfind(" ", 0, start) + 1
                clitic, start = stream[word_start:start], word_start
                if term_ids and not clitic_allowed(clitic, CLITIC):
                    term_ids = ()
                if article_ids and clitic_allowed(clitic, ARTICLE):
                    term_ids += article_ids
                if not term_ids:
                    continue
            if prefix:
                end = stream.find(" ", end)  # the end of the word the prefix starts
            field = 0 if start < body_start else 1
            for term_id in term_ids:
                slot = first.get(term_id)
                if slot is None:
                    first[term_id] = [(start, end), None] if field == 0 else [None, (start, end)]
                elif slot[field] is None:
                    slot[field] = (start, end)
            for term_id in tracked:
                if term_id in term_ids:
                    every.setdefault(term_id, []).append((start, end))
        return first, every


def _decide(topic: _Topic, evidence: Evidence, shown: Presenter) -> TopicMatch | None:
    """The match of one candidate topic (None when it does not hold): terms, hits, snippet."""
    first = evidence.first
    reported: list[Leaf | Near] = [leaf for leaf in topic.keywords if leaf.term_id in first]
    if topic.query is not None and topic.query.holds(evidence):
        witnesses: list[Leaf | Near] = []
        topic.query.witness(evidence, witnesses)
        reported += witnesses or [leaf for leaf in topic.query.leaves() if leaf.holds(evidence)]
    if not reported:
        return None
    where = [leaf.spans(evidence) for leaf in reported]
    if len(reported) > 1:
        order = sorted(range(len(reported)), key=lambda i: min(s[0] for s in where[i] if s is not None))
        reported, where = [reported[i] for i in order], [where[i] for i in order]
    terms = [reported[0].written] if len(reported) == 1 else list(dict.fromkeys(r.written for r in reported))
    fields = [_FIELD_NAMES[f] for f in (TITLE, BODY) if any(s[f] for s in where)]
    body_spans = [s[BODY] for s in where if s[BODY]]
    centre = min(body_spans) if body_spans else min(s[TITLE] for s in where if s[TITLE])
    hits, seen = [], set()
    for leaf, leaf_spans in zip(reported, where, strict=True):
        if leaf.written not in seen:
            seen.add(leaf.written)
            hits += [shown.hit(leaf, span) for span in leaf_spans if span is not None]
    snippet, highlights = shown.snippet(centre, reported)
    return TopicMatch(topic.name, terms, fields, snippet, hits, highlights)
