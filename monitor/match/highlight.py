"""Snippets and highlights: what an alert shows of a match, from the matcher's own hits.

The matcher knows where each reported term matched in the ORIGINAL title or body (whole words, a
proclitic included). A :class:`Snippet` is cut from that original text around the first hit (body
preferred), and the hits of the reported terms inside it are translated to snippet offsets, so an
alert marks exactly the words that matched, never another word that merely looks alike. There is
no second matcher here: the spans come with the match (see :class:`monitor.match.TopicMatch`) and
are stored with it, since alerts are rendered from the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from monitor.match.article import Article
from monitor.match.expr import Evidence, Leaf, Near, Span
from monitor.match.result import Hit

__all__ = ["SNIPPET_WIDTH", "Presenter", "Snippet", "make_snippet", "merge"]

SNIPPET_WIDTH = 200
_SPACE = re.compile(r"\s")


def _window(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    """``(lo, hi)``: about ``width`` characters of ``text`` around ``text[start:end]``, 2/5 of the
    room before it, cut at word boundaries where possible."""
    room = max(width - (end - start), 0)
    lo = max(start - room * 2 // 5, 0)
    hi = min(end + room - (start - lo), len(text))
    lo = max(min(lo, hi - width), 0)
    if lo > 0 and not text[lo - 1].isspace() and (space := _SPACE.search(text, lo, start)):
        lo = space.end()
    if hi < len(text) and not text[hi].isspace():
        cut = max(text.rfind(" ", end, hi), text.rfind("\n", end, hi))
        hi = cut if cut >= end else hi
    return lo, hi


class Snippet:
    """About ``width`` characters of ``original`` around ``original[start:end]``, whitespace
    collapsed, "…" at each end that was cut; :meth:`span` maps offsets of the original into it."""

    __slots__ = ("text", "lo", "hi", "centre", "_original", "_lead", "_same", "_around")

    def __init__(self, original: str, start: int, end: int, width: int = SNIPPET_WIDTH) -> None:
        self.lo, self.hi = lo, hi = _window(original, start, end, width)
        self._original, self._lead, self._around = original, 1 if lo > 0 else 0, (start, end)
        before, rest = original[lo:start], original[start:hi]
        head, tail = " ".join(before.split()), " ".join(rest.split())
        self._same = head == before and tail == rest  # offsets only shift by the lead
        if head and before[-1].isspace():
            head += " "
        head = ("…" if lo > 0 else "") + head
        middle = original[start:end]
        size = len(middle) if self._same or middle.isalnum() else len(" ".join(middle.split()))
        self.centre = (len(head), len(head) + size)  # where ``original[start:end]`` is
        self.text = head + tail + ("…" if hi < len(original) else "")

    def _offset(self, pos: int, *, start: bool) -> int:
        """Offset in :attr:`text` of original ``pos``: a start in whitespace moves to the next
        word, an end in whitespace back to the previous one."""
        if self._same:
            return self._lead + pos - self.lo
        before = self._original[self.lo : pos]
        words = before.split()
        offset = sum(map(len, words)) + len(words) - 1 if words else 0
        if start and words and before[-1].isspace():
            offset += 1
        return self._lead + max(offset, 0)

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """``original[start:end]`` as offsets in :attr:`text` (clipped to it); None if outside."""
        if (start, end) == self._around:
            return self.centre
        start, end = max(start, self.lo), min(end, self.hi)
        if start >= end:
            return None
        begin, finish = self._offset(start, start=True), self._offset(end, start=False)
        return (begin, finish) if begin < finish else None


def make_snippet(text: str, start: int, end: int, width: int = SNIPPET_WIDTH) -> str:
    """About ``width`` characters of ``text`` around ``text[start:end]`` (see :class:`Snippet`)."""
    return Snippet(text, start, end, width).text


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping spans: overlapping or touching ones are joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


_FIELD_NAMES = ("title", "body")


class Presenter:
    """The hits, snippets and highlights of one article's matches; what several topics share
    (the original offsets of a hit, a snippet) is computed once."""

    __slots__ = ("article", "evidence", "_originals", "_snippets", "_marks")

    def __init__(self, article: Article, evidence: Evidence) -> None:
        self.article, self.evidence = article, evidence
        self._originals: dict[Span, tuple[int, int, int]] = {}
        self._snippets: dict[Span, tuple[Snippet, Span]] = {}  # centre -> snippet, its stream range
        self._marks: dict[tuple[Span, tuple[int, ...]], list[tuple[int, int]]] = {}

    def original(self, span: Span) -> tuple[int, int, int]:
        found = self._originals.get(span)
        if found is None:
            found = self._originals[span] = self.article.original(span)
        return found

    def hit(self, leaf: Leaf | Near, span: Span) -> Hit:
        """Where ``leaf`` matched at ``span`` of the stream, in the original text."""
        field, start, end = self._originals.get(span) or self.original(span)
        approximate = bool(self.evidence.approximate) and any(
            (term_id, s) in self.evidence.approximate
            for term_id in leaf.term_ids()
            for s, _ in self.evidence.every.get(term_id, ())
            if span[0] <= s < span[1]
        )
        found = self.article.fields[field].original[start:end]
        return Hit(leaf.written, _FIELD_NAMES[field], start, end, found, approximate)

    def snippet(self, centre: Span, reported: list[Leaf | Near]) -> tuple[str, list[tuple[int, int]]]:
        """The snippet around the hit at ``centre``, and its spans where ``reported`` matched
        (every hit inside it)."""
        cut = self._snippets.get(centre)
        if cut is None:
            field, start, end = self.original(centre)
            snippet = Snippet(self.article.fields[field].original, start, end)
            cut = self._snippets[centre] = snippet, self.article.stream_range(field, snippet.lo, snippet.hi)
        snippet, (low, high) = cut
        if len(reported) == 1:
            wanted = reported[0].term_ids()
        else:
            wanted = tuple({t: 0 for leaf in reported for t in leaf.term_ids()})
        marks = self._marks.get((centre, wanted))
        if marks is None:
            found = []
            for term_id in wanted:
                for span in self.evidence.between(term_id, low, high):
                    _, start, end = self._originals.get(span) or self.original(span)
                    if (inside := snippet.span(start, end)) is not None:
                        found.append(inside)
            marks = self._marks[(centre, wanted)] = merge(found)
        return snippet.text, marks
