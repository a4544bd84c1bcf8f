"""One normaliser for article text and topic terms alike, with a way back to the original text.

``normalize(text)`` folds every character on its own (so positions can be mapped back):

- compatibility decomposition (NFKD, per character) then casefold: ligatures, full-width forms and
  Arabic presentation forms become plain letters; for matching this is NFKC + casefold;
- combining marks are stripped (Latin accents, Arabic harakat, tanwin, shadda, sukun, superscript
  alef, hamza above/below, Hebrew points), except nukta, kana voicing marks and virama, which change
  letters rather than decorate them; invisible format characters (soft hyphen, ZWJ/ZWNJ, bidi marks)
  vanish;
- Arabic letter variants are unified: alef forms (أ إ آ ٱ) → ا, ؤ → و, ئ → ي, ة → ه, ى/ی → ي,
  ک → ك, and tatweel (ـ) vanishes; Latin letters without a decomposition are spelled out
  (œ → oe, æ → ae, ø → o, ł → l, đ ð → d, ı → i);
- every decimal digit (Arabic-Indic, Persian …) becomes an ASCII digit;
- apostrophes of every kind become ``'``; any other character that is not a letter, mark or digit
  (punctuation, hyphens, dashes, NBSP, symbols) becomes a space.

The folded text is then split into words on spaces and apostrophes; a French elided article
(``l' d' j' m' n' s' t' c' qu' jusqu' lorsqu' puisqu' quoiqu'``) directly before a word is dropped,
so "l'énergie" gives the single word ``energie``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from itertools import accumulate

__all__ = [
    "ARABIC_ARTICLE",
    "ARABIC_PROCLITICS",
    "ARTICLE_PROCLITICS",
    "MIN_ARABIC_STEM",
    "Normalized",
    "fold",
    "is_arabic",
    "normalize",
    "normalize_term",
]

_APOSTROPHES = frozenset("'\u2019\u2018\u201b\u02bc\u02bb\u02b9\u0060\u00b4\u2032\uff07")
_LETTER_FOLD = {
    "\u0671": "\u0627",  # ٱ alef wasla
    "\u0672": "\u0627",  # ٲ alef with wavy hamza above
    "\u0673": "\u0627",  # ٳ alef with wavy hamza below
    "\u0674": "",  # ٴ high hamza (from the decomposition of ٵ ٶ ٷ ٸ)
    "\u0629": "\u0647",  # ة taa marbuta → ه
    "\u0649": "\u064a",  # ى alef maqsura → ي
    "\u06cc": "\u064a",  # ی farsi yeh → ي
    "\u06a9": "\u0643",  # ک keheh → ك
    "\u06d5": "\u0647",  # ە ae (from ۀ) → ه
    "\u0640": "",  # ـ tatweel
    # Latin letters that Unicode does not decompose but writers replace by plain ones.
    "\u0153": "oe",  # œ (cœur = coeur)
    "\u00e6": "ae",  # æ
    "\u00f8": "o",  # ø
    "\u0142": "l",  # ł
    "\u0111": "d",  # đ
    "\u00f0": "d",  # ð
    "\u0131": "i",  # ı dotless i
}
# Combining classes of marks that are part of the letter, not a diacritic: nukta, kana voicing, virama.
_KEPT_COMBINING = frozenset({7, 8, 9})
_IGNORABLE_MARKS = re.compile(r"[\u034f\u180b-\u180d\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def _fold_char(ch: str) -> str:
    """The folded form of one character: letters, kept marks, ASCII digits, ``'`` or a space."""
    if ch in _APOSTROPHES:
        return "'"
    out = []
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).casefold())
    for d in decomposed:
        if d in _LETTER_FOLD:
            out.append(_LETTER_FOLD[d])
            continue
        category = unicodedata.category(d)
        kind = category[0]
        if kind == "L":
            out.append(d)
        elif kind == "M":
            combining = unicodedata.combining(d)
            if (combining == 0 or combining in _KEPT_COMBINING) and not _IGNORABLE_MARKS.match(d):
                out.append(d)
        elif category == "Nd":
            out.append(str(unicodedata.decimal(d)))
        elif kind == "N":
            out.append(d)
        elif category == "Cf":
            continue
        elif d in _APOSTROPHES:
            out.append("'")
        elif not out or out[-1] != " ":
            out.append(" ")
    return "".join(out)


class _FoldTable(dict):
    """``str.translate`` table that folds each code point on first sight and remembers it.

    It also knows the characters whose fold is not exactly one character long (accents, tatweel,
    ligatures …): a text without any of them maps offsets one to one.
    """

    def __init__(self) -> None:
        super().__init__()
        self._uneven: set[str] = set()
        self._uneven_re: re.Pattern[str] | None = None

    def __missing__(self, code: int) -> str:
        value = self[code] = _fold_char(chr(code))
        if len(value) != 1:
            self._uneven.add(chr(code))
            self._uneven_re = None
        return value

    def is_one_to_one(self, text: str) -> bool:
        """True when every character of ``text`` (already translated) folds to exactly one."""
        if self._uneven_re is None:
            chars = "".join(sorted(self._uneven))
            self._uneven_re = re.compile(f"[{re.escape(chars)}]" if chars else r"(?!)")
        return self._uneven_re.search(text) is None


_FOLD = _FoldTable()

_ELISIONS = frozenset({"c", "d", "j", "l", "m", "n", "s", "t", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu"})
_RUN = re.compile(r"[^ ]+")


def fold(text: str) -> str:
    """Fold every character of ``text`` (see the module docstring); words are not split yet."""
    return text.translate(_FOLD)


def _separate(folded: str) -> str:
    """``folded`` with elided articles and apostrophes blanked out: words are the runs of non-spaces."""
    if "'" not in folded:
        return folded
    parts = folded.split("'")
    for i in range(len(parts) - 1):
        part = parts[i]
        word = part[part.rfind(" ") + 1 :]
        if word in _ELISIONS and parts[i + 1][:1] not in ("", " "):
            parts[i] = part[: len(part) - len(word)] + " " * len(word)
    return " ".join(parts)


class Normalized:
    """A text with its folded form, its words, and each word's span in the original text."""

    __slots__ = ("original", "folded", "words", "_separated", "_ends", "_folded_runs")

    def __init__(self, original: str) -> None:
        self.original = original
        self.folded = fold(original)
        self._separated = _separate(self.folded)  # same length as folded
        self.words: list[str] = self._separated.split()
        self._ends: list[int] | None = None
        self._folded_runs: tuple[list[int], list[int]] | None = None

    def _fold_ends(self) -> list[int]:
        """``[i]``: end, in the folded text, of the fold of original character i; empty when every
        character folds to exactly one (offsets are then the same in both texts)."""
        if self._ends is None:
            if _FOLD.is_one_to_one(self.original):
                self._ends = []
            else:
                self._ends = list(accumulate(map(len, map(_FOLD.__getitem__, map(ord, self.original)))))
        return self._ends

    def original_offset(self, folded_pos: int) -> int:
        """Offset in the original text of the character whose fold produced ``folded[folded_pos]``."""
        ends = self._fold_ends()
        if not ends:
            return min(folded_pos, len(self.original))
        return bisect_right(ends, folded_pos)

    def _runs(self) -> tuple[list[int], list[int]]:
        """Start and end of every word in the FOLDED text (computed once)."""
        if self._folded_runs is None:
            runs = list(_RUN.finditer(self._separated))
            self._folded_runs = list(map(re.Match.start, runs)), list(map(re.Match.end, runs))
        return self._folded_runs

    def word_span(self, index: int) -> tuple[int, int]:
        """``(start, end)`` offsets in the ORIGINAL text of word ``index``."""
        starts, ends = self._folded_runs or self._runs()
        if not (self._ends if self._ends is not None else self._fold_ends()):
            return starts[index], ends[index]
        return self.original_offset(starts[index]), self.original_offset(ends[index] - 1) + 1

    def first_word_from(self, original_pos: int) -> int:
        """Index of the first word that starts at or after ``original_pos`` in the original text
        (``len(words)`` when none does)."""
        folds = self._fold_ends()
        if folds:  # the folded text's length before original character ``original_pos``
            original_pos = folds[min(original_pos, len(folds)) - 1] if original_pos > 0 else 0
        return bisect_left(self._runs()[0], original_pos)

    def spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` offsets in the ORIGINAL text of every word."""
        return [self.word_span(i) for i in range(len(self.words))]

    def tokens(self) -> list[tuple[str, int, int]]:
        """``(word, start, end)`` for each word, offsets in the original text."""
        return [(w, s, e) for w, (s, e) in zip(self.words, self.spans(), strict=True)]

    def __repr__(self) -> str:
        return f"Normalized({self.original[:40]!r}, words={self.words[:8]!r})"


def normalize(text: str) -> Normalized:
    """Fold ``text`` and split it into words (the same function is used for articles and terms)."""
    return Normalized(text)


def normalize_term(term: str) -> tuple[str, ...]:
    """The words of a topic term, normalised exactly like article text."""
    return tuple(_separate(fold(term)).split())


# --------------------------------------------------------------------------- Arabic proclitics

MIN_ARABIC_STEM = 3
"""A proclitic is only recognised before a stem of at least this many letters."""


ARABIC_ARTICLE = "ال"
_CONJUNCTIONS = ("", "و", "ف")
_WITH_ARTICLE = ("ال", "بال", "كال", "لل")  # لل is ل + ال (the article's alef is not written)


def _proclitics(particles: tuple[str, ...]) -> frozenset[str]:
    return frozenset(c + p for c in _CONJUNCTIONS for p in particles) - {""}


ARABIC_PROCLITICS = _proclitics(("", "ب", "ك", "ل", *_WITH_ARTICLE))
"""و ف ب ك ل ال and their combinations (وال بال لل فال كال وب ول وبال ولل …), already folded."""

ARTICLE_PROCLITICS = _proclitics(_WITH_ARTICLE)
"""The proclitics that end with the article ال: ال وال فال بال كال لل ولل فلل وبال …, so a term
written with its article (``الخلفي``) matches ``والخلفي`` or ``للخلفي`` but never ``خلفي``."""

_ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f\u08a0-\u08c9]")


def is_arabic(word: str) -> bool:
    """True when a (folded) word starts with an Arabic letter."""
    return bool(word) and _ARABIC_LETTER.match(word) is not None
