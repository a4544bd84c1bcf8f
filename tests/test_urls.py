"""canonical_url: one spelling per article URL."""

from __future__ import annotations

import itertools
import random

import pytest

from monitor.urls import canonical_url, is_secret_param, is_tracking_param, redact_url

ARABIC_RAW = "https://www.hespress.com/السغروشني-تطلق-برنامج-123.html"
ARABIC_ENCODED = (
    "https://www.hespress.com/%D8%A7%D9%84%D8%B3%D8%BA%D8%B1%D9%88%D8%B4%D9%86%D9%8A-"
    "%D8%AA%D8%B7%D9%84%D9%82-%D8%A8%D8%B1%D9%86%D8%A7%D9%85%D8%AC-123.html"
)

CASES = [
    ("HTTP://WWW.Example.COM/News/Item", "http://www.example.com/News/Item"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a/", "https://example.com/a/"),
    ("https://example.com/a?", "https://example.com/a"),
    ("https://example.com/?p=123", "https://example.com/?p=123"),
    ("https://example.com/article.php?id=42&utm_source=rss", "https://example.com/article.php?id=42"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/%7Euser/%41bc", "https://example.com/~user/Abc"),
    ("https://example.com/a%2fb", "https://example.com/a%2Fb"),
    ("https://example.com/a b", "https://example.com/a%20b"),
    ("https://example.com/100%", "https://example.com/100%25"),
    ("https://BÜCHER.de/x", "https://xn--bcher-kva.de/x"),
    ("https://example.com./x", "https://example.com/x"),
    ("  https://example.com/x\n", "https://example.com/x"),
    ("mailto:press@example.org", "mailto:press@example.org"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_canonical_forms(raw, expected):
    assert canonical_url(raw) == expected


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/2024/05/story-slug", "https://news.example/2024/05/story-slug"),
        ("story-slug", "https://news.example/section/story-slug"),
        ("../other", "https://news.example/other"),
        ("//cdn.example/x", "https://cdn.example/x"),
        ("?page=2", "https://news.example/section/index.html?page=2"),
        ("https://else.example/x", "https://else.example/x"),
    ],
)
def test_relative_urls_are_joined_on_base(href, expected):
    assert canonical_url(href, "https://news.example/section/index.html") == expected


def test_arabic_slug_equal_raw_or_encoded_in_any_case():
    assert canonical_url(ARABIC_RAW) == canonical_url(ARABIC_ENCODED)
    assert canonical_url(ARABIC_ENCODED.lower()) == canonical_url(ARABIC_ENCODED)  # lower-case hex
    assert canonical_url(ARABIC_RAW) == ARABIC_ENCODED
    assert canonical_url(ARABIC_RAW).isascii()


TRACKING = [
    "utm_source=rss",
    "utm_medium=feed",
    "utm_campaign=Feed%3A+news",
    "UTM_Content=x",
    "fbclid=IwAR0abc",
    "gclid=abc",
    "dclid=1",
    "msclkid=2",
    "mc_cid=3",
    "mc_eid=4",
    "igshid=5",
    "yclid=6",
    "_ga=2.1.2.3",
    "ref_src=twsrc%5Etfw",
]
CLEAN = [
    "https://www.example.com/2024/05/01/morocco-launches-ai-strategy/",
    "https://www.example.com/news.php?p=123",
    "https://www.example.com/article?id=77&lang=fr",
    ARABIC_ENCODED,
]


@pytest.mark.parametrize("clean", CLEAN)
def test_tracking_variants_equal_the_clean_url(clean):
    rng = random.Random(clean)
    for _ in range(30):
        params = rng.sample(TRACKING, rng.randint(1, 4))
        sep = "&" if "?" in clean else "?"
        variant = clean + sep + "&".join(params)
        if rng.random() < 0.5:
            variant += "#section-" + str(rng.randint(1, 9))
        assert canonical_url(variant) == canonical_url(clean), variant


def test_meaningful_params_survive():
    assert canonical_url("https://ex.com/?p=123&utm_source=x") == "https://ex.com/?p=123"
    assert canonical_url("https://ex.com/a?id=5&ref=home") == "https://ex.com/a?id=5&ref=home"
    assert canonical_url("https://ex.com/a?q=a+b") == "https://ex.com/a?q=a+b"


def test_is_tracking_param():
    assert is_tracking_param("utm_term") and is_tracking_param("FBCLID") and is_tracking_param("pk_campaign")
    assert not is_tracking_param("p") and not is_tracking_param("id") and not is_tracking_param("page")


def test_idempotent_on_many_generated_urls():
    rng = random.Random(42)
    hosts = ["Example.COM", "news.example:443", "xn--bcher-kva.de", "[::1]:8080", "bücher.de"]
    paths = ["", "/", "/a/b/", "/a/./b/../c", "/%d8%a7%d9%84", "/ال-خبر", "/a%2Fb", "/x y", "/%7e", "/100%"]
    queries = ["", "?", "?p=1", "?utm_source=x&id=3", "?b=2&a=1&a=0", "?q=a+b&&x", "?k=%e2%82%ac"]
    frags = ["", "#top", "#"]
    for scheme, host, path, query, frag in itertools.product(["http", "HTTPS"], hosts, paths, queries, frags):
        if rng.random() < 0.7:
            continue
        url = f"{scheme}://{host}{path}{query}{frag}"
        once = canonical_url(url)
        assert canonical_url(once) == once, url
        assert "#" not in once and "utm_" not in once


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://feeduser:FeedS3cretPass@feeds.example.org/rss?apikey=abc123&page=2",
         "http://***@feeds.example.org/rss?apikey=***&page=2"),
        ("https://token@api.example.org/feed", "https://***@api.example.org/feed"),
        ("https://x.org/f?KEY=1&Api_Key=2&api-key=3&apiKey=4&TOKEN=5&access_token=6&accessToken=7",
         "https://x.org/f?KEY=***&Api_Key=***&api-key=***&apiKey=***&TOKEN=***&access_token=***&accessToken=***"),
        ("https://x.org/f?secret=1&client_secret=2&password=3&Passwd=4&pwd=5&sig=6&Signature=7&auth=8",
         "https://x.org/f?secret=***&client_secret=***&password=***&Passwd=***&pwd=***&sig=***&Signature=***&auth=***"),
        ("https://s3.example/o?X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-Security-Token=c&X-Amz-Expires=60",
         "https://s3.example/o?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***&X-Amz-Expires=60"),
        ("https://x.org/cb?state=1#access_token=abc&expires_in=3600",
         "https://x.org/cb?state=1#access_token=***&expires_in=3600"),
        ("https://x.org/a?key%5B0%5D=s;token=t", "https://x.org/a?key%5B0%5D=***;token=***"),
        ("http://u:p@[::1/x?token=1&a=2", "http://***@[::1/x?token=***&a=2"),  # unparseable: read as text
    ],
)  # fmt: skip
def test_redact_url_hides_user_info_and_secret_looking_parameters(url, shown):
    assert redact_url(url) == shown
    assert redact_url(shown) == shown


@pytest.mark.parametrize(
    "url",
    ["https://www.hespress.com/feed?page=2&sort=desc&keyword=energie&design=1",
     "https://x.org/?token=&q=a%3Db", "https://x.org/path/key=value/", "https://x.org/a?b", "not a URL at all", ""],
)  # fmt: skip
def test_redact_url_keeps_everything_else_as_written(url):
    assert redact_url(url) == url


def test_secret_parameter_names():
    for name in ("key", "apikey", "API_KEY", "token", "access_token", "secret", "password", "passwd", "pwd",
                 "sig", "signature", "auth", "x-auth-token", "sessionid", "privateKey", "api%5Fkey"):  # fmt: skip
        assert is_secret_param(name), name
    for name in ("page", "q", "keyword", "keywords", "design", "sort", "monkey", "author", "id"):
        assert not is_secret_param(name), name
