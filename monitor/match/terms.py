"""A topic term as written → the normalised words to find, and the automaton keys that find them.

A term is a keyword, an exclude term or a query word/phrase. :func:`parse_term` reads it: its
words normalised like article text, a trailing ``*`` (prefix), and a fuzzy marker ``~1`` / ``~2`` /
``~`` (= 2, as in Lucene) after any word of at least :data:`MIN_FUZZY` letters. The marker applies
to the word right before it (in ``El-Fallah~1`` that is ``Fallah``).

Arabic clitics, one principle: the text side may carry clitics the term lacks; the term's own
letters are never dropped.

- The first word of a term may follow a proclitic in the text (و ف ب ك ل ال and their
  combinations, :data:`~monitor.match.normalize.ARABIC_PROCLITICS`): ``السغروشني`` matches
  ``والسغروشني``. A term written WITH its article keeps it: ``الخلفي`` (a surname) matches
  ``الخلفي``, ``والخلفي``, ``بالخلفي``, ``للخلفي`` (ل + ال), never ``خلفي`` ("back", as in
  ``شارع خلفي``). Its key is the stem without ال, and a hit needs a proclitic that ends with the
  article (:data:`~monitor.match.normalize.ARTICLE_PROCLITICS`). A term written without ال
  (``خلفي``) matches with or without it.
- The later words of an Arabic phrase may carry an article the term lacks (``مركز بيانات``
  matches ``مركز البيانات``), not lose one (``مركز البيانات`` does not match ``مركز بيانات``).
- A proclitic is only recognised before a stem of at least
  :data:`~monitor.match.normalize.MIN_ARABIC_STEM` letters.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import NamedTuple

from monitor.match.normalize import (
    ARABIC_ARTICLE,
    ARABIC_PROCLITICS,
    ARTICLE_PROCLITICS,
    MIN_ARABIC_STEM,
    is_arabic,
    normalize_term,
)

__all__ = [
    "ARTICLE",
    "CLITIC",
    "MAX_EDITS",
    "MIN_FUZZY",
    "MIN_PREFIX",
    "TermProblem",
    "TermSpec",
    "WORD_START",
    "automaton_keys",
    "key_hits",
    "parse_term",
    "same_word",
]

MIN_PREFIX = 3
"""A prefix term (``minist*``) needs at least this many letters before the ``*``."""
MIN_FUZZY = 5
"""A fuzzy word (``Seghrouchni~1``) needs at least this many letters (normalised)."""
MAX_EDITS = 2
"""The largest edit distance of a fuzzy word, as in Lucene."""
_MAX_PHRASE_VARIANTS = 64

# How an automaton key's left edge is checked (see :func:`automaton_keys`).
WORD_START = 0  # the key starts with a space: a whole word
CLITIC = 1  # an Arabic stem: at a word start or after any proclitic
ARTICLE = 2  # an Arabic stem whose article the term wrote: after a proclitic ending with ال


class TermProblem(ValueError):
    """Why a term cannot be used, and the offset in the written term it points at."""

    def __init__(self, problem: str, offset: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.offset = problem, offset


class TermSpec(NamedTuple):
    """What a term asks for: normalised words, a prefix last word, per-word edit distances.
    (A tuple of strings and ints: the garbage collector stops visiting it, which matters with
    tens of thousands of terms.)"""

    words: tuple[str, ...]
    prefix: bool = False
    edits: tuple[int, ...] = ()  # one per word when the term has a fuzzy word, else empty

    @property
    def fuzzy(self) -> bool:
        return bool(self.edits)


_TOKEN = re.compile(r"\S+")
_MARK = re.compile(r"~([\d.]*)$")


def _edits(degree: str, offset: int) -> int:
    if degree == "":
        return MAX_EDITS
    if degree in ("1", "2"):
        return int(degree)
    raise TermProblem(
        f"the edit distance after '~' must be 1 or 2 (~ alone means {MAX_EDITS}), not {degree!r}", offset
    )


def _marked_words(written: str) -> tuple[list[str], list[int]]:
    """The words of a term with fuzzy markers, and each word's edit distance (0: exact)."""
    words: list[str] = []
    edits: list[int] = []
    for token in _TOKEN.finditer(written):
        text, edit = token.group(), 0
        mark = _MARK.search(text)
        if mark is not None:
            edit = _edits(mark.group(1), token.start() + mark.start() + 1)
            text = text[: mark.start()]
        found = normalize_term(text)
        if edit:
            if not found:
                raise TermProblem("'~' (fuzzy) needs a word right before it", token.start() + len(text))
            if len(found[-1]) < MIN_FUZZY:
                raise TermProblem(
                    f"a fuzzy word needs at least {MIN_FUZZY} letters ({text.split('-')[-1]!r} has "
                    f"{len(found[-1])}); write it without '~'",
                    token.start(),
                )
        words += found
        edits += [0] * (len(found) - 1) + [edit] if found else []
    return words, edits


def parse_term(written: str, *, prefix: bool = False) -> TermSpec:
    """The words of ``written`` (without its ``*``; ``prefix`` says it had one) and their fuzzy
    edit distances. Raises :class:`TermProblem` for a term that cannot match as intended."""
    words, edits = _marked_words(written) if "~" in written else (normalize_term(written), ())
    if not words:
        raise TermProblem(f"{written!r} has no letters or digits to match")
    fuzzy = any(edits)
    if prefix and fuzzy:
        raise TermProblem("a term cannot be both a prefix ('*') and fuzzy ('~')")
    if prefix and len(words[-1]) < MIN_PREFIX:
        raise TermProblem(f"a prefix needs at least {MIN_PREFIX} letters before '*' ({written}*)")
    return TermSpec(tuple(words), prefix, tuple(edits) if fuzzy else ())


# --------------------------------------------------------------------------- Arabic clitics


def _lead(word: str) -> tuple[str, int]:
    """The first word of a term as an automaton sees it: its key part and how its left edge is
    checked (see the module docstring)."""
    if not is_arabic(word):
        return word, WORD_START
    if word.startswith(ARABIC_ARTICLE) and len(word) - 2 >= MIN_ARABIC_STEM:
        return word[2:], ARTICLE  # the article comes back as (the end of) a proclitic
    if len(word) >= MIN_ARABIC_STEM:
        return word, CLITIC
    return word, WORD_START


def _later_variants(word: str) -> list[str]:
    """A later word of a phrase, and with the article the text may add (never without its own)."""
    if is_arabic(word) and not word.startswith(ARABIC_ARTICLE) and len(word) >= MIN_ARABIC_STEM:
        return [word, ARABIC_ARTICLE + word]
    return [word]


def clitic_allowed(clitic: str, mode: int) -> bool:
    """Whether ``clitic`` (the text before a key's stem, within its word) passes ``mode``."""
    if mode == ARTICLE:
        return clitic in ARTICLE_PROCLITICS
    return clitic == "" or (mode == CLITIC and clitic in ARABIC_PROCLITICS)


def automaton_keys(spec: TermSpec) -> list[tuple[str, int]]:
    """Automaton keys for an exact term, each with how its left edge is checked.

    Keys are words joined by single spaces; a whole-word key has a space on each side (a prefix
    key none after its last word); an Arabic key has no leading space: the scanner checks the text
    before it against the mode.
    """
    first, mode = _lead(spec.words[0])
    variants = [_later_variants(w) for w in spec.words[1:]]
    if math.prod(len(v) for v in variants) > _MAX_PHRASE_VARIANTS:
        variants = [[w] for w in spec.words[1:]]
    lead = " " if mode == WORD_START else ""
    trail = "" if spec.prefix else " "
    return [(lead + " ".join((first, *combo)) + trail, mode) for combo in itertools.product(*variants)]


def same_word(text: str, term: str, *, first: bool) -> bool:
    """One text word against one exact term word, by the rules of :func:`automaton_keys`
    (used to confirm the exact words of a fuzzy phrase)."""
    if text == term:
        return True
    if not is_arabic(term):
        return False
    if not first:
        return text in _later_variants(term)
    stem, mode = _lead(term)
    return mode != WORD_START and text.endswith(stem) and clitic_allowed(text[: len(text) - len(stem)], mode)


def key_hits(stream: str, key: str, mode: int, low: int, high: int) -> list[tuple[int, int]]:
    """The spans of the words ``key`` finds in ``stream`` (words joined by single spaces) that
    start in ``[low, high)``: the automaton's hits of that key, by the same edge rules, found
    again with ``str.find`` in a part of the stream."""
    found = []
    pos = stream.find(key, max(low - 1, 0))
    while 0 <= pos < high:
        start = pos + 1 if mode == WORD_START else stream.rfind(" ", 0, pos) + 1
        if mode == WORD_START or clitic_allowed(stream[start:pos], mode):
            end = pos + len(key) - 1 if key.endswith(" ") else stream.find(" ", pos + len(key))
            if low <= start < high:
                found.append((start, end))
        pos = stream.find(key, pos + 1)
    return found
