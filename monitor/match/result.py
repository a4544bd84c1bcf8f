"""What a match says: the topic, its terms, where each matched, a snippet and its highlights.

:class:`TopicMatch` is what :meth:`monitor.match.Matcher.match` returns and what a ``matches`` row
stores (:meth:`TopicMatch.columns`): ``terms`` as written in the topic, ``fields``, ``snippet``,
``hits`` (for each reported term, its first hit in the title and in the body: offsets in the
ORIGINAL text, the words as found, and whether a fuzzy term matched another spelling) and
``highlights`` (the spans of ``snippet`` where reported terms matched). :func:`labels` turns terms
and hits into what people read: ``Sghrouchni ≈ Seghrouchni`` for a fuzzy term.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Hit", "TopicMatch", "display", "labels"]


@dataclass(slots=True)
class Hit:
    """Where one term matched: ``found`` is ``text[start:end]`` of the original title or body."""

    term: str  # as written in the topic
    field: str  # "title" or "body"
    start: int
    end: int
    found: str
    approximate: bool = False  # a fuzzy term matched another spelling

    def to_json(self) -> dict:
        return {
            "term": self.term,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "found": self.found,
            "approximate": self.approximate,
        }

    @classmethod
    def from_json(cls, data: dict) -> Hit:
        return cls(
            str(data["term"]),
            str(data["field"]),
            int(data["start"]),
            int(data["end"]),
            str(data["found"]),
            bool(data.get("approximate")),
        )


@dataclass
class TopicMatch:
    """One topic that matched an article."""

    topic: str
    terms: list[str]  # as written in the topic config, deduplicated, in order of first hit
    fields: list[str]  # subset of ["title", "body"], in that order
    snippet: str  # ~200 chars of the original text around the first hit (body preferred)
    hits: list[Hit] = field(default_factory=list)  # per term, its first hit in each field
    highlights: list[tuple[int, int]] = field(default_factory=list)  # spans of ``snippet``

    @property
    def labels(self) -> list[str]:
        """The terms as people read them (see :func:`labels`)."""
        return labels(self.terms, self.hits)

    def columns(self) -> dict:
        """The ``matches`` row's columns for this match (JSON-ready)."""
        return {
            "terms": self.terms,
            "fields": self.fields,
            "snippet": self.snippet,
            "hits": [hit.to_json() for hit in self.hits],
            "highlights": [list(span) for span in self.highlights],
        }


_FUZZY_MARK = re.compile(r"(?<=[^\s~\"])~[\d.]*(?=$|[\s\"])")


def display(term: str) -> str:
    """A term without its fuzzy markers: ``El Fallah~1 Seghrouchni~`` → ``El Fallah Seghrouchni``."""
    return _FUZZY_MARK.sub("", term)


def labels(terms: Iterable[str], hits: Iterable[Hit | dict] | None) -> list[str]:
    """One label per term: ``found ≈ term`` (markers dropped) when a fuzzy term matched another
    spelling (its first such hit, title first), else the term as written. ``hits`` may be
    :class:`Hit` objects or their stored JSON (None for rows stored before hits were)."""
    found: dict[str, str] = {}
    for hit in hits or ():
        hit = hit if isinstance(hit, Hit) else Hit.from_json(hit)
        if hit.approximate and hit.term not in found:
            found[hit.term] = f"{' '.join(hit.found.split())} ≈ {display(hit.term)}"
    return [found.get(term, term) for term in dict.fromkeys(terms)]
