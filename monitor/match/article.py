"""One article as the matcher scans it: the normalised title and body joined into one stream.

The stream is ``" title words \\n body words "``: words joined by single spaces, the newline
keeping phrases from spanning the two fields. Every position in it maps back to a word, and every
word to its span in the ORIGINAL title or body text, so hits can be reported, cut into a snippet
and highlighted exactly where they are.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from monitor.match.normalize import Normalized

__all__ = ["BODY", "TITLE", "Article", "Span"]

TITLE, BODY = 0, 1  # the fields of the stream
Span = tuple[int, int]  # start, end (exclusive) of a hit in the scanned stream


class Article:
    """The normalised title and body of one article, and the stream that is scanned."""

    __slots__ = ("fields", "stream", "body_start", "_starts", "_words")

    def __init__(self, title: Normalized, body: Normalized) -> None:
        self.fields = (title, body)
        title_words = " ".join(title.words)
        self.stream = f" {title_words} \n {' '.join(body.words)} "
        self.body_start = len(title_words) + 4  # stream index of the body's first word
        self._starts: list[int] | None = None
        self._words: list[str] | None = None

    # ---- words of the stream

    @property
    def words(self) -> list[str]:
        """Every word, title words first: index ``i`` is the word starting at ``starts[i]``."""
        if self._words is None:
            self._words = self.fields[TITLE].words + self.fields[BODY].words
        return self._words

    @property
    def title_count(self) -> int:
        return len(self.fields[TITLE].words)

    @property
    def starts(self) -> list[int]:
        """Stream position of each word's first letter."""
        if self._starts is None:
            title, body = self.fields[TITLE].words, self.fields[BODY].words
            # each word starts one space after the end of the previous one
            starts = list(accumulate(map((1).__add__, map(len, title)), initial=1))
            starts[-1:] = accumulate(map((1).__add__, map(len, body)), initial=self.body_start)
            del starts[-1]
            self._starts = starts
        return self._starts

    def word_index(self, stream_pos: int) -> int:
        """Index of the word at ``stream_pos`` (title words first, then body words)."""
        return bisect_right(self.starts, stream_pos) - 1

    def unique_words(self) -> set[str]:
        found = set(self.fields[TITLE].words)
        found.update(self.fields[BODY].words)
        return found

    def positions(self, word: str) -> list[int]:
        """Stream positions of every whole-word occurrence of ``word``."""
        key, found, pos = f" {word} ", [], self.stream.find(f" {word} ")
        while pos >= 0:
            found.append(pos + 1)
            pos = self.stream.find(key, pos + 1)
        return found

    # ---- back to the original text

    def field_of(self, stream_pos: int) -> int:
        return TITLE if stream_pos < self.body_start else BODY

    def original(self, span: Span) -> tuple[int, int, int]:
        """``(field, start, end)``: the words at ``span`` of the stream, in the original text of
        their field (whole words, from the first letter of the first to the last of the last)."""
        starts = self._starts if self._starts is not None else self.starts
        if span[0] < self.body_start:
            field, offset = TITLE, -1
        else:
            field, offset = BODY, -1 - len(self.fields[TITLE].words)
        text = self.fields[field]
        start = text.word_span(bisect_right(starts, span[0]) + offset)[0]
        return field, start, text.word_span(bisect_right(starts, span[1] - 1) + offset)[1]

    def stream_range(self, field: int, lo: int, hi: int) -> Span:
        """The stream positions of the words of ``field`` whose original spans start in ``[lo, hi)``."""
        text, offset = self.fields[field], 0 if field == TITLE else self.title_count
        stream_starts, field_end = self.starts, self.body_start if field == TITLE else len(self.stream)
        count = len(text.words)

        def at(index: int) -> int:
            return stream_starts[offset + index] if index < count else field_end

        return at(text.first_word_from(lo)), at(text.first_word_from(hi))
