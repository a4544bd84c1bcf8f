"""Listing pages on realistic section fronts: heuristics, CSS selectors, charsets, non-HTML bodies;
the next page and the dates shown beside links."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from monitor.decode import decode_html
from monitor.sources.candidate import DiscoverError
from monitor.sources.links import selector_error
from monitor.sources.listing import listing_dates, next_page, parse_listing, read_listing
from tests.helpers import data_text

BASE = "https://www.atlas-news.ma/latest/"
HTML = {"content-type": "text/html; charset=utf-8"}
ARABIC_SLUG = "السغروشني-تطلق-برنامجا-جديدا-للتحول-الرقمي"

EXPECTED = [
    (
        "https://www.atlas-news.ma/2024/05/12/morocco-unveils-national-ai-strategy/",
        "Morocco unveils its national AI strategy",
    ),
    (
        "https://www.atlas-news.ma/economie/le-maroc-lance-un-fonds-souverain-pour-l-investissement",
        "Le Maroc lance un fonds souverain pour l'investissement",
    ),
    (
        "https://www.atlas-news.ma/%D8%A7%D9%84%D8%B3%D8%BA%D8%B1%D9%88%D8%B4%D9%86%D9%8A-%D8%AA%D8%B7%D9%84%D9%82-"
        "%D8%A8%D8%B1%D9%86%D8%A7%D9%85%D8%AC%D8%A7-%D8%AC%D8%AF%D9%8A%D8%AF%D8%A7-%D9%84%D9%84%D8%AA%D8%AD%D9%88%D9%84-"
        "%D8%A7%D9%84%D8%B1%D9%82%D9%85%D9%8A",
        "السغروشني تطلق برنامجا جديدا للتحول الرقمي",
    ),
    ("https://www.atlas-news.ma/news/184523", "Parliament approves the 2025 budget"),
    (
        "https://atlas-news.ma/2024/05/11/rabat-hosts-african-tech-summit.html",  # same site, no www
        "Rabat hosts the African tech summit",
    ),
]

LISTING = data_text("listing/atlas-latest.html")  # a section front: menus, teasers, sidebar, footer


def test_heuristics_keep_exactly_the_article_links_in_page_order():
    cands = parse_listing(LISTING.encode("utf-8"), HTML, BASE)
    assert [(c.url, c.title) for c in cands] == EXPECTED


def test_candidate_fetch_url_is_absolute_as_found():
    cands = parse_listing(LISTING.encode("utf-8"), HTML, BASE)
    by_url = {c.url: c for c in cands}
    first = by_url[EXPECTED[0][0]]
    assert first.fetch_url == "https://www.atlas-news.ma/2024/05/12/morocco-unveils-national-ai-strategy/"
    arabic = by_url[EXPECTED[2][0]]
    assert arabic.fetch_url == f"https://www.atlas-news.ma/{ARABIC_SLUG}"
    assert by_url[EXPECTED[4][0]].fetch_url.endswith("summit.html?utm_medium=web")
    assert all(c.guid is None and c.published is None for c in cands)


def test_selector_picks_only_its_links():
    cands = parse_listing(LISTING.encode("utf-8"), HTML, BASE, "article h2 a")
    assert [c.url for c in cands] == [url for url, _ in EXPECTED[:3]]


def test_selector_on_containers_takes_their_links():
    cands = parse_listing(LISTING.encode("utf-8"), HTML, BASE, "div.card")
    # social and mailto links inside the cards are dropped even in selector mode
    assert [c.url for c in cands] == [url for url, _ in EXPECTED[3:]]


def test_selector_keeps_links_heuristics_would_drop():
    cands = parse_listing(LISTING.encode("utf-8"), HTML, BASE, "aside .widget a, footer.site-footer a")
    assert [c.url for c in cands] == [
        "https://www.atlas-news.ma/2024/05/01/most-read-article-in-the-sidebar-widget/",
        "https://www.atlas-news.ma/about-us/",
        "https://www.atlas-news.ma/contact/",
        "https://www.atlas-news.ma/privacy-policy/",
        "https://www.atlas-news.ma/feed/",
        "https://www.atlas-news.ma/wp-login.php",
        "https://www.atlas-news.ma/2024/04/30/footer-promoted-story-should-not-count/",
    ]


def test_invalid_or_empty_selector_is_a_discover_error():
    with pytest.raises(DiscoverError, match="invalid CSS selector"):
        parse_listing(LISTING.encode("utf-8"), HTML, BASE, "div[[")
    with pytest.raises(DiscoverError, match="matched no links"):
        parse_listing(LISTING.encode("utf-8"), HTML, BASE, ".no-such-class a")
    assert selector_error("div[[") and selector_error("article h2 a") is None


def page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body><main><h1>News</h1>{body}</main></body></html>"


def test_relative_links_use_base_href():
    html = page(
        '<a href="2024/05/03/story-with-a-base-href-link/">Story with a base href</a>',
        head='<base href="https://www.atlas-news.ma/fr/">',
    )
    [cand] = parse_listing(html.encode(), HTML, BASE)
    assert cand.url == "https://www.atlas-news.ma/fr/2024/05/03/story-with-a-base-href-link/"


def test_other_sites_are_dropped_but_subdomains_kept():
    html = page(
        '<a href="https://fr.atlas-news.ma/2024/05/03/article-sur-le-sous-domaine/">Article du sous domaine</a>'
        '<a href="https://elsewhere.example/2024/05/03/another-site-article-here/">Another site entirely</a>'
    )
    cands = parse_listing(html.encode(), HTML, BASE)
    assert [c.url for c in cands] == ["https://fr.atlas-news.ma/2024/05/03/article-sur-le-sous-domaine/"]


def test_short_sections_and_anchor_text_rules():
    html = page(
        '<a href="/sport/">Sport</a>'
        '<a href="/sunday-talk-shows">Sunday talk shows</a>'  # a section slug, not an article
        '<a href="/2024/05/03/a-good-long-article-slug-for-testing/"><img src="x.jpg"></a>'  # no text
        '<a href="/2024/05/04/another-long-article-slug-for-testing/" title="Title attribute headline"></a>'
        '<a href="/world/123456">World news item with an id</a>'
        '<a href="/2024/05/05/">May 5 archive page</a>'
    )
    cands = parse_listing(html.encode(), HTML, BASE)
    assert [(c.url.rsplit("/", 2)[-2], c.title) for c in cands] == [
        ("another-long-article-slug-for-testing", "Title attribute headline"),
        ("world", "World news item with an id"),
    ]


def test_latin1_page_charset_from_header():
    html = page('<a href="/2024/05/03/energie-solaire-a-ouarzazate/">Énergie solaire à Ouarzazate</a>')
    [cand] = parse_listing(html.encode("iso-8859-1"), {"content-type": "text/html; charset=ISO-8859-1"}, BASE)
    assert cand.title == "Énergie solaire à Ouarzazate"


def test_charset_from_meta_and_utf8_default():
    html = page(
        '<a href="/2024/05/03/energie-solaire-a-ouarzazate/">Énergie solaire à Ouarzazate</a>',
        head='<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
    )
    [cand] = parse_listing(html.encode("cp1252"), {"content-type": "text/html"}, BASE)
    assert cand.title == "Énergie solaire à Ouarzazate"
    plain = page(f'<a href="/{ARABIC_SLUG}">السغروشني تطلق برنامجا</a>')
    [cand] = parse_listing(plain.encode("utf-8"), {}, BASE)
    assert cand.title == "السغروشني تطلق برنامجا"


def test_xml_declaration_in_xhtml_page_is_fine():
    html = '<?xml version="1.0" encoding="utf-8"?>\n' + page(
        '<a href="/2024/05/03/xhtml-pages-still-exist-somewhere/">XHTML pages still exist</a>'
    )
    [cand] = parse_listing(html.encode(), {"content-type": "application/xhtml+xml"}, BASE)
    assert cand.title == "XHTML pages still exist"


def test_a_utf8_listing_mislabelled_as_latin1_reads_as_its_article_pages_do():
    """One charset policy (monitor.decode) for listings and articles: valid UTF-8 wins over a
    wrong declaration, as in extraction."""
    html = page(f'<a href="/{ARABIC_SLUG}">السغروشني تطلق برنامجا</a>')
    headers = {"content-type": "text/html; charset=ISO-8859-1"}
    [cand] = parse_listing(html.encode("utf-8"), headers, BASE)
    assert cand.title == "السغروشني تطلق برنامجا"
    assert decode_html(html.encode("utf-8"), "ISO-8859-1") == html


def test_listing_next_links_in_other_languages_and_page_numbers():
    def doc(body: str):
        return lxml.html.document_fromstring(f"<html><body>{body}</body></html>")

    base = "https://example.org/section/"
    assert (
        next_page(doc('<a href="/p/9">9</a><a rel="next" href="/p/2">x</a>'), base, 1, set())
        == "https://example.org/p/2"
    )
    assert (
        next_page(doc('<a href="?page=3">3</a><a href="/ar/2">التالي</a>'), base, 1, set())
        == "https://example.org/ar/2"
    )
    assert next_page(doc('<a href="/s/page/5/">5</a><a href="/s/page/2/">2</a>'), base, 1, set()) == (
        "https://example.org/s/page/2/"
    )
    assert next_page(doc('<a href="/s/?paged=4">4</a>'), base, 3, set()) == "https://example.org/s/?paged=4"
    assert next_page(doc('<a href="/s/n">»</a>'), base, 1, set()) == "https://example.org/s/n"
    assert next_page(doc('<a href="/s/n">»</a>'), base, 1, {"https://example.org/s/n"}) is None
    assert next_page(doc('<a href="/about/">About us</a>'), base, 1, set()) is None
    assert (
        next_page(doc('<a href="/s/older">Next page »</a>'), base, 1, set()) == "https://example.org/s/older"
    )
    assert next_page(doc('<a href="/s/2" aria-label="Page suivante"><i></i></a>'), base, 1, set()) == (
        "https://example.org/s/2"
    )
    # "Newer" goes back; "»" (maybe the last page) loses to a link to page 2.
    page = '<a href="/s/new">Newer posts</a><a href="/s/page/9/">»</a><a href="/s/page/2/">2</a>'
    assert next_page(doc(page), base, 1, set()) == "https://example.org/s/page/2/"


def test_listing_dates_are_read_in_the_block_of_each_link_only():
    casablanca = ZoneInfo("Africa/Casablanca")
    html = page(
        '<article><a href="/news/first-story-of-the-day">First story of the day</a>'
        '<time datetime="2025-07-03T10:00">3 July</time></article>'
        '<article><a href="/news/second-story-of-the-day">Second story of the day</a>'
        '<span itemprop="datePublished" content="2025-07-01T08:00:00+00:00"></span></article>'
        '<div><a href="/news/undated-story-in-a-list">Undated story in a list</a>'
        '<a href="/news/another-undated-story-here">Another undated story here</a>'
        '<time datetime="2025-06-01">1 June</time></div>'
    )
    listing = read_listing(html.encode(), HTML, BASE)
    dates = listing_dates(listing.doc, listing.base, {c.url for c in listing.candidates}, casablanca)
    first = datetime(2025, 7, 3, 10, tzinfo=casablanca)  # naive: the source's timezone
    second = datetime(2025, 7, 1, 8, tzinfo=UTC)
    assert dates == {
        "https://www.atlas-news.ma/news/first-story-of-the-day": (first, first),
        "https://www.atlas-news.ma/news/second-story-of-the-day": (second, second),
    }  # the June date belongs to a block of two articles: neither gets it


@pytest.mark.parametrize(
    ("body", "headers", "why"),
    [
        (b"", HTML, "empty"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', {}, "RSS/Atom feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', {"content-type": "application/json"}, "JSON"),
        (b"%PDF-1.7 binary", {"content-type": "application/pdf"}, "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", {"content-type": "application/octet-stream"}, "no HTML markup"),
        (b"just some plain text, no markup at all", {"content-type": "text/plain"}, "no HTML markup"),
    ],
)
def test_not_html_raises_one_line_reason(body, headers, why):
    with pytest.raises(DiscoverError) as info:
        parse_listing(body, headers, BASE)
    message = str(info.value)
    assert message.startswith("not an HTML page: ") and "\n" not in message
    assert why in message


def test_page_without_articles_gives_nothing():
    assert parse_listing(page('<a href="/">Home</a>').encode(), HTML, BASE) == []
