"""A topic's compiled query, and the evidence (hits of one article) it is evaluated on.

The scan (:mod:`monitor.match.engine`) turns one article into :class:`Evidence`: for every term
found, its first span in the title and in the body of the scanned stream; every span of the words
of proximities and of fuzzy terms; the others on demand, in a part of the stream (highlights). The tree evaluates on it:
:class:`Leaf` (a word, phrase or prefix, maybe limited to a field), :class:`Near` (a proximity),
:class:`All`, :class:`AnyOf`, :class:`NoneOf`. A proximity ``"a b"~N`` holds when every word
occurs, in any order, within one field, with at most N other words among them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from monitor.match.article import BODY, TITLE, Article, Span
from monitor.match.terms import key_hits

__all__ = ["BODY", "TITLE", "All", "AnyOf", "Evidence", "Expr", "Leaf", "Near", "NoneOf", "Span"]

_NOWHERE: tuple[None, None] = (None, None)


class Evidence:
    """The hits of one article, and the proximity windows found so far."""

    EMPTY: Evidence

    __slots__ = ("first", "every", "keys_of", "approximate", "article", "_near")

    def __init__(
        self,
        first: dict[int, list],
        every: dict[int, list[Span]],
        keys_of: Callable[[int], list[tuple[str, int]]],
        approximate: set[tuple[int, int]],
        article: Article | None,
    ):
        self.first = first  # term id -> [first title span, first body span] (None where absent)
        self.every = every  # term id -> every span, in stream order: proximity words, fuzzy terms
        self.keys_of = keys_of  # term id -> its automaton keys and their left-edge modes
        self.approximate = approximate  # (term id, start) of fuzzy hits on another spelling
        self.article = article
        self._near: dict = {}  # id(near) -> its windows; (term id, field) -> positions

    def between(self, term_id: int, low: int, high: int) -> list[Span]:
        """The spans of a term's hits that start in ``[low, high)`` of the stream: from the scan
        where it kept them, else found again from the term's own keys (:func:`key_hits`)."""
        kept = self.every.get(term_id)
        if kept is not None:
            return [span for span in kept if low <= span[0] < high]
        assert self.article is not None
        stream = self.article.stream
        keys = self.keys_of(term_id)
        found = [span for key, mode in keys for span in key_hits(stream, key, mode, low, high)]
        return sorted(set(found)) if len(keys) > 1 else found

    def near(self, near: Near) -> list[Span | None]:
        """``[title window, body window]`` of a proximity (None where it does not hold)."""
        found = self._near.get(id(near))
        if found is None:
            found = self._near[id(near)] = [None, None]
            if all(t in self.first for t in near.term_ids_):
                for field in (TITLE, BODY) if near.field is None else (near.field,):
                    found[field] = self._window(near, field)
        return found

    def _positions(self, term_id: int, field: int) -> list[tuple[int, int, Span]]:
        """``(word index, term id, span)`` of every hit of a term in ``field``."""
        key = (term_id, field)
        found = self._near.get(key)
        if found is None:
            assert self.article is not None
            word_index, body_start, in_body = self.article.word_index, self.article.body_start, field == BODY
            found = self._near[key] = [
                (word_index(span[0]), term_id, span)
                for span in self.every.get(term_id, ())
                if (span[0] >= body_start) is in_body
            ]
        return found

    def _window(self, near: Near, field: int) -> Span | None:
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


Evidence.EMPTY = Evidence({}, {}, list, set(), None)


class _Reported:
    """A leaf of the tree: what a match reports (its terms, where they are)."""

    __slots__ = ()

    def holds(self, ev: Evidence) -> bool:
        raise NotImplementedError

    def witness(self, ev: Evidence, out: list) -> None:
        if self.holds(ev):
            out.append(self)

    def leaves(self) -> list:
        return [self]


class Leaf(_Reported):
    """A word, phrase or prefix; ``field`` limits it to the title or the body."""

    __slots__ = ("term_id", "written", "field")

    def __init__(self, term_id: int, written: str, field: int | None = None) -> None:
        self.term_id, self.written, self.field = term_id, written, field

    def spans(self, ev: Evidence) -> Sequence[Span | None]:
        """``[title span, body span]`` of the first occurrence in each field (None: absent)."""
        slot = ev.first.get(self.term_id)
        if slot is None:
            return _NOWHERE
        if self.field is None:
            return slot
        return (slot[0], None) if self.field == TITLE else (None, slot[1])

    def holds(self, ev: Evidence) -> bool:
        if self.field is None:
            return self.term_id in ev.first
        slot = ev.first.get(self.term_id)
        return slot is not None and slot[self.field] is not None

    def term_ids(self) -> tuple[int, ...]:
        return (self.term_id,)


class Near(_Reported):
    """Every word (one term each, maybe repeated) within ``distance`` other words, in any order."""

    __slots__ = ("term_ids_", "distance", "written", "field")

    def __init__(
        self, term_ids: tuple[int, ...], distance: int, written: str, field: int | None = None
    ) -> None:
        self.term_ids_, self.distance, self.written, self.field = term_ids, distance, written, field

    def spans(self, ev: Evidence) -> Sequence[Span | None]:
        return ev.near(self)

    def holds(self, ev: Evidence) -> bool:
        first = ev.first
        for term_id in self.term_ids_:
            if term_id not in first:
                return False
        found = ev.near(self)
        return found[0] is not None or found[1] is not None

    def term_ids(self) -> tuple[int, ...]:
        return self.term_ids_


class All:
    __slots__ = ("children",)

    def __init__(self, children: tuple[Expr, ...]) -> None:
        self.children = children

    def holds(self, ev: Evidence) -> bool:
        for child in self.children:  # noqa: SIM110 (a loop beats all() of a generator here)
            if not child.holds(ev):
                return False
        return True

    def witness(self, ev: Evidence, out: list) -> None:
        for child in self.children:
            child.witness(ev, out)

    def leaves(self) -> list:
        return [leaf for c in self.children for leaf in c.leaves()]

    def term_ids(self) -> tuple[int, ...]:
        return tuple(t for c in self.children for t in c.term_ids())


class AnyOf(All):
    __slots__ = ()

    def holds(self, ev: Evidence) -> bool:
        for child in self.children:  # noqa: SIM110
            if child.holds(ev):
                return True
        return False

    def witness(self, ev: Evidence, out: list) -> None:
        for child in self.children:
            if child.holds(ev):
                child.witness(ev, out)


class NoneOf:
    __slots__ = ("child",)

    def __init__(self, child: Expr) -> None:
        self.child = child

    def holds(self, ev: Evidence) -> bool:
        return not self.child.holds(ev)

    def witness(self, ev: Evidence, out: list) -> None:
        """Leaves under NOT are never reported."""

    def leaves(self) -> list:
        return self.child.leaves()

    def term_ids(self) -> tuple[int, ...]:
        return self.child.term_ids()


Expr = Leaf | Near | All | AnyOf | NoneOf
