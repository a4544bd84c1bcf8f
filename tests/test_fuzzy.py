"""Fuzzy terms (Lucene ``word~N``): transliterated names in their real spellings, and only them."""

from __future__ import annotations

import random

import pytest
from rapidfuzz.distance import DamerauLevenshtein

from monitor.config import TopicConfig
from monitor.match import Matcher, QueryError, TopicMatch
from monitor.match.terms import parse_term


def topic(keywords=(), query: str | None = None, exclude=(), name: str = "Seghrouchni") -> TopicConfig:
    return TopicConfig(name=name, keywords=list(keywords), query=query, exclude=list(exclude))


def one(text: str, *, title: str | None = None, **spec) -> TopicMatch | None:
    found = Matcher([topic(**spec)]).match(title, text)
    return found[0] if found else None


# Spellings from real French and English articles about the minister.
SPELLINGS = [
    "La ministre Amal El Fallah Seghrouchni a présenté la stratégie Maroc Digital 2030.",
    "Minister Amal El Fellah Seghrouchni met the delegation on Monday.",
    "Digital transition minister Aml Al-Fallah Sghrouchni said the plan would create jobs.",
    "La ministre Amal El-Fellah Seghrouchini a inauguré le centre de données.",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_a_fuzzy_name_phrase_matches_every_real_spelling(text: str) -> None:
    found = one(text, query='"El Fallah~1 Seghrouchni~1"')
    assert found is not None, text
    (hit,) = found.hits
    assert text[hit.start : hit.end] == hit.found and hit.found.split()[0] in ("El", "Al-Fallah", "El-Fellah")


@pytest.mark.parametrize(
    ("text", "found", "label"),
    [
        (SPELLINGS[0], "Seghrouchni", "Seghrouchni~1"),
        (SPELLINGS[2], "Sghrouchni", "Sghrouchni ≈ Seghrouchni"),
        (SPELLINGS[3], "Seghrouchini", "Seghrouchini ≈ Seghrouchni"),
        ("Le dossier Segrhouchni (sic) a été transmis.", "Segrhouchni", "Segrhouchni ≈ Seghrouchni"),  # swap
    ],
)
def test_a_fuzzy_word_records_the_spelling_found(text: str, found: str, label: str) -> None:
    match = one(text, keywords=["Seghrouchni~1"])
    assert match is not None
    assert match.terms == ["Seghrouchni~1"] and match.labels == [label]
    assert [h.found for h in match.hits] == [found]
    assert [match.snippet[s:e] for s, e in match.highlights] == [found]


def test_the_full_name_with_fuzzy_words_in_a_keyword() -> None:
    keyword = "Amal El Fallah~1 Seghrouchni~1"
    assert one(SPELLINGS[0], keywords=[keyword]).labels == [keyword]  # exact: no "≈"
    assert one(SPELLINGS[1], keywords=[keyword]).labels == [
        "Amal El Fellah Seghrouchni ≈ Amal El Fallah Seghrouchni"
    ]
    assert one(SPELLINGS[3], keywords=[keyword]).hits[0].found == "Amal El-Fellah Seghrouchini"
    # "Amal" has 4 letters, too short to be fuzzy: "Aml" is not "Amal" (the query above finds it)
    assert one(SPELLINGS[2], keywords=[keyword]) is None


@pytest.mark.parametrize(
    "text",
    [
        "Le ministre El Fallah a reçu Seghrouchni hier.",  # the words are not side by side
        "Amal Seghrouchni El Fallah",  # nor in order
        "La famille Fellah de Sghrouchini",  # a particle is needed where the phrase has one
        "Sghrouchini a parlé.",  # two edits for ~1
        "ElSeghrouchni",  # whole words: two edits
        "Seghrouchni",  # the first word alone
    ],
)
def test_a_fuzzy_phrase_needs_every_word_in_place(text: str) -> None:
    assert one(text, query='"El Fallah~1 Seghrouchni~1"') is None, text


def test_particles_are_interchangeable_only_in_fuzzy_phrases() -> None:
    assert one("Aml Al Fallah Sghrouchni", keywords=["El Fallah Seghrouchni~1"]) is not None
    assert one("Al Fallah", keywords=["El Fallah"]) is None  # an exact phrase stays exact
    assert one("Amal el-Fallah Seghrouchni", keywords=["Al Fallah~1"]) is not None


def test_distance_two_and_lucene_default() -> None:
    text = "Sghrouchini a parlé."  # a deletion and an insertion
    assert one(text, keywords=["Seghrouchni~1"]) is None
    assert one(text, keywords=["Seghrouchni~2"]).labels == ["Sghrouchini ≈ Seghrouchni"]
    assert one(text, keywords=["Seghrouchni~"]).labels == ["Sghrouchini ≈ Seghrouchni"]  # ~ is ~2
    assert one(text, query="Seghrouchni~") is not None


def test_fuzzy_terms_in_queries_fields_proximity_and_excludes() -> None:
    title, body = "Sghrouchni à Rabat", "La ministre a présenté la stratégie numérique."
    assert one(body, title=title, query="title:Seghrouchni~1 AND minist*").fields == ["title", "body"]
    assert one(body, title=title, query="body:Seghrouchni~1") is None
    assert one("Sghrouchni, la ministre, a parlé.", query='"Seghrouchni~1 ministre"~3') is not None
    assert one("Sghrouchni a parlé. " + "mot " * 10 + "ministre", query='"Seghrouchni~1 ministre"~3') is None
    assert one("Seghrouchni et Benkirane", keywords=["Seghrouchni"], exclude=["Benkiran~1"]) is None
    assert one("Seghrouchni et Benkirane", query="Seghrouchni NOT Benkiran~1") is None


def test_arabic_fuzzy_words_keep_the_clitic_rules() -> None:
    # a real variant spelling: ص for س; the text may carry a proclitic, the keyword keeps its article
    assert one("قالت الوزيرة الصغروشني إن", keywords=["السغروشني~1"]).labels == ["الصغروشني ≈ السغروشني"]
    assert one("التقى الوفد بالسغروشنى في الرباط", keywords=["السغروشني~1"]).labels == ["السغروشني~1"]
    assert one("التقى الوفد سغروشني", keywords=["السغروشني~1"]) is None  # two letters of its own lost


@pytest.mark.parametrize(
    ("written", "problem", "column"),
    [
        ("Amal~1", "a fuzzy word needs at least 5 letters ('Amal' has 4); write it without '~'", 1),
        (
            '"Amal~1 Seghrouchni~1"',
            "a fuzzy word needs at least 5 letters ('Amal' has 4); write it without '~'",
            2,
        ),
        ("x OR Seghrouchni~3", "the edit distance after '~' must be 1 or 2 (~ alone means 2), not '3'", 18),
        ("Seghrouchni~0.8", "the edit distance after '~' must be 1 or 2 (~ alone means 2), not '0.8'", 13),
        ("minist*~1", "'~' (fuzzy) applies to a plain word, without '*' or '?'", 1),
        ("El-Fal~1", "a fuzzy word needs at least 5 letters ('Fal' has 3); write it without '~'", 1),
    ],
)
def test_bad_fuzzy_queries_are_refused_at_load(written: str, problem: str, column: int) -> None:
    with pytest.raises(QueryError) as info:
        Matcher([topic(query=written)])
    assert str(info.value) == f"topic 'Seghrouchni': query {written!r}: {problem} at column {column}"


@pytest.mark.parametrize(
    ("keyword", "problem"),
    [
        ("Amal~2", "a fuzzy word needs at least 5 letters ('Amal' has 4)"),
        ("Seghrouchni~1*", "a term cannot be both a prefix ('*') and fuzzy ('~')"),
        ("~1", "'~' (fuzzy) needs a word right before it"),
    ],
)
def test_bad_fuzzy_keywords_are_refused_at_load(keyword: str, problem: str) -> None:
    with pytest.raises(QueryError) as info:
        Matcher([topic(keywords=[keyword])])
    assert str(info.value).startswith(f"topic 'Seghrouchni': keyword {keyword!r}: {problem}")


def test_parse_term() -> None:
    spec = parse_term("Amal El-Fallah~1 Seghrouchni~")
    assert spec.words == ("amal", "el", "fallah", "seghrouchni") and spec.edits == (0, 0, 1, 2)
    assert parse_term("Seghrouchni").edits == () and not parse_term("Seghrouchni").fuzzy


def test_fuzzy_words_agree_with_brute_force() -> None:
    """Random words from a small alphabet: the index finds exactly the words within distance."""
    rng = random.Random(15)
    alphabet = "aelnrs"

    def word(low: int, high: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))

    terms = [(word(5, 8), rng.choice([1, 2])) for _ in range(40)]
    topics = [topic(keywords=[f"{w}~{d}"], name=f"t{i}") for i, (w, d) in enumerate(terms)]
    matcher = Matcher(topics)
    checked = 0
    for _ in range(150):
        words = [word(2, 10) for _ in range(12)]
        found = {m.topic for m in matcher.match(None, " ".join(words))}
        expected = {
            f"t{i}"
            for i, (w, d) in enumerate(terms)
            if any(DamerauLevenshtein.distance(w, x) <= d for x in words)
        }
        assert found == expected, words
        checked += len(expected)
    assert checked > 100  # both outcomes are well exercised


def test_the_word_cache_gives_the_same_answers() -> None:
    matcher = Matcher([topic(keywords=["Seghrouchni~1"])])
    first = [bool(matcher.match(None, text)) for text in SPELLINGS]
    assert first == [bool(matcher.match(None, text)) for text in SPELLINGS] == [True, True, True, True]


def test_check_query_gives_the_config_loader_its_message() -> None:
    from monitor.match import check_query

    assert check_query('"El Fallah~1 Seghrouchni~1" AND minist*') is None
    assert check_query("Amal~1", topic="T") == (
        "topic 'T': query 'Amal~1': a fuzzy word needs at least 5 letters ('Amal' has 4); "
        "write it without '~' at column 1"
    )
    assert check_query("NOT x").startswith("query 'NOT x': the query matches articles that contain none")
    assert check_query("Seghrouchni~1*", kind="keyword").startswith("keyword 'Seghrouchni~1*': a term cannot")
    assert check_query("—", kind="exclude term") == "exclude term '—': '—' has no letters or digits to match"
    assert check_query("Seghrouchni", kind="keyword") is None
