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
        ("رؤية ٢٠٣٠", ("رويه", "2030")),
        ("x²", ("x2",)),  # NFKC superscript
        # Latin letters Unicode does not decompose
        ("Cœur ŒUVRE", ("coeur", "oeuvre")),
        ("Kılıçdaroğlu Łódź Ærø", ("kilicdaroglu", "lodz", "aero")),
        # apostrophes of every kind separate words
        ("l‘énergie lʼénergie l＇énergie l`énergie", ("energie",) * 4),
        ("Seghrouchni’s", ("seghrouchni", "s")),
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


_HARAKAT = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670"  # tanwin, vowels, shadda, sukun, alef
_ARABIC_WORDS = ["السغروشني", "الوزيرة", "مركز", "البيانات", "المغرب", "الرقمي", "امل", "الفلاح"]


def test_arabic_diacritics_and_tatweel_never_change_the_words() -> None:
    rng = random.Random(17)
    for _ in range(300):
        words = rng.sample(_ARABIC_WORDS, rng.randint(1, 4))
        decorated = []
        for word in words:
            letters = []
            for letter in word:
                letters.append(letter)
                if rng.random() < 0.4:
                    letters.append(rng.choice(_HARAKAT))
                if rng.random() < 0.15:
                    letters.append("\u0640")  # tatweel
            decorated.append("".join(letters))
        text = rng.choice([" ", "، ", " - ", "\u00a0"]).join(decorated)
        assert normalize(text).words == [normalize_term(w)[0] for w in words], text


def test_latin_accents_and_case_never_change_the_words() -> None:
    rng = random.Random(19)
    accents = [
        "\u0301",
        "\u0300",
        "\u0302",
        "\u0308",
        "\u0327",
    ]  # acute, grave, circumflex, diaeresis, cedilla
    for _ in range(300):
        words = [
            "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9)))
            for _ in range(3)
        ]
        decorated = [
            "".join(ch + (rng.choice(accents) if rng.random() < 0.3 else "") for ch in w) for w in words
        ]
        text = " ".join(w.upper() if rng.random() < 0.3 else w for w in decorated)
        for form in ("NFC", "NFD"):
            assert normalize(unicodedata.normalize(form, text)).words == words, text


def test_separators_split_words() -> None:
    separators = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\u00a0", "\u202f", "\u2009",
                  "'", "\u2019", "/", "_", ".", "…", "·"]  # fmt: skip
    for sep in separators:
        assert normalize(f"data{sep}centre").words == ["data", "centre"], repr(sep)
