"""Highlights and snippets come from the matcher's own hits: the words that matched, where they are."""

from __future__ import annotations

import pytest

from monitor.config import TopicConfig
from monitor.match import Hit, Matcher, TopicMatch, labels
from monitor.match.highlight import Snippet
from monitor.match.normalize import normalize


def match(text: str, *, keywords=(), query: str | None = None, title: str | None = None) -> TopicMatch:
    found = Matcher([TopicConfig(name="t", keywords=list(keywords), query=query)]).match(title, text)
    assert len(found) == 1, found
    return found[0]


def marked(found: TopicMatch) -> list[str]:
    return [found.snippet[s:e] for s, e in found.highlights]


# Real sentences in the style of Moroccan Arabic news: the indefinite word comes first, the name
# later. The old highlighter (render.py re-matching the snippet with its own rules) marked both.
ALAMI = (
    "في إطار مشروع علمي طموح يمتد على ثلاث سنوات، قال رشيد الطالبي العلمي، رئيس مجلس النواب، إن "
    "المؤسسة التشريعية ستواكب الجامعات المغربية في تنزيل البرامج الجديدة."
)
KHALFI = (
    "أفادت مصادر محلية أن الحادث وقع مساء أمس في شارع خلفي بحي المعاريف بالدار البيضاء، فيما أكد "
    "مصطفى الخلفي، الوزير السابق والناطق الرسمي باسم الحكومة، أن التحقيق ما يزال جاريا."
)


@pytest.mark.parametrize(
    ("text", "keyword", "name", "other"),
    [(ALAMI, "العلمي", "العلمي،", "علمي"), (KHALFI, "الخلفي", "الخلفي،", "خلفي")],
)
def test_an_arabic_name_is_highlighted_not_an_earlier_word_that_looks_alike(text, keyword, name, other):
    found = match(text, keywords=[keyword])
    assert marked(found) == [keyword]  # the name, not the indefinite adjective before it
    (hit,) = found.hits
    assert (hit.field, hit.found) == ("body", keyword) and text[hit.start : hit.end] == keyword
    assert text.index(name) == hit.start and f" {other} " in found.snippet  # both are in the snippet


def test_hits_are_offsets_in_the_original_text():
    title = "La ministre  Amal El Fallah-Seghrouchni à Benguérir"
    body = "Rabat –\n\nLa MINISTRE a inauguré, hier, le centre\u00a0de données de Benguérir."
    found = match(body, title=title, keywords=["Amal El Fallah Seghrouchni", "centre de donnees"])
    assert [(h.term, h.field, h.found) for h in found.hits] == [
        ("Amal El Fallah Seghrouchni", "title", "Amal El Fallah-Seghrouchni"),
        ("centre de donnees", "body", "centre\u00a0de données"),
    ]
    for hit in found.hits:
        text = title if hit.field == "title" else body
        assert text[hit.start : hit.end] == hit.found


def test_the_snippet_is_centred_on_the_real_match():
    filler = "Le conseil de la ville a adopté le budget annuel après un long débat. "
    body = (
        "La data-centred approach du ministère. " + filler * 8 + "Le nouveau data centre ouvre. " + filler * 8
    )
    found = match(body, keywords=["data centre"])
    (start, end), text = found.highlights[0], found.snippet
    assert text[start:end] == "data centre"
    assert 0.25 < start / len(text) < 0.55  # the match sits near the middle, 2/5 of the room before
    assert "data-centred" not in text


@pytest.mark.parametrize(
    ("text", "spec", "expected"),
    [
        # French: accents, case and elision folded; "centre de la donnée" is not the term
        (
            "Le centre de la donnée publique est en ligne ; la ministre a inauguré le CENTRE DE DONNEES "
            "de Benguérir, puis l'autre centre de données de Tétouan.",
            {"keywords": ["centre de données"]},
            ["CENTRE DE DONNEES", "centre de données"],
        ),
        # English: whole words, hyphen as a space, every occurrence inside the snippet
        (
            "A data-centred approach: the data-centre in Tetouan is Morocco's second data centre.",
            {"keywords": ["data centre"]},
            ["data-centre", "data centre"],
        ),
        ("Ministers met at the ministry; mini golf later.", {"query": "minist*"}, ["Ministers", "ministry"]),
        (
            "Seghrouchni, the minister, said; another minister spoke later on a different subject today.",
            {"query": '"seghrouchni minister"~3'},
            ["Seghrouchni", "minister", "minister"],
        ),
        ("قالت والسغروشني إن المشروع مهم", {"keywords": ["السغروشني"]}, ["والسغروشني"]),
        # a negated or excluded term is never marked, even when it is in the snippet
        (
            "Seghrouchni spoke about football and Rabat.",
            {"query": "Seghrouchni AND NOT (football AND Gaza)"},
            ["Seghrouchni"],
        ),
    ],
)
def test_highlights_mark_exactly_what_matched(text, spec, expected):
    assert marked(match(text, **spec)) == expected


def test_highlights_follow_the_collapsed_whitespace_of_the_snippet():
    body = "La ministre\n\n   Amal El\u00a0Fallah –\tSeghrouchni a parlé."
    found = match(body, keywords=["Amal El Fallah Seghrouchni"])
    assert found.snippet == "La ministre Amal El Fallah – Seghrouchni a parlé."
    assert marked(found) == ["Amal El Fallah – Seghrouchni"]


def test_title_only_matches_highlight_the_title_snippet():
    found = match("Nothing here.", title="Seghrouchni in Paris", keywords=["Seghrouchni"])
    assert found.snippet == "Seghrouchni in Paris" and marked(found) == ["Seghrouchni"]


def test_long_texts_keep_every_highlight_inside_the_snippet():
    words = " ".join(f"mot{i}" for i in range(300))
    body = f"{words} Seghrouchni {words} Seghrouchni {words}"
    found = match(body, keywords=["Seghrouchni"])
    assert marked(found) == ["Seghrouchni"] and found.snippet.startswith("…")
    assert all(0 <= s < e <= len(found.snippet) for s, e in found.highlights)


def test_snippet_span_maps_and_clips():
    text = "one  two\nthree four five"
    snippet = Snippet(text, 5, 8, width=100)
    assert snippet.text == "one two three four five"
    assert snippet.span(5, 14) == (4, 13)  # "two three"
    assert snippet.span(3, 5) is None  # whitespace only
    cut = Snippet(" ".join(["w"] * 100) + " target " + " ".join(["w"] * 100), 200, 206, width=20)
    assert cut.text.startswith("…") and cut.span(200, 206) is not None
    assert cut.text[slice(*cut.span(200, 206))] == "target"
    assert cut.span(0, 1) is None


def test_labels_and_columns_round_trip():
    hit = Hit("Seghrouchni~1", "body", 4, 14, "Sghrouchni", approximate=True)
    exact = Hit("Rabat", "title", 0, 5, "RABAT")
    assert labels(["Seghrouchni~1", "Rabat"], [hit, exact]) == ["Sghrouchni ≈ Seghrouchni", "Rabat"]
    assert labels(["Seghrouchni~1"], [hit.to_json()]) == ["Sghrouchni ≈ Seghrouchni"]
    assert labels(["a", "a"], None) == ["a"]
    found = TopicMatch("t", ["Seghrouchni~1"], ["body"], "La Sghrouchni", [hit], [(3, 13)])
    assert found.columns() == {
        "terms": ["Seghrouchni~1"],
        "fields": ["body"],
        "snippet": "La Sghrouchni",
        "hits": [hit.to_json()],
        "highlights": [[3, 13]],
    }
    assert Hit.from_json(hit.to_json()) == hit


def test_highlighted_words_fold_to_the_terms_words():
    """Every highlight of a random Arabic/French/English mix is one of the term's words as written."""
    body = (
        "Selon le communiqué, la ministre Seghrouchni et le ministre délégué ont visité le centre de "
        "données. وقالت السغروشني إن مراكز البيانات ستتوسع، وأضافت للسغروشني مصادر أن المشروع مهم."
    )
    found = match(body, keywords=["Seghrouchni", "السغروشني", "centre de données"])
    for start, end in found.highlights:
        words = normalize(found.snippet[start:end]).words
        assert words in (["seghrouchni"], ["centre", "de", "donnees"]) or words[0].endswith("سغروشني")
    assert len(found.highlights) == 4


def test_snippet_text_and_offsets_agree_with_a_plain_collapse():
    """Random texts with every kind of whitespace: the snippet is the collapsed window, and every
    word's offsets map onto the same word in it."""
    import random
    import re

    rng = random.Random(9)
    spaces = [" ", "  ", "\n", "\n\n ", "\t", "\u00a0", " \u2003 "]
    for _ in range(300):
        words = [
            rng.choice(["mot", "Seghrouchni", "(centre)", "données,", "السغروشني", "x"]) for _ in range(80)
        ]
        text = rng.choice(["", " ", "\n"]) + "".join(w + rng.choice(spaces) for w in words)
        tokens = [m.span() for m in re.finditer(r"\S+", text)]
        start, end = rng.choice(tokens)
        snippet = Snippet(text, start, end, width=rng.choice([40, 120, 200]))
        lead = "…" if snippet.lo > 0 else ""
        tail = "…" if snippet.hi < len(text) else ""
        assert snippet.text == lead + " ".join(text[snippet.lo : snippet.hi].split()) + tail
        assert snippet.text[slice(*snippet.centre)] == text[start:end]
        for s, e in tokens:
            inside = snippet.span(s, e)
            if snippet.lo <= s and e <= snippet.hi:
                assert inside is not None and snippet.text[slice(*inside)] == text[s:e]
            elif e <= snippet.lo or s >= snippet.hi:
                assert inside is None


def test_key_hits_find_again_exactly_what_the_scan_found():
    """Highlights find a term's other hits from its keys: the same spans as the automaton's."""
    import random

    from monitor.match.article import Article
    from monitor.match.normalize import ARABIC_PROCLITICS
    from monitor.match.terms import key_hits

    terms = [
        "السغروشني",
        "سغروشني",
        "مركز البيانات",
        "مركز بيانات",
        "الوزير*",
        "minist*",
        "data centre",
        "x x",
    ]
    matcher = Matcher([TopicConfig(name="t", keywords=terms)])
    matcher._tracked = set(range(len(matcher._spec_of)))  # the scan keeps every span of every term
    matcher._automaton = matcher._build()
    rng = random.Random(4)
    pieces = ["السغروشني", "سغروشني", "مركز", "البيانات", "بيانات", "الوزيرة", "وزير", "ministers", "data"]
    pieces += ["centre", "x", "قال", *ARABIC_PROCLITICS]
    for _ in range(300):
        words = [rng.choice(pieces) + (rng.choice(pieces) if rng.random() < 0.2 else "") for _ in range(30)]
        article = Article(normalize(" ".join(words[:5])), normalize(" ".join(words[5:])))
        _, every = matcher._scan(article)
        for term_id in range(len(matcher._spec_of)):
            stream, keys = article.stream, matcher._keys_of(term_id)
            again = {span for key, mode in keys for span in key_hits(stream, key, mode, 0, len(stream))}
            assert sorted(again) == sorted(set(every.get(term_id, []))), (terms[term_id], words)
