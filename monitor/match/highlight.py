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
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

__all__ = ["SNIPPET_WIDTH", "Snippet", "make_snippet", "merge"]

SNIPPET_WIDTH = 200
_SPACE = re.compile(r"\s")
_NON_SPACE = re.compile(r"\S+")


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

    __slots__ = ("text", "lo", "hi", "_starts", "_ends", "_at")

    def __init__(self, original: str, start: int, end: int, width: int = SNIPPET_WIDTH) -> None:
        self.lo, self.hi = _window(original, start, end, width)
        tokens = [m.span() for m in _NON_SPACE.finditer(original, self.lo, self.hi)]
        self._starts = [s for s, _ in tokens]
        self._ends = [e for _, e in tokens]
        self._at, pos = [], 1 if self.lo > 0 else 0  # snippet offset of each token
        for s, e in tokens:
            self._at.append(pos)
            pos += e - s + 1
        piece = " ".join(original[s:e] for s, e in tokens)
        self.text = ("…" if self.lo > 0 else "") + piece + ("…" if self.hi < len(original) else "")

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """``original[start:end]`` as offsets in :attr:`text` (clipped to it); None if outside."""
        first = bisect_right(self._ends, start)  # the first token ending after ``start``
        last = bisect_left(self._starts, end) - 1  # the last token starting before ``end``
        if first > last:
            return None
        begin = self._at[first] + max(start - self._starts[first], 0)
        return begin, self._at[last] + min(end, self._ends[last]) - self._starts[last]


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
