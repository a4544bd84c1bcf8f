"""The normaliser: folding rules, word splitting, and the way back to original offsets."""

from __future__ import annotations

import random
import unicodedata

import pytest

from monitor.match.normalize import (
    ARABIC_PROCLITICS,
    fold,
    is_arabic,
    normalize,
    normalize_term,
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # case and accents
        ("Énergie", ("energie",)),
        ("ÉNERGIE énergie Energie", ("energie", "energie", "energie")),
        ("centre de données", ("centre", "de", "donnees")),
        ("Straße", ("strasse",)),
        ("İstanbul", ("istanbul",)),
        ("e\u0301nergie", ("energie",)),  # decomposed accent
        ("ﬁnance", ("finance",)),  # ligature (NFKC)
        ("ＤＡＴＡ", ("data",)),  # full-width (NFKC)
        # separators: hyphens, dashes, NBSP, punctuation; invisible characters vanish
        ("Amal El Fallah-Seghrouchni", ("amal", "el", "fallah", "seghrouchni")),
        ("data\u2011centre", ("data", "centre")),  # non-breaking hyphen
        ("data\u00a0centre", ("data", "centre")),
        ("data\u202fcentre", ("data", "centre")),  # narrow NBSP
        ("data—centre–x", ("data", "centre", "x")),
        ("(data) «centre», [x]!", ("data", "centre", "x")),
        ("Seghro\u00aduchni", ("seghrouchni",)),  # soft hyphen
        ("a_b", ("a", "b")),
        # French elision, any apostrophe
        ("l'énergie", ("energie",)),
        ("l’Énergie", ("energie",)),
        ("d'Arabie qu'il s'en j'ai n'a c'est m'a t'as", ("arabie", "il", "en", "ai", "a", "est", "a", "as")),
        ("jusqu'au lorsqu'elle puisqu'on", ("au", "elle", "on")),
        ("aujourd'hui", ("aujourd", "hui")),  # not an elided article
        ("rock 'n' roll", ("rock", "n", "roll")),
        ("Morocco's", ("morocco", "s")),
        # Arabic: harakat, tanwin, shadda, sukun, superscript alef, tatweel
        ("السَّغروشني", ("السغروشني",)),
        ("السـغروشني", ("السغروشني",)),
        ("كتابٌ مُمْتازٌ", ("كتاب", "ممتاز")),
        ("هٰذا", ("هذا",)),
        # alef and hamza forms, taa marbuta, alef maqsura
        ("أمل إبراهيم آمنة ٱلله", ("امل", "ابراهيم", "امنه", "الله")),
        ("مسؤول رئيس", ("مسوول", "رييس")),
        ("مدرسة", ("مدرسه",)),
        ("مستشفى", ("مستشفي",)),
        ("ﻹسلام", ("لاسلام",)),  # presentation form
        ("فارسی کتاب", ("فارسي", "كتاب")),  # Persian yeh and keheh
        ("مراكز، البيانات؟", ("مراكز", "البيانات")),  # Arabic comma and question mark
        # digits
        ("٢٠٢٤ ۱۴۰۳ 2024", ("2024", "1403", "2024")),
    ],
)
def test_words(text: str, words: tuple[str, ...]) -> None:
    assert tuple(normalize(text).words) == words
    assert normalize_term(text) == words


def test_same_function_for_terms_and_text() -> None:
    for text in ["Amal El Fallah-Seghrouchni", "l'énergie", "السـغروشني", "centres de données"]:
        assert normalize_term(text) == tuple(normalize(text).words)


def test_spans_point_into_the_original_text() -> None:
    text = "Le  ministre d’État — Amal\u00a0EL FALLAH-Seghrouchni — a dit : l'énergie"
    tokens = normalize(text).tokens()
    assert [text[s:e] for _, s, e in tokens] == [
        "Le",
        "ministre",
        "État",
        "Amal",
        "EL",
        "FALLAH",
        "Seghrouchni",
        "a",
        "dit",
        "énergie",
    ]


def test_spans_with_expanding_and_vanishing_characters() -> None:
    text = "ﬁn Straße السَّـغروشني ﻹسلام x"
    n = normalize(text)
    assert n.words == ["fin", "strasse", "السغروشني", "لاسلام", "x"]
    assert [text[s:e] for s, e in n.spans()] == ["ﬁn", "Straße", "السَّـغروشني", "ﻹسلام", "x"]
    assert n.original_offset(n.folded.index("x")) == text.index("x")


def test_proclitics_and_arabic_detection() -> None:
    for p in ["و", "ف", "ب", "ك", "ل", "ال", "وال", "بال", "لل", "فال", "كال", "وب", "ول", "وبال", "ولل"]:
        assert p in ARABIC_PROCLITICS
    assert "" not in ARABIC_PROCLITICS
    assert "م" not in ARABIC_PROCLITICS
    assert is_arabic("السغروشني") and not is_arabic("seghrouchni") and not is_arabic("")


# --------------------------------------------------------------------------- property checks

_ALPHABET = (
    "abcdeéèÉàçßİ ﬁ  \u00a0\u2011-—'’.,;:()«»\n\t\u00adاأإآٱبتةثجحخدذرزسشصضطظعغفقكلمنهويىؤئء َُِّْـٰ،؟٠١٢0123"
)


def _random_texts(n: int = 300, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 60))) for _ in range(n)]


def test_each_word_folds_back_from_its_original_slice() -> None:
    for text in _random_texts():
        n = normalize(text)
        spans = n.spans()
        assert len(spans) == len(n.words)
        previous_end = 0
        for word, (start, end) in zip(n.words, spans, strict=True):
            assert previous_end <= start < end <= len(text)
            assert normalize_term(text[start:end]) == (word,), (text, word, text[start:end])
            previous_end = end


def test_words_do_not_depend_on_the_unicode_normal_form() -> None:
    for text in _random_texts(seed=11):
        expected = normalize(text).words
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            assert normalize(unicodedata.normalize(form, text)).words == expected, (form, text)


def test_normalising_is_idempotent() -> None:
    for text in _random_texts(seed=13):
        words = normalize_term(text)
        assert normalize_term(" ".join(words)) == words
        assert fold(fold(text)) == fold(text)
