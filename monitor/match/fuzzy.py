"""Fuzzy terms (``Seghrouchni~1``): Damerau-Levenshtein distance on normalised words, found
through a deletion-neighbourhood index (as SymSpell does), never by comparing every word of an
article with every fuzzy term.

Index: each fuzzy term has an ANCHOR, its longest fuzzy word; the anchor is indexed under every
string obtained by deleting up to its edit distance letters. Two words within Damerau distance d
share such a string (each edit costs at most one deletion on each side), so the deletions of a text
word (up to the largest distance in the index) reach every candidate anchor, and rapidfuzz confirms
the distance. An Arabic text word is also looked up without a proclitic (the text side may carry
clitics the term lacks; the term's own letters count in the distance).

Per article, the set of its distinct words is compared with a bounded cache of words already
looked up (set operations in C): only unseen words are looked up, so once a vocabulary has been
seen an article costs two set operations plus its actual fuzzy hits.

A phrase with fuzzy words (``"El Fallah~1 Seghrouchni~1"``) is confirmed around each anchor hit,
word by word: fuzzy words by their distance, exact words by the exact rules
(:func:`monitor.match.terms.same_word`), and the name particles ``el`` / ``al`` interchangeably
(hyphens are spaces already): "Aml Al-Fallah Sghrouchni" is "El Fallah~1 Seghrouchni~1".
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import DamerauLevenshtein

from monitor.match.article import Article
from monitor.match.expr import Span
from monitor.match.normalize import ARABIC_ARTICLE, ARABIC_PROCLITICS, MIN_ARABIC_STEM, is_arabic
from monitor.match.terms import MIN_FUZZY, TermSpec, same_word

__all__ = ["PARTICLES", "FuzzyIndex"]

PARTICLES = frozenset({"el", "al"})
"""Name particles that stand for each other inside a fuzzy phrase (El Fallah = Al-Fallah)."""
CACHE_WORDS = 200_000
"""Distinct text words remembered (looked up once) before the cache starts afresh."""


@dataclass(frozen=True, slots=True)
class _Entry:
    term_id: int
    words: tuple[str, ...]
    edits: tuple[int, ...]
    anchor: int  # index of the anchor word


class _Seen:
    """Text words already looked up, and the anchors those within reach matched."""

    __slots__ = ("words", "hits", "hit_words")

    def __init__(self) -> None:
        self.words: set[str] = set()
        self.hits: dict[str, list[tuple[int, int, str]]] = {}  # word -> (anchor, distance, clitic)
        self.hit_words: set[str] = set()


def _deletions(word: str, depth: int) -> set[str]:
    """``word`` and every string made by deleting up to ``depth`` of its letters."""
    found, layer = {word}, {word}
    for _ in range(depth):
        layer = {w[:i] + w[i + 1 :] for w in layer for i in range(len(w))}
        found |= layer
    return found


def _forms(word: str) -> list[tuple[str, str]]:
    """``(form, clitic)``: the word, and for Arabic the word without each proclitic it may carry."""
    forms = [(word, "")]
    if is_arabic(word):
        for clitic in ARABIC_PROCLITICS:
            if word.startswith(clitic) and len(word) - len(clitic) >= MIN_ARABIC_STEM:
                forms.append((word[len(clitic) :], clitic))
    return forms


def _distance(text: str, term: str, edits: int, *, first: bool) -> int | None:
    """The smallest distance between ``term`` and ``text`` (or ``text`` without a clitic allowed
    at its place in the phrase), if at most ``edits``."""
    best = None
    for form, clitic in _forms(text):
        if clitic and not (first or clitic == ARABIC_ARTICLE):
            continue
        if abs(len(form) - len(term)) <= edits:
            found = DamerauLevenshtein.distance(form, term, score_cutoff=edits)
            if found <= edits and (best is None or found < best):
                best = found
    return best


class FuzzyIndex:
    """Every fuzzy term of every topic; :meth:`find` adds their hits to an article's spans."""

    def __init__(self) -> None:
        self._anchor_ids: dict[tuple[str, int], int] = {}
        self._anchors: list[tuple[str, int]] = []  # anchor id -> (word, edits)
        self._entries: list[list[_Entry]] = []  # anchor id -> the terms it anchors
        self._deletions: dict[str, list[int]] = {}  # deletion string -> anchor ids
        self._depth = 0
        self._shortest = 0
        self._seen = _Seen()

    def __bool__(self) -> bool:
        return bool(self._anchors)

    def __len__(self) -> int:
        return len(self._deletions)

    def add(self, term_id: int, spec: TermSpec) -> None:
        anchor = max((i for i, e in enumerate(spec.edits) if e), key=lambda i: len(spec.words[i]))
        key = (spec.words[anchor], spec.edits[anchor])
        anchor_id = self._anchor_ids.get(key)
        if anchor_id is None:
            anchor_id = self._anchor_ids[key] = len(self._anchors)
            self._anchors.append(key)
            self._entries.append([])
            for deletion in _deletions(*key):
                self._deletions.setdefault(deletion, []).append(anchor_id)
            self._depth = max(self._depth, key[1])
            self._shortest = min(self._shortest or MIN_FUZZY, len(key[0]))
            self._seen = _Seen()  # earlier look-ups did not know this anchor
        self._entries[anchor_id].append(_Entry(term_id, spec.words, spec.edits, anchor))

    def _lookup(self, word: str) -> list[tuple[int, int, str]]:
        """``(anchor id, distance, clitic)`` of every anchor within reach of ``word``."""
        found = []
        for form, clitic in _forms(word):
            if len(form) < self._shortest - self._depth:
                continue
            candidates: set[int] = set()
            for deletion in _deletions(form, self._depth):
                ids = self._deletions.get(deletion)
                if ids is not None:
                    candidates.update(ids)
            for anchor_id in candidates:
                term, edits = self._anchors[anchor_id]
                if abs(len(form) - len(term)) <= edits:
                    distance = DamerauLevenshtein.distance(form, term, score_cutoff=edits)
                    if distance <= edits:
                        found.append((anchor_id, distance, clitic))
        return sorted(found, key=lambda f: f[1])  # the closest form first (see find)

    def find(
        self, article: Article, first: dict[int, list], every: dict[int, list[Span]]
    ) -> set[tuple[int, int]]:
        """Add every fuzzy term's hits to ``first`` (term id -> first title and body span) and
        ``every`` (term id -> every span, in order); return the ``(term id, start)`` of hits on
        another spelling than the term's."""
        seen = self._seen  # one object throughout, even if another thread starts a new cache
        if len(seen.words) > CACHE_WORDS:
            seen = self._seen = _Seen()
        words = article.unique_words()
        for word in words.difference(seen.words):
            found = self._lookup(word)
            if found:
                seen.hits[word] = found
                seen.hit_words.add(word)
        seen.words.update(words)
        approximate: set[tuple[int, int]] = set()
        added: set[tuple[int, Span]] = set()  # a word may reach one anchor by two forms
        for word in words.intersection(seen.hit_words):
            positions = article.positions(word)
            for anchor_id, distance, clitic in seen.hits[word]:
                for entry in self._entries[anchor_id]:
                    if clitic and entry.anchor > 0 and clitic != ARABIC_ARTICLE:
                        continue
                    for pos in positions:
                        found = self._confirm(entry, article, pos, distance)
                        if found is None:
                            continue
                        span, cost = found
                        if (entry.term_id, span) in added:
                            continue
                        added.add((entry.term_id, span))
                        every.setdefault(entry.term_id, []).append(span)
                        if cost:
                            approximate.add((entry.term_id, span[0]))
        for term_id in {term_id for term_id, _ in added}:
            spans = every[term_id]
            spans.sort()
            title = spans[0] if spans[0][0] < article.body_start else None
            first[term_id] = [title, next((s for s in spans if s[0] >= article.body_start), None)]
        return approximate

    @staticmethod
    def _confirm(entry: _Entry, article: Article, pos: int, distance: int) -> tuple[Span, int] | None:
        """The span and total cost of ``entry`` around its anchor word at stream ``pos``."""
        if len(entry.words) == 1:
            return (pos, article.stream.find(" ", pos)), distance
        words, starts = article.words, article.starts
        first = article.word_index(pos) - entry.anchor
        last = first + len(entry.words) - 1
        if first < 0 or last >= len(words) or (first < article.title_count <= last):
            return None  # off the edge, or across the title and the body
        cost = distance
        for j, term in enumerate(entry.words):
            if j == entry.anchor:
                continue
            text = words[first + j]
            if same_word(text, term, first=j == 0):
                continue
            if term in PARTICLES and text in PARTICLES:
                cost += 1
                continue
            found = _distance(text, term, entry.edits[j], first=j == 0) if entry.edits[j] else None
            if found is None:
                return None
            cost += found
        return (starts[first], starts[last] + len(words[last])), cost
