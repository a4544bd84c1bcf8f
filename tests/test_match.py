"""The topic matcher: whole words in English, French and Arabic, queries, excludes, fields, snippets."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable

import pytest

from monitor.config import TopicConfig
from monitor.match import Matcher, QueryError, TopicMatch
from monitor.match.highlight import make_snippet
from monitor.match.normalize import ARABIC_PROCLITICS, ARTICLE_PROCLITICS
from monitor.match.query import And, Field, Near, Not, Or, Term, parse

SEGHROUCHNI_TERMS = [
    "Amal El Fallah Seghrouchni",
    "Amal El Fallah-Seghrouchni",
    "Seghrouchni",
    "السغروشني",
    "أمل الفلاح السغروشني",
]
DATA_CENTRE_TERMS = [
    "data centre",
    "data center",
    "datacenter",
    "centre de données",
    "centres de données",
    "مركز البيانات",
    "مراكز البيانات",
]


def topic(name: str = "t", keywords=(), query: str | None = None, exclude=()) -> TopicConfig:
    return TopicConfig(name=name, keywords=list(keywords), query=query, exclude=list(exclude))


def match_one(keyword: str, text: str, title: str | None = None) -> TopicMatch | None:
    found = Matcher([topic(keywords=[keyword])]).match(title, text)
    assert len(found) <= 1
    return found[0] if found else None


# --------------------------------------------------------------------------- single keywords

POSITIVE = [
    # English: case, whole words, hyphens, NBSP
    ("Seghrouchni", "Minister Seghrouchni said on Monday"),
    ("Seghrouchni", "SEGHROUCHNI, the minister"),
    ("Seghrouchni", "Mrs. Seghrouchni's speech"),
    ("Amal El Fallah Seghrouchni", "said Amal El Fallah-Seghrouchni, minister"),
    ("Amal El Fallah Seghrouchni", "Amal El\u00a0Fallah – Seghrouchni"),
    ("Amal El Fallah-Seghrouchni", "Amal El Fallah Seghrouchni visited"),
    ("data centre", "a new data-centre in Tetouan"),
    ("data centre", "a new Data Centre in Tetouan"),
    ("data centre", "a new data\u00a0centre"),
    ("data centre", "a new data\u2011centre"),
    ("data center", "the largest data center in Africa"),
    ("datacenter", "Le datacenter de Benguérir"),
    # French: accents and elision
    ("centre de données", "un centre de donnees"),
    ("centre de donnees", "un centre de données"),
    ("centre de données", "UN CENTRE DE DONNÉES"),
    ("centres de données", "les centres de données marocains"),
    ("énergie", "la transition de l'énergie"),
    ("énergie", "prix d’énergie"),
    ("Énergie", "energie"),
    ("l'énergie", "énergie verte"),
    ("Benguérir", "à BENGUERIR"),
    # Arabic: diacritics, tatweel, proclitics, article
    ("السغروشني", "قالت الوزيرة السَّغروشني"),
    ("السغروشني", "قالت الوزيرة السـغروشني"),
    ("السغروشني", "صرح والسغروشني"),
    ("السغروشني", "رسالة للسغروشني"),
    ("السغروشني", "التقى بالسغروشني"),
    ("السغروشني", "فالسغروشني قالت"),
    ("سغروشني", "قالت السغروشني"),
    ("سغروشني", "والسغروشني"),
    ("أمل الفلاح السغروشني", "الوزيرة امل الفلاح السغروشني"),
    ("أمل الفلاح السغروشني", "الوزيرة أَمَل الفَلّاح السَّغروشني"),
    ("أمل الفلاح السغروشني", "وأمل الفلاح السغروشني"),
    ("مركز البيانات", "افتتاح مركز البيانات"),
    ("مركز البيانات", "افتتاح لمركز البيانات"),
    ("مركز البيانات", "ومركز البيانات الجديد"),
    ("مركز بيانات", "افتتاح مركز البيانات"),  # the text may add an article
    ("مراكز البيانات", "بمراكز البيانات"),
    # alef/hamza forms, taa marbuta, alef maqsura
    ("إبراهيم", "ابراهيم"),
    ("ابراهيم", "إبراهيم"),
    ("آمنة", "امنه"),
    ("مسؤول", "مسوول"),
    ("رئيس", "رييس"),
    ("مدرسة", "المدرسه"),
    ("مستشفى", "مستشفي"),
    ("ٱلله", "الله"),
    # short stems: exact word still matches
    ("من", "من هنا"),
    # digits
    ("2030", "رؤية ٢٠٣٠"),
]

NEGATIVE = [
    ("data centre", "a data-centred approach"),
    ("data centre", "centres of excellence and data"),
    ("data centre", "two data centres"),
    ("data center", "a datacenter"),
    ("datacenter", "a data center"),
    ("Seghrouchni", "the Seghrouchnis"),
    ("Seghrouchni", "ElSeghrouchni"),
    ("Amal El Fallah Seghrouchni", "Amal Seghrouchni"),
    ("centre de données", "centre de la donnée"),
    ("centres de données", "centre de données"),
    ("énergie", "énergies"),
    ("السغروشني", "مالسغروشني"),  # م is not a proclitic
    ("السغروشني", "قالت سغروشني"),  # the keyword's own article is never dropped
    ("السغروشني", "وسغروشني"),
    ("الخلفي", "وقع الحادث في شارع خلفي"),
    ("مركز البيانات", "افتتاح مركز بيانات"),
    ("السغروشني", "السغروشنيون"),
    ("مركز البيانات", "مركز تحليل البيانات"),
    ("مراكز البيانات", "مركز البيانات"),
    ("من", "ومن هنا"),  # proclitics are not stripped before a two-letter stem
    ("seghrouchni", ""),
]


@pytest.mark.parametrize(("keyword", "text"), POSITIVE)
def test_keyword_matches(keyword: str, text: str) -> None:
    found = match_one(keyword, text)
    assert found is not None, f"{keyword!r} should match {text!r}"
    assert found.terms == [keyword]
    assert found.fields == ["body"]


@pytest.mark.parametrize(("keyword", "text"), NEGATIVE)
def test_keyword_does_not_match(keyword: str, text: str) -> None:
    assert match_one(keyword, text) is None, f"{keyword!r} should not match {text!r}"


# --------------------------------------------------------------------------- property checks


def _strip_article(term: str) -> str:
    return term[2:] if term.startswith("ال") else term


@pytest.mark.parametrize("term", SEGHROUCHNI_TERMS + DATA_CENTRE_TERMS)
def test_real_terms_match_whole_words_only(term: str) -> None:
    arabic = term in ARABIC_TERMS
    for text in [term, f"x {term} y", f"«{term}»", f"({term}),", f"x\n{term}.\ny", term.upper()]:
        assert match_one(term, text) is not None, text
    glue = "مم" if arabic else "zz"
    for text in [f"{glue}{term}", f"{term}{glue}", f"x {term}{glue} y", f"x {glue}{term} y"]:
        assert match_one(term, text) is None, text


ARABIC_TERMS = [t for t in SEGHROUCHNI_TERMS + DATA_CENTRE_TERMS if not t.isascii() and "é" not in t]


@pytest.mark.parametrize("term", ARABIC_TERMS)
def test_arabic_terms_with_every_proclitic_and_diacritics(term: str) -> None:
    with_article = term.startswith("ال")
    for proclitic in sorted(ARABIC_PROCLITICS | {""}):
        text = f"قال {proclitic}{_strip_article(term)} اليوم"
        if with_article and proclitic not in ARTICLE_PROCLITICS:  # the keyword's article is kept
            assert match_one(term, text) is None, text
        else:
            assert match_one(term, text) is not None, text
    words = term.split()
    with_tatweel = " ".join(w[:2] + "ـ" + w[2:] for w in words)
    with_harakat = " ".join("َ".join(w) for w in words)
    for text in [with_tatweel, with_harakat]:
        assert match_one(term, text) is not None, text


FRENCH_TERMS = [
    "énergie",
    "centre de données",
    "ministère de la Transition numérique",
    "Benguérir",
    "élection",
]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


@pytest.mark.parametrize("term", FRENCH_TERMS)
def test_french_terms_with_and_without_accents_and_elision(term: str) -> None:
    rng = random.Random(term)
    for variant in [term, _strip_accents(term), term.upper(), _strip_accents(term).upper()]:
        for elision in ["", "l'", "d’", "L'", "qu'", "jusqu’"]:
            text = f"{rng.choice(['Selon', 'Et', 'À'])} {elision}{variant}, a-t-on appris."
            assert match_one(term, text) is not None, text
            assert match_one(_strip_accents(term), text) is not None, text
    for near_miss in [term + "s", "x" + term, term + "x"]:  # other words
        assert match_one(term, f"selon {near_miss} hier") is None, near_miss


def test_matches_do_not_depend_on_the_surrounding_text() -> None:
    """Every positive case still matches inside random surrounding words and punctuation."""
    rng = random.Random(23)
    filler = ["le", "the", "في", "و", "»", "—", "(", ")", ",", "2024", "مع", "l'", "news"]
    for keyword, text in POSITIVE:
        for _ in range(5):
            before = " ".join(rng.choice(filler) for _ in range(rng.randint(0, 6)))
            after = " ".join(rng.choice(filler) for _ in range(rng.randint(0, 6)))
            if before.endswith("l'"):
                before += " "
            assert match_one(keyword, f"{before} {text} {after}") is not None, (keyword, before, text, after)


# --------------------------------------------------------------------------- topics and queries


def test_title_and_body_are_reported_separately() -> None:
    m = Matcher([topic(keywords=["Seghrouchni"])])
    assert m.match("Seghrouchni in Paris", "nothing here")[0].fields == ["title"]
    assert m.match("In Paris", "Seghrouchni spoke")[0].fields == ["body"]
    assert m.match("Seghrouchni in Paris", "Seghrouchni spoke")[0].fields == ["title", "body"]
    assert m.match(None, None) == []
    assert m.match("", "") == []


def test_a_phrase_does_not_span_title_and_body() -> None:
    m = Matcher([topic(keywords=["data centre"])])
    assert m.match("Big data", "Centre of it all") == []


def test_multiple_topics_in_config_order() -> None:
    m = Matcher(
        [
            topic("Data centres", keywords=DATA_CENTRE_TERMS),
            topic("Seghrouchni", keywords=SEGHROUCHNI_TERMS),
            topic("Football", keywords=["football"]),
        ]
    )
    found = m.match(
        "Seghrouchni inaugure un datacenter",
        "La ministre Amal El Fallah-Seghrouchni a inauguré le centre de données de Benguérir. "
        "أمل الفلاح السغروشني تفتتح مركز البيانات",
    )
    assert [f.topic for f in found] == ["Data centres", "Seghrouchni"]
    assert found[0].terms == ["datacenter", "centre de données", "مركز البيانات"]
    assert found[1].terms == [
        "Seghrouchni",
        "Amal El Fallah Seghrouchni",
        "Amal El Fallah-Seghrouchni",
        "أمل الفلاح السغروشني",
        "السغروشني",
    ]
    assert found[1].fields == ["title", "body"]


def test_terms_are_deduplicated_in_order_of_first_hit() -> None:
    m = Matcher([topic(keywords=["Rabat", "Seghrouchni"], query="Seghrouchni OR Casablanca")])
    found = m.match(None, "Seghrouchni in Casablanca, then Rabat. Seghrouchni again.")
    assert found[0].terms == ["Seghrouchni", "Casablanca", "Rabat"]


def test_exclude_blocks_a_match_in_title_or_body() -> None:
    m = Matcher(
        [
            topic("Seghrouchni", keywords=["Seghrouchni"], exclude=["football", "Gaza"]),
            topic("Other", keywords=["Seghrouchni"]),
        ]
    )
    assert [f.topic for f in m.match(None, "Seghrouchni spoke")] == ["Seghrouchni", "Other"]
    assert [f.topic for f in m.match(None, "Seghrouchni and FOOTBALL")] == ["Other"]
    assert [f.topic for f in m.match("Gaza", "Seghrouchni spoke")] == ["Other"]
    assert [f.topic for f in m.match(None, "Seghrouchni in Gazala")] == ["Seghrouchni", "Other"]


def test_exclude_arabic_with_proclitic() -> None:
    m = Matcher([topic(keywords=["السغروشني"], exclude=["غزة"])])
    assert m.match(None, "السغروشني") != []
    assert m.match(None, "السغروشني وغزة") == []


QUERY_CASES = [
    ('"data centre" OR datacenter OR "centre de données"', "un centre de donnees", ["centre de données"]),
    ('"data centre" OR datacenter OR "centre de données"', "the datacenter", ["datacenter"]),
    ('"data centre" OR datacenter OR "centre de données"', "a data centre", ["data centre"]),
    ('"data centre" OR datacenter OR "centre de données"', "a data center", None),
    ('"data center" AND Morocco', "Morocco's first data center", ["Morocco", "data center"]),
    ('"data center" AND Morocco', "a data center in Spain", None),
    ('"data center" AND Morocco', "Morocco", None),
    # NOT, -term, +term
    ("Seghrouchni NOT football", "Seghrouchni spoke", ["Seghrouchni"]),
    ("Seghrouchni NOT football", "Seghrouchni at the football match", None),
    ("Seghrouchni AND NOT football", "Seghrouchni at the football match", None),
    ("Seghrouchni -football", "Seghrouchni spoke", ["Seghrouchni"]),
    ("Seghrouchni -football", "Seghrouchni at the FOOTBALL match", None),
    ('Seghrouchni -"coupe du monde"', "Seghrouchni et la coupe du monde", None),
    ('Seghrouchni -"coupe du monde"', "Seghrouchni et la coupe", ["Seghrouchni"]),
    ("+Seghrouchni minister", "Seghrouchni spoke", ["Seghrouchni"]),  # minister is optional
    ("+Seghrouchni minister", "the minister spoke", None),
    ("+Seghrouchni +minister", "Seghrouchni spoke", None),
    ("+Seghrouchni +minister", "minister Seghrouchni", ["minister", "Seghrouchni"]),
    # implicit operator: any of the plain terms (Lucene's default OR), none of the excluded ones
    ("Seghrouchni السغروشني", "قالت السغروشني", ["السغروشني"]),
    ("a b NOT c", "a", ["a"]),
    ("a b NOT c", "b", ["b"]),
    ("a b NOT c", "a c", None),  # (a OR b) AND NOT c
    ("a b NOT c", "b c", None),
    ("a b -c", "b c", None),
    (
        "(Seghrouchni OR السغروشني) AND (minister OR ministre)",
        "la ministre Seghrouchni",
        ["ministre", "Seghrouchni"],
    ),
    (
        "(Seghrouchni OR السغروشني) AND (minister OR ministre)",
        "Seghrouchni, ministre",
        ["Seghrouchni", "ministre"],
    ),
    ("(Seghrouchni OR السغروشني) AND (minister OR ministre)", "Seghrouchni", None),
    ("a OR b AND c", "a", ["a"]),  # AND binds tighter than OR
    ("a OR b AND c", "b", None),
    ("a OR b AND c", "c b", ["c", "b"]),  # terms in order of first hit
    ("(a b) NOT c", "a c", None),
    ("NOT c AND a", "a", ["a"]),
    ("a AND NOT (b AND c)", "a b", ["a"]),
    ("a AND NOT (b AND c)", "a b c", None),
    ('"not" OR "and"', "nothing and more", ["and"]),  # quoted, operator words are searched
    ("data-centre", "data centre", ["data-centre"]),
    ("l'énergie AND Maroc", "énergie au Maroc", ["l'énergie", "Maroc"]),
    # prefixes
    ("minist*", "the Minister said", ["minist*"]),
    ("minist*", "two ministers", ["minist*"]),
    ("minist*", "le ministère", ["minist*"]),
    ("minist*", "MINISTÈRE", ["minist*"]),
    ("minist*", "l'administration", None),  # a prefix starts a word
    ("minist*", "mini golf", None),
    ("data-cent*", "data centres and data centers", ["data-cent*"]),
    ("data-cent*", "centres of data", None),
    ("وزار*", "قالت الوزارة", ["وزار*"]),
    ("وزار*", "ووزارات", ["وزار*"]),
    ("وزار*", "موزارت", None),
    ("الوزير*", "الوزيرة", ["الوزير*"]),
    ("الوزير*", "وزيرة", None),  # the prefix's own article is kept, as for whole words
    ("الوزير*", "للوزيرة", ["الوزير*"]),
    ("وزير*", "الوزيرة", ["وزير*"]),
    ("Seghrouchni AND minist*", "Seghrouchni, ministre", ["Seghrouchni", "minist*"]),
    # escaped characters are searched as text
    ("a\\*", "a", ["a*"]),
]


@pytest.mark.parametrize(("query", "text", "terms"), QUERY_CASES)
def test_query(query: str, text: str, terms: list[str] | None) -> None:
    found = Matcher([topic(query=query)]).match(None, text)
    if terms is None:
        assert found == []
    else:
        assert len(found) == 1
        assert found[0].terms == terms


def test_keywords_or_query() -> None:
    m = Matcher([topic(keywords=["Seghrouchni"], query='"data centre" AND Morocco')])
    assert m.match(None, "Seghrouchni")[0].terms == ["Seghrouchni"]
    assert m.match(None, "data centre in Morocco")[0].terms == ["data centre", "Morocco"]
    assert m.match(None, "data centre") == []


def test_query_terms_may_be_in_title_and_body() -> None:
    found = Matcher([topic(query='"data center" AND Morocco')]).match("Morocco", "a new data center")
    assert found[0].fields == ["title", "body"]
    assert found[0].terms == ["Morocco", "data center"]


def test_keyword_and_exclude_prefixes() -> None:
    m = Matcher([topic(keywords=["Seghrouchni", "datacent*"], exclude=["foot*"])])
    assert m.match(None, "two datacentres")[0].terms == ["datacent*"]
    assert m.match(None, "Seghrouchni and footballers") == []
    assert m.match(None, "Seghrouchni on foot") == []
    assert m.match(None, "Seghrouchni at the barefoot festival")[0].terms == ["Seghrouchni"]


@pytest.mark.parametrize(
    ("query", "prefix"), [("mi*", "mi"), ("l'é*", "l'é"), ("مي*", "مي"), ("data-c*", "data-c")]
)
def test_a_prefix_needs_three_letters(query: str, prefix: str) -> None:
    with pytest.raises(QueryError, match="at least 3 letters") as info:
        Matcher([topic("Short", query=f"x OR {query}")])
    assert info.value.position == 5 and info.value.topic == "Short"
    with pytest.raises(QueryError, match="at least 3 letters"):
        Matcher([topic("Short", keywords=[query])])


# --------------------------------------------------------------------------- proximity

NEAR_CASES = [
    ('"seghrouchni minister"~5', "Minister Amal El Fallah Seghrouchni spoke", True),
    ('"seghrouchni minister"~5', "Seghrouchni, the digital transition minister", True),
    ('"seghrouchni minister"~5', "Seghrouchni met the press on Monday; later the minister", False),
    ('"a b"~2', "a x x b", True),
    ('"a b"~2', "b x x a", True),  # any order
    ('"a b"~2', "a x x x b", False),
    ('"a b"~2', "a x x x b x x a", True),  # the second a is close enough
    ('"a b"~0', "x a b x", True),
    ('"a b"~0', "x b a x", True),
    ('"a b"~0', "a x b", False),
    ('"a b c"~1', "c a x b", True),  # one other word among the three
    ('"a b c"~1', "a x c x b", False),
    ('"a b c"~1', "a b", False),
    ('"a a"~1', "a x a", True),  # a repeated word needs two occurrences
    ('"a a"~1', "a x x a", False),
    ('"a a"~1', "a", False),
    ('"data-centre Tanger"~4', "le data centre de la ville de Tanger", True),  # words: data centre tanger
    ('"data-centre Tanger"~3', "le data centre de la ville de Tanger", False),
    ('"data-centre Tanger"~4', "le centre de données de Tanger", False),
    ('"السغروشني الوزيرة"~3', "قالت الوزيرة أمل الفلاح والسَّغروشني", True),  # proclitics, diacritics
    ('"السغروشني الوزيرة"~1', "قالت الوزيرة أمل الفلاح والسغروشني", False),
    ('"l\'énergie Maroc"~2', "L'ENERGIE verte du Maroc", True),
    ('"Seghrouchni"~3', "Seghrouchni", True),  # one word: the word itself
]


@pytest.mark.parametrize(("query", "text", "matches"), NEAR_CASES)
def test_proximity(query: str, text: str, matches: bool) -> None:
    found = Matcher([topic(query=query)]).match(None, text)
    assert bool(found) is matches, (query, text)
    if matches:
        assert found[0].terms == [query]


def test_proximity_does_not_span_title_and_body() -> None:
    m = Matcher([topic(query='"seghrouchni minister"~5')])
    assert m.match("Seghrouchni", "the minister") == []
    assert m.match("Minister Seghrouchni", "nothing")[0].fields == ["title"]
    assert m.match("x", "words before. Seghrouchni and the minister")[0].snippet == (
        "words before. Seghrouchni and the minister"
    )


def test_proximity_distance_property() -> None:
    """For random gaps, "w1 w2"~d matches exactly when at most d words separate the two."""
    rng = random.Random(5)
    for _ in range(300):
        distance = rng.randint(0, 6)
        gap = rng.randint(0, 9)
        lead, trail = rng.randint(0, 5), rng.randint(0, 5)
        first, second = rng.sample(["seghrouchni", "minister"], 2)
        words = ["x"] * lead + [first] + ["y"] * gap + [second] + ["z"] * trail
        text = " ".join(w.upper() if rng.random() < 0.3 else w for w in words)
        found = Matcher([topic(query=f'"seghrouchni minister"~{distance}')]).match(None, text)
        assert bool(found) is (gap <= distance), (distance, text)


# --------------------------------------------------------------------------- fields


FIELD_CASES = [
    ("title:Seghrouchni", "Seghrouchni in Paris", "nothing", ["title"]),
    ("title:Seghrouchni", "In Paris", "Seghrouchni spoke", None),  # title: only looks at titles
    ("body:Seghrouchni", "Seghrouchni in Paris", "nothing", None),
    ("body:Seghrouchni", "Seghrouchni in Paris", "Seghrouchni spoke", ["body"]),
    ("Seghrouchni", "Seghrouchni in Paris", "Seghrouchni spoke", ["title", "body"]),
    ('title:"data centre"', "A data centre for Tangier", "x", ["title"]),
    ('title:("data centre" OR datacenter)', "Datacenter news", "a data centre", ["title"]),
    ("title:minist* AND body:Seghrouchni", "Ministers meet", "Seghrouchni spoke", ["title", "body"]),
    ("title:minist* AND body:Seghrouchni", "Seghrouchni meets", "the ministers spoke", None),
    ("Seghrouchni -title:football", "Football cup", "Seghrouchni attended", None),
    ("Seghrouchni -title:football", "Cup final", "Seghrouchni and football", ["body"]),
    ('title:"seghrouchni minister"~3', "Minister Seghrouchni", "x", ["title"]),
    ('title:"seghrouchni minister"~3', "Seghrouchni", "minister Seghrouchni", None),
    ("Title:Seghrouchni", "Seghrouchni", "x", ["title"]),  # field names ignore case
]


@pytest.mark.parametrize(("query", "title", "body", "fields"), FIELD_CASES)
def test_fields(query: str, title: str, body: str, fields: list[str] | None) -> None:
    found = Matcher([topic(query=query)]).match(title, body)
    if fields is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].fields == fields


def test_title_only_match_takes_its_snippet_from_the_title() -> None:
    m = Matcher([topic(query="title:Seghrouchni")])
    found = m.match("Seghrouchni in Paris", "A long body that also names Seghrouchni.")[0]
    assert found.snippet == "Seghrouchni in Paris"


# --------------------------------------------------------------------------- source and language filters


def test_sources_and_languages_filters() -> None:
    m = Matcher(
        [
            TopicConfig(name="Everywhere", keywords=["Seghrouchni"]),
            TopicConfig(name="Hespress only", keywords=["Seghrouchni"], sources=["Hespress", "Le360"]),
            TopicConfig(name="French", keywords=["Seghrouchni"], languages=["fr"]),
            TopicConfig(name="Arabic or English", keywords=["Seghrouchni"], languages=["ar", "EN"]),
        ]
    )

    def topics(**kwargs) -> list[str]:
        return [f.topic for f in m.match(None, "Seghrouchni", **kwargs)]

    every = ["Everywhere", "Hespress only", "French", "Arabic or English"]
    assert topics() == every  # nothing known: no filter drops the article
    assert topics(source="Hespress", language="fr") == ["Everywhere", "Hespress only", "French"]
    assert topics(source="MWN", language="en") == ["Everywhere", "Arabic or English"]
    assert topics(source="Le360", language="fr-FR") == ["Everywhere", "Hespress only", "French"]
    assert topics(source="Le360", language="FR_ca") == ["Everywhere", "Hespress only", "French"]
    assert topics(source="MWN", language="en-US") == ["Everywhere", "Arabic or English"]
    assert topics(source="MWN", language="de") == ["Everywhere"]
    assert topics(source="MWN", language=None) == ["Everywhere", "French", "Arabic or English"]
    assert topics(source="MWN", language="") == ["Everywhere", "French", "Arabic or English"]
    assert m.match(None, "nothing", source="Hespress", language="fr") == []


# --------------------------------------------------------------------------- the parser


def test_parse_tree() -> None:
    query = '"data centre" OR x AND NOT y'
    assert parse(query) == Or(
        (Term("data centre", 0, True), And((Term("x", query.index("x")), Not(Term("y", query.index("y"))))))
    )
    assert parse("a NOT b") == And((Term("a", 0), Not(Term("b", 6))))
    assert parse("a b") == Or((Term("a", 0), Term("b", 2)))
    assert parse("a b -c") == And((Or((Term("a", 0), Term("b", 2))), Not(Term("c", 5))))
    assert parse("+a b -c") == And((Term("a", 1), Not(Term("c", 6))))
    assert parse("minist*") == Term("minist", 0, prefix=True)
    assert parse('"a b"~3') == Near("a b", 3, 0)
    assert parse("title:(a OR b)") == Field("title", Or((Term("a", 7), Term("b", 12))))
    assert parse("body:x") == Field("body", Term("x", 5))


BAD_QUERIES = [
    ("", "empty", None),
    ("   ", "empty", None),
    ('"data centre', "unterminated quote", 0),
    ('x OR "data centre', "unterminated quote", 5),
    ("'data centre'", "double quotes", 0),
    ("a AND", "'AND' has no term after it", 2),
    ("a NOT", "'NOT' has no term after it", 2),
    ("AND a", "'AND' has no term before it", 0),
    ("a OR OR b", "'OR' must be followed by a term, not 'OR'", 5),
    ("(a OR b", "'(' is never closed", 0),
    ("((a) OR (b", "'(' is never closed", 8),
    ("a) OR b", "unexpected ')'", 1),
    ("()", "empty parentheses", 0),
    ("(a AND)", "'AND' has no term after it", 3),
    ('"" OR a', "empty phrase", 0),
    ("title:", "'title:' has no term after it", 0),
    # what the engine does not do is rejected, not searched as text
    ("da*ta", "only a trailing '*'", 2),
    ("d?ta", "only a trailing '*'", 1),
    ("*", "'*' alone", 0),
    ("x OR *", "'*' alone", 5),
    ('"minist* Seghrouchni"', "'*' inside quotes", 7),
    ("x OR minist*~2", "'~' (fuzzy) applies to a plain word", 5),
    ('"a b"~', "give the distance", 5),
    ('"a b"~1.5', "whole number", 5),
    ("x /seg.*ni/", "regular expressions", 2),
    ("x [a TO b]", "ranges", 2),
    ("x {a TO b}", "ranges", 2),
    ("x >2020", "ranges", 2),
    ("Seghrouchni^2", "boosts", 0),
    ("author:Seghrouchni", "unknown field 'author:'", 0),
    ("12:30", "unknown field '12:'", 0),
    ("title:(a OR body:b)", "body: inside title:", 12),
    ("a && b", "write AND instead of '&&'", 2),
    ("a || b", "write OR instead of '||'", 2),
    ("!a", "write NOT instead of '!'", 0),
    ("seghrouchni not football", "write the operator in capitals (NOT)", 12),
    ("seghrouchni or football", "write the operator in capitals (OR)", 12),
    ("a OR +b", "'+' inside OR", 5),
]


@pytest.mark.parametrize(("query", "problem", "position"), BAD_QUERIES)
def test_bad_query(query: str, problem: str, position: int | None) -> None:
    with pytest.raises(QueryError) as info:
        parse(query, "My topic")
    assert problem in info.value.problem
    assert info.value.position == position
    assert str(info.value).startswith(f"topic 'My topic': query {query!r}: ")
    if position is not None:
        assert str(info.value).endswith(f" at column {position + 1}")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("a AND", "no term after it"),
        ("NOT football", "none of its terms"),
        ("-football", "none of its terms"),
        ("-a -b", "none of its terms"),
        ("a OR NOT b", "none of its terms"),
        ("a OR -b", "none of its terms"),
        ('"—" OR a', "no letters or digits"),
        ('"— …"~2 OR a', "no letters or digits"),
        ("minist* OR mi*", "at least 3 letters"),
    ],
)
def test_matcher_raises_query_error_naming_the_topic(query: str, problem: str) -> None:
    with pytest.raises(QueryError, match="Data centres") as info:
        Matcher([topic("Fine", keywords=["x"]), topic("Data centres", query=query)])
    assert problem in str(info.value)
    assert info.value.topic == "Data centres" and info.value.query == query
    assert isinstance(info.value, ValueError)


def test_keyword_without_letters_is_an_error() -> None:
    with pytest.raises(QueryError, match="topic 'Punctuation': keyword '—'"):
        Matcher([topic("Punctuation", keywords=["—"])])
    with pytest.raises(QueryError, match="topic 'Punctuation': exclude term '…'"):
        Matcher([topic("Punctuation", keywords=["x"], exclude=["…"])])


# --------------------------------------------------------------------------- queries against a model

# Random queries over a small vocabulary, evaluated by the matcher and by a brute-force model of the
# documented semantics on random titles and bodies.
_VOCABULARY = ["alpha", "alphabet", "beta", "gamma", "delta"]


def _random_query(rng: random.Random, depth: int) -> tuple[str, Callable[[list[str], list[str]], bool]]:
    """A query string and the model's verdict on (title words, body words)."""
    if depth == 0 or rng.random() < 0.35:
        return _random_leaf(rng)
    kind = rng.choice(["AND", "OR", "NOT", "implicit"])
    (a, fa), (b, fb) = _random_query(rng, depth - 1), _random_query(rng, depth - 1)
    if kind == "AND":
        return f"({a} AND {b})", lambda t, x: fa(t, x) and fb(t, x)
    if kind == "OR":
        return f"({a} OR {b})", lambda t, x: fa(t, x) or fb(t, x)
    if kind == "NOT":
        return f"({a} NOT {b})", lambda t, x: fa(t, x) and not fb(t, x)
    c, fc = _random_leaf(rng)
    return f"({a} {b} -{c})", lambda t, x: (fa(t, x) or fb(t, x)) and not fc(t, x)


def _random_leaf(rng: random.Random) -> tuple[str, Callable[[list[str], list[str]], bool]]:
    field = rng.choice([None, None, "title", "body"])

    def where(title: list[str], body: list[str]) -> list[list[str]]:
        return {None: [title, body], "title": [title], "body": [body]}[field]

    kind = rng.choice(["word", "word", "prefix", "near"])
    if kind == "word":
        word = rng.choice(_VOCABULARY)
        text = word.upper() if rng.random() < 0.2 else word
        model = lambda t, x: any(word in words for words in where(t, x))  # noqa: E731
    elif kind == "prefix":
        stem = rng.choice(["alph", "alphab", "bet", "gam"])
        text = stem + "*"
        model = lambda t, x: any(w.startswith(stem) for words in where(t, x) for w in words)  # noqa: E731
    else:
        first, second = rng.sample(_VOCABULARY, 2)
        distance = rng.randint(0, 3)
        text = f'"{first} {second}"~{distance}'

        def model(t: list[str], x: list[str]) -> bool:
            for words in where(t, x):
                ones = [i for i, w in enumerate(words) if w == first]
                twos = [i for i, w in enumerate(words) if w == second]
                if any(abs(i - j) - 1 <= distance for i in ones for j in twos):
                    return True
            return False

    return (f"{field}:{text}" if field else text), model


def _random_words(rng: random.Random, most: int) -> list[str]:
    return [rng.choice([*_VOCABULARY, "x", "y"]) for _ in range(rng.randint(0, most))]


def test_random_queries_agree_with_the_model() -> None:
    rng = random.Random(3)
    checked = matched = 0
    for _ in range(400):
        query, model = _random_query(rng, 3)
        if model([], []):  # the engine must refuse a query that needs no term
            with pytest.raises(QueryError, match="none of its terms"):
                Matcher([topic(query=query)])
            continue
        matcher = Matcher([topic(query=query)])
        for _ in range(15):
            title, body = _random_words(rng, 4), _random_words(rng, 12)
            expected = model(title, body)
            found = matcher.match(" ".join(title), ", ".join(body))
            assert bool(found) is expected, (query, title, body)
            checked += 1
            matched += expected
    assert checked > 3000 and 0.1 < matched / checked < 0.9  # both outcomes are well exercised


# --------------------------------------------------------------------------- the keyword's own article

# Realistic Moroccan news sentences. The surname El Khalfi is written with its article (الخلفي);
# "خلفي" alone is the adjective "back" (شارع خلفي, a back street).
KHALFI_NAME = [
    "قال مصطفى الخلفي، الوزير السابق، إن الحكومة ستعرض المشروع على البرلمان الأسبوع المقبل.",
    "وجه فريق المعارضة سؤالا كتابيا للخلفي حول حصيلة القطاع خلال السنة الماضية.",
    "التقى رئيس الحكومة بالخلفي والعثماني في الرباط لمناقشة الاستعدادات.",
    "فالخلفي كان ناطقا رسميا باسم الحكومة بين 2012 و2017.",
    "حضر اللقاء كل من العثماني والخلفي والرميد.",
    "ونقلت مصادر مطلعة عن الخلفي تأكيده أن الملف سيحسم قريبا.",
]
KHALFI_ADJECTIVE = [
    "عثرت عناصر الشرطة على جثة الضحية في شارع خلفي بحي المعاريف بالدار البيضاء.",
    "تسلل اللصوص إلى المحل عبر مدخل خلفي قبل أن تلتقطهم كاميرات المراقبة.",
    "وقع الاصطدام بعدما صدمت شاحنة السيارة من جانب خلفي.",
]


@pytest.mark.parametrize("text", KHALFI_NAME)
def test_a_keyword_with_its_article_matches_it_with_any_proclitic(text: str) -> None:
    found = match_one("الخلفي", text)
    assert found is not None, text
    assert normalize_words(found.hits[0].found)[0].endswith("خلفي")


@pytest.mark.parametrize("text", KHALFI_ADJECTIVE)
def test_a_keyword_with_its_article_never_matches_without_it(text: str) -> None:
    assert match_one("الخلفي", text) is None, text
    assert match_one("خلفي", text) is not None, text  # without ال, the keyword matches both


@pytest.mark.parametrize("text", KHALFI_NAME)
def test_a_keyword_without_article_matches_with_or_without_it(text: str) -> None:
    assert match_one("خلفي", text) is not None, text


def test_the_article_rule_holds_in_queries_phrases_prefixes_and_excludes() -> None:
    centre = "أعلنت الوزارة عن بناء مركز بيانات جديد في بنجرير بشراكة مع القطاع الخاص."
    the_centre = "افتتحت الوزيرة أمل الفلاح السغروشني مركز البيانات الجديد بتطوان صباح اليوم."
    assert match_one("مركز البيانات", centre) is None  # the phrase's own article is kept
    assert match_one("مركز البيانات", the_centre) is not None
    assert match_one("مركز بيانات", the_centre) is not None  # the text may add one
    assert match_one("مركز بيانات", centre) is not None
    m = Matcher([topic(query="الخلفي AND الحكومة*")])
    assert m.match(None, KHALFI_NAME[0]) != []
    assert m.match(None, "قالت الحكومة إن الحادث وقع في شارع خلفي") == []
    m = Matcher([topic(keywords=["الحادث"], exclude=["الخلفي"])])  # an exclude term keeps its article too
    assert m.match(None, KHALFI_ADJECTIVE[0].replace("عثرت", "بعد الحادث عثرت")) != []
    assert m.match(None, "الحادث " + KHALFI_NAME[0]) == []
    assert match_one("أمل الفلاح السغروشني", "وأمل فلاح السغروشني") is None  # a later word keeps its ال


def normalize_words(text: str) -> list[str]:
    from monitor.match.normalize import normalize

    return normalize(text).words


# --------------------------------------------------------------------------- snippets


def test_snippet_is_cut_from_the_original_text() -> None:
    body = (
        "Rabat – " + "Le gouvernement a présenté sa stratégie numérique. " * 6 + "La ministre\n\n  Amal El "
        "Fallah-Seghrouchni a inauguré le centre de données de Benguérir, "
        "un investissement d’envergure. " + "D'autres projets suivront dans les régions. " * 6
    )
    found = Matcher([topic(keywords=["centre de donnees"])]).match("Titre", body)[0]
    assert "centre de données de Benguérir" in found.snippet
    assert "Amal El Fallah-Seghrouchni" in found.snippet  # whitespace collapsed, original spelling
    assert found.snippet.startswith("…") and found.snippet.endswith("…")
    assert 150 <= len(found.snippet) <= 205
    assert "  " not in found.snippet and "\n" not in found.snippet
    inner = found.snippet.strip("…")
    assert inner in " ".join(body.split())
    assert inner.split()[0] in body.split() and inner.split()[-1] in body.split()  # whole words


def test_snippet_keeps_arabic_diacritics_and_tatweel() -> None:
    body = "قالت الوزيرة والسَّـغروشني إن المشروع مهم"
    found = Matcher([topic(keywords=["السغروشني"])]).match(None, body)[0]
    assert found.snippet == body
    assert "والسَّـغروشني" in found.snippet


def test_snippet_prefers_the_body_then_the_title() -> None:
    m = Matcher([topic(keywords=["Seghrouchni"])])
    both = m.match("Seghrouchni in Paris", "Long body. Minister Seghrouchni spoke today.")[0]
    assert both.snippet == "Long body. Minister Seghrouchni spoke today."
    title_only = m.match("Seghrouchni in Paris", "Nothing to see.")[0]
    assert title_only.snippet == "Seghrouchni in Paris"


def test_snippet_of_a_query_never_centres_on_an_excluded_or_negated_term() -> None:
    m = Matcher([topic(query="Seghrouchni AND NOT (football AND Gaza)")])
    body = "football " * 60 + "Seghrouchni spoke. " + "More words here. " * 20
    found = m.match(None, body)[0]
    assert "Seghrouchni" in found.snippet
    assert found.terms == ["Seghrouchni"]


def test_make_snippet() -> None:
    assert make_snippet("short  text\nhere", 6, 10) == "short text here"
    text = " ".join(f"w{i}" for i in range(200))
    start = text.index("w100")
    out = make_snippet(text, start, start + 4, width=50)
    assert "w100" in out and out.startswith("…") and out.endswith("…")
    assert all(word.startswith("w") and word[1:].isdigit() for word in out.strip("…").split())
    assert make_snippet(text, 0, 2, width=20).startswith("w0 ")
