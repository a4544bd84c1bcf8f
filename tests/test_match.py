"""The topic matcher: whole words in English, French and Arabic, queries, excludes, fields, snippets."""

from __future__ import annotations

import pytest

from monitor.config import TopicConfig
from monitor.match import Matcher, QueryError, TopicMatch
from monitor.match.engine import make_snippet
from monitor.match.normalize import ARABIC_PROCLITICS
from monitor.match.query import And, Not, Or, Term, parse

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
    ("السغروشني", "قالت سغروشني"),
    ("سغروشني", "قالت السغروشني"),
    ("سغروشني", "والسغروشني"),
    ("أمل الفلاح السغروشني", "الوزيرة امل الفلاح السغروشني"),
    ("أمل الفلاح السغروشني", "الوزيرة أَمَل الفَلّاح السَّغروشني"),
    ("أمل الفلاح السغروشني", "وأمل الفلاح السغروشني"),
    ("مركز البيانات", "افتتاح مركز البيانات"),
    ("مركز البيانات", "افتتاح لمركز البيانات"),
    ("مركز البيانات", "ومركز البيانات الجديد"),
    ("مركز البيانات", "افتتاح مركز بيانات"),
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
    for proclitic in sorted(ARABIC_PROCLITICS):
        text = f"قال {proclitic}{_strip_article(term)} اليوم"
        assert match_one(term, text) is not None, text
    words = term.split()
    with_tatweel = " ".join(w[:2] + "ـ" + w[2:] for w in words)
    with_harakat = " ".join("َ".join(w) for w in words)
    for text in [with_tatweel, with_harakat]:
        assert match_one(term, text) is not None, text


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
    ("Seghrouchni NOT football", "Seghrouchni spoke", ["Seghrouchni"]),
    ("Seghrouchni NOT football", "Seghrouchni at the football match", None),
    ("Seghrouchni AND NOT football", "Seghrouchni at the football match", None),
    ("Seghrouchni السغروشني", "قالت السغروشني", ["السغروشني"]),  # implicit OR
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
    ("a b NOT c", "a c", ["a"]),  # a OR (b AND NOT c)
    ("a b NOT c", "b c", None),
    ("(a b) NOT c", "a c", None),
    ("NOT c AND a", "a", ["a"]),
    ("a AND NOT (b AND c)", "a b", ["a"]),
    ("a AND NOT (b AND c)", "a b c", None),
    ("seghrouchni not football", "football", ["football"]),  # lower-case operators are words
    ("data-centre", "data centre", ["data-centre"]),
    ("l'énergie AND Maroc", "énergie au Maroc", ["l'énergie", "Maroc"]),
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


def test_parse_tree() -> None:
    query = '"data centre" OR x AND NOT y'
    assert parse(query) == Or(
        (Term("data centre", 0, True), And((Term("x", query.index("x")), Not(Term("y", query.index("y"))))))
    )
    assert parse("a NOT b") == And((Term("a", 0), Not(Term("b", 6))))
    assert parse("a b") == Or((Term("a", 0), Term("b", 2)))


BAD_QUERIES = [
    ("", "empty", None),
    ('"data centre', "unterminated quote", 0),
    ("a AND", "'AND' has no term after it", 2),
    ("AND a", "'AND' has no term before it", 0),
    ("a OR OR b", "must be followed by a term", 5),
    ("(a OR b", "never closed", 0),
    ("a) OR b", "unexpected ')'", 1),
    ("()", "empty parentheses", 0),
    ('"" OR a', "empty phrase", 0),
    ("data*", "wildcards", 0),
    ("title:Seghrouchni", "field", 0),
    ("Seghrouchni~2", "fuzzy", 0),
    ("a -football", "NOT", 2),
]


@pytest.mark.parametrize(("query", "problem", "position"), BAD_QUERIES)
def test_bad_query(query: str, problem: str, position: int | None) -> None:
    with pytest.raises(QueryError) as info:
        parse(query, "My topic")
    assert problem in info.value.problem
    assert info.value.position == position
    assert "My topic" in str(info.value) and repr(query) in str(info.value)
    if position is not None:
        assert f"column {position + 1}" in str(info.value)


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("a AND", "no term after it"),
        ("NOT football", "none of its terms"),
        ("a OR NOT b", "none of its terms"),
        ('"—" OR a', "no letters or digits"),
    ],
)
def test_matcher_raises_query_error_naming_the_topic(query: str, problem: str) -> None:
    with pytest.raises(QueryError, match="Data centres") as info:
        Matcher([topic("Fine", keywords=["x"]), topic("Data centres", query=query)])
    assert problem in str(info.value)
    assert isinstance(info.value, ValueError)


def test_keyword_without_letters_is_an_error() -> None:
    with pytest.raises(QueryError, match="topic 'Punctuation': keyword '—'"):
        Matcher([topic("Punctuation", keywords=["—"])])
    with pytest.raises(QueryError, match="topic 'Punctuation': exclude term '…'"):
        Matcher([topic("Punctuation", keywords=["x"], exclude=["…"])])


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
