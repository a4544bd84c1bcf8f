"""Article extraction: main text only, metadata, charsets, and the worker pool's time limit."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.extract import Extracted, ExtractError, Extractor, extract_page

# --- realistic pages ----------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="{lang}" dir="{dir}">
<head>
<meta charset="{charset}">
<title>{title} | {site}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:site_name" content="{site}">
<meta property="og:title" content="{title}">
{head_extra}
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<header class="site-header">
  <a class="logo" href="/">{site}</a>
  <ul class="menu">
    <li><a href="/horoscope">{menu1}</a></li><li><a href="/weather">{menu2}</a></li>
    <li><a href="/subscribe">{menu3}</a></li>
  </ul>
</header>
<nav class="main-nav">
  <a href="/politics">{menu4}</a> <a href="/economy">{menu5}</a> <a href="/sport">{menu6}</a>
</nav>
<main>
<article class="post">
  <h1 class="entry-title">{title}</h1>
  <div class="byline">{by} <a rel="author" href="/authors/1">{author}</a> {time_tag}</div>
  <div class="entry-content">
{paragraphs}
  </div>
</article>
<aside class="related-articles">
  <h3>{related}</h3>
  <ul>
    <li><a href="/a/1">{teaser1}</a></li>
    <li><a href="/a/2">{teaser2}</a></li>
    <li><a href="/a/3">{teaser3}</a></li>
  </ul>
</aside>
<section id="comments" class="comments-area">
  <h3 class="comments-title">{comments_title}</h3>
  <ol class="comment-list">
    <li class="comment"><div class="comment-author">{commenter}</div><p>{comment1}</p></li>
    <li class="comment"><div class="comment-author">Reader42</div><p>{comment2}</p></li>
  </ol>
  <form class="comment-form"><textarea name="comment"></textarea><button>{send}</button></form>
</section>
</main>
<footer class="site-footer">
  <p>© 2024 {site}. <a href="/privacy">{footer1}</a> · <a href="/contact">{footer2}</a></p>
</footer>
</body>
</html>
"""

ENGLISH = dict(
    lang="en-GB",
    dir="ltr",
    site="Maghreb Tech Daily",
    title="Minister Seghrouchni unveils national AI strategy",
    by="By",
    author="Nadia Benali",
    menu1="Horoscope",
    menu2="Weather",
    menu3="Subscribe",
    menu4="Politics",
    menu5="Economy",
    menu6="Sport",
    paragraphs="\n".join(
        f"    <p>{p}</p>"
        for p in (
            "RABAT — Amal El Fallah Seghrouchni, the minister for digital transition, presented on Thursday "
            "a national strategy for artificial intelligence that aims to train 100,000 young people by 2030.",
            "Speaking before parliament, Seghrouchni said the plan would fund three regional data centres and "
            "open public datasets to universities, start-ups and local administrations across the country.",
            "The strategy also creates an ethics council, which will publish yearly reports on the use of "
            "algorithms by public services, the minister added, answering questions from opposition deputies.",
            "Industry groups welcomed the announcement but asked for a clear timetable for the tenders, "
            "which they expect to be published before the end of the year.",
        )
    ),
    related="Related articles",
    teaser1="Mohamed Bensaid opens the new film festival in Marrakech",
    teaser2="Bensaid: culture budget to rise by 12 percent",
    teaser3="Heavy rain expected in the north this weekend",
    comments_title="3 comments",
    commenter="Karim Tazi",
    comment1="Karim Tazi here: this strategy is long overdue, I hope it is funded properly.",
    comment2="Another announcement, let us wait and see what Karim Tazi says next month.",
    send="Post comment",
    footer1="Privacy policy",
    footer2="Contact us",
)

FRENCH = dict(
    ENGLISH,
    lang="fr-FR",
    site="Le Courrier de l’Atlas",
    title="Data centres : le gouvernement accélère l’investissement",
    by="Par",
    author="Sophie Lefèvre",
    menu1="Horoscope",
    menu2="Météo",
    menu3="S’abonner",
    menu4="Politique",
    menu5="Économie",
    menu6="Sport",
    paragraphs="\n".join(
        f"    <p>{p}</p>"
        for p in (
            "La ministre de la Transition numérique, Amal El Fallah Seghrouchni, a présenté jeudi un plan "
            "d’investissement de trois milliards de dirhams pour construire des centres de données régionaux.",
            "Selon la ministre, ces infrastructures doivent héberger les données des administrations et "
            "attirer les entreprises étrangères qui cherchent à s’implanter sur le continent africain.",
            "Les premiers appels d’offres seront lancés à l’automne ; l’opposition réclame déjà un "
            "calendrier précis et une étude d’impact sur la consommation d’eau et d’électricité.",
        )
    ),
    related="À lire aussi",
    teaser1="Mohamed Bensaid inaugure le festival du film de Marrakech",
    teaser2="Bensaid annonce une hausse du budget de la culture",
    teaser3="Fortes pluies attendues dans le nord ce week-end",
    comments_title="3 commentaires",
    commenter="Karim Tazi",
    comment1="Karim Tazi : enfin une bonne nouvelle pour l’économie numérique !",
    comment2="On verra bien, comme dit Karim Tazi, les promesses n’engagent que ceux qui y croient.",
    send="Envoyer",
    footer1="Mentions légales",
    footer2="Nous contacter",
)

ARABIC = dict(
    ENGLISH,
    lang="ar",
    dir="rtl",
    site="جريدة الأخبار",
    title="السغروشني تكشف عن الاستراتيجية الوطنية للذكاء الاصطناعي",
    by="بقلم",
    author="نادية بنعلي",
    menu1="الأبراج",
    menu2="الطقس",
    menu3="اشترك",
    menu4="سياسة",
    menu5="اقتصاد",
    menu6="رياضة",
    paragraphs="\n".join(
        f"    <p>{p}</p>"
        for p in (
            "قدمت الوزيرة المنتدبة المكلفة بالانتقال الرقمي أمل الفلاح السغروشني، يوم الخميس، الاستراتيجية "
            "الوطنية للذكاء الاصطناعي التي تهدف إلى تكوين مائة ألف شاب في أفق سنة 2030.",
            "وأوضحت السغروشني أمام البرلمان أن المخطط سيمول ثلاثة مراكز بيانات جهوية وسيفتح المعطيات "
            "العمومية أمام الجامعات والمقاولات الناشئة والجماعات الترابية.",
            "وتنص الاستراتيجية كذلك على إحداث مجلس للأخلاقيات يصدر تقارير سنوية حول استعمال الخوارزميات "
            "في المرافق العمومية، حسب ما أضافته الوزيرة في ردها على أسئلة النواب.",
        )
    ),
    related="مقالات ذات صلة",
    teaser1="بنسعيد يفتتح المهرجان الدولي للفيلم بمراكش",
    teaser2="بنسعيد يعلن رفع ميزانية الثقافة",
    teaser3="أمطار غزيرة مرتقبة في الشمال",
    comments_title="3 تعليقات",
    commenter="كريم التازي",
    comment1="كريم التازي: استراتيجية طال انتظارها ونتمنى تمويلها بشكل جيد",
    comment2="سننتظر ونرى ما سيقوله كريم التازي الشهر المقبل",
    send="أرسل",
    footer1="سياسة الخصوصية",
    footer2="اتصل بنا",
)

ARTICLE_WORDS = {"en": "Seghrouchni", "fr": "Seghrouchni", "ar": "السغروشني"}
TEASER_WORDS = {"en": "Bensaid", "fr": "Bensaid", "ar": "بنسعيد"}
COMMENT_WORDS = {"en": "Tazi", "fr": "Tazi", "ar": "التازي"}
MENU_WORDS = {"en": ("Horoscope", "Subscribe", "Privacy"), "fr": ("Horoscope", "Météo", "légales"),
              "ar": ("الأبراج", "اشترك", "الخصوصية")}  # fmt: skip

JSONLD = """<script type="application/ld+json">
{{"@context": "https://schema.org", "@graph": [
  {{"@type": "WebSite", "name": "{site}", "url": "https://news.example.org/"}},
  {{"@type": "NewsArticle", "headline": "{title}", "datePublished": "{date}",
    "author": {{"@type": "Person", "name": "{author}"}}}}]}}
</script>"""


def page(values: dict, *, charset: str = "utf-8", head_extra: str = "", time_tag: str = "") -> bytes:
    html = PAGE.format(**values, charset=charset, head_extra=head_extra, time_tag=time_tag)
    return html.encode(charset)


def english_page(date: str = "2024-03-14T09:30:00+01:00") -> bytes:
    head = JSONLD.format(site=ENGLISH["site"], title=ENGLISH["title"], author=ENGLISH["author"], date=date)
    head += '\n<link rel="canonical" href="/tech/2024/03/14/ai-strategy?ref=rss">'
    return page(ENGLISH, head_extra=head, time_tag="<span>14 March 2024</span>")


URL = "https://news.example.org/tech/2024/03/14/ai-strategy?utm_source=feed"


def assert_main_text_only(result: Extracted, lang: str) -> None:
    assert ARTICLE_WORDS[lang] in result.text
    assert TEASER_WORDS[lang] not in result.text, "a related-article teaser leaked into the text"
    assert COMMENT_WORDS[lang] not in result.text, "a comment leaked into the text"
    for word in MENU_WORDS[lang]:
        assert word not in result.text, f"menu/footer text {word!r} leaked into the text"


# --- extract_page -------------------------------------------------------------------------------


def test_english_article_text_and_metadata():
    result = extract_page(english_page(), URL)
    assert_main_text_only(result, "en")
    assert "train 100,000 young people by 2030" in result.text
    assert "before the end of the year" in result.text  # last paragraph too
    assert result.title == ENGLISH["title"]
    assert result.author == "Nadia Benali"
    assert result.language == "en"
    assert result.canonical_url == "https://news.example.org/tech/2024/03/14/ai-strategy?ref=rss"
    assert result.published == datetime(2024, 3, 14, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert result.published.utcoffset() == timedelta(hours=1)


def test_date_with_utc_designator_is_aware():
    result = extract_page(english_page("2024-03-14T08:30:00Z"), URL)
    assert result.published == datetime(2024, 3, 14, 8, 30, tzinfo=UTC)
    assert result.published.tzinfo is not None


@pytest.mark.parametrize(
    "date, expected",
    [("2024-03-14T09:30:00", datetime(2024, 3, 14, 9, 30)), ("2024-03-14", datetime(2024, 3, 14))],
)
def test_date_without_offset_stays_naive(date, expected):
    result = extract_page(english_page(date), URL)
    assert result.published == expected
    assert result.published.tzinfo is None


def test_french_utf8_meta_date_and_og_url():
    head = (
        '<meta property="article:published_time" content="2024-05-02T17:45:00+02:00">\n'
        '<meta property="og:url" content="https://www.courrier.example/eco/data-centres-123">'
    )
    result = extract_page(
        page(FRENCH, head_extra=head), "https://www.courrier.example/eco/data-centres-123?amp"
    )
    assert_main_text_only(result, "fr")
    assert "l’investissement" in result.title and "accélère" in result.title
    assert "centres de données régionaux" in result.text
    assert result.author == "Sophie Lefèvre"
    assert result.language == "fr"
    assert result.canonical_url == "https://www.courrier.example/eco/data-centres-123"
    assert result.published == datetime(2024, 5, 2, 17, 45, tzinfo=timezone(timedelta(hours=2)))


def test_french_iso_8859_1_declared_page_with_windows_1252_quotes():
    """Pages labelled ISO-8859-1 are really windows-1252 (browsers read them so): ’ is byte 0x92."""
    body = page(FRENCH, charset="windows-1252").replace(b'charset="windows-1252"', b'charset="ISO-8859-1"')
    assert b"\x92" in body and b"\xe9" in body  # ’ and é in the legacy encoding, not UTF-8
    result = extract_page(body, "https://www.courrier.example/eco/data-centres-123")
    assert_main_text_only(result, "fr")
    assert "centres de données régionaux" in result.text
    assert "d’investissement" in result.text
    assert result.title == FRENCH["title"]
    assert result.author == "Sophie Lefèvre"
    assert result.language == "fr"


def test_arabic_utf8_page():
    tag = '<time datetime="2024-06-20T18:05:00+01:00">20 يونيو 2024</time>'
    result = extract_page(page(ARABIC, time_tag=tag), "https://akhbar.example.ma/tech/12345.html")
    assert_main_text_only(result, "ar")
    assert "الاستراتيجية الوطنية للذكاء الاصطناعي" in result.text
    assert result.title == ARABIC["title"]
    assert result.language == "ar"
    assert result.published == datetime(2024, 6, 20, 18, 5, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize("declaration", ['<meta charset="windows-1256">',
                                         '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">'])  # fmt: skip
def test_arabic_windows_1256_page(declaration):
    body = page(ARABIC, charset="cp1256").replace(b'<meta charset="cp1256">', declaration.encode())
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    result = extract_page(body, "https://akhbar.example.ma/tech/12345.html")
    assert_main_text_only(result, "ar")
    assert "أمل الفلاح السغروشني" in result.text
    assert result.title == ARABIC["title"]
    assert result.language == "ar"


def test_charset_from_http_header_when_page_declares_none():
    body = page(ARABIC, charset="cp1256").replace(b'<meta charset="cp1256">', b"")
    result = extract_page(body, "https://akhbar.example.ma/tech/12345.html", charset="windows-1256")
    assert "أمل الفلاح السغروشني" in result.text


def test_utf8_page_mislabelled_as_latin1_is_read_as_utf8():
    body = page(FRENCH).replace(b'charset="utf-8"', b'charset="iso-8859-1"')
    result = extract_page(body, "https://www.courrier.example/eco/1", charset="iso-8859-1")
    assert "centres de données régionaux" in result.text
    assert result.author == "Sophie Lefèvre"


def test_language_absent_is_none_and_no_date_is_none():
    values = dict(ENGLISH, lang="")
    body = page(values).replace(b' lang=""', b"")
    result = extract_page(body, "https://blog.example.org/posts/ai-strategy")
    assert result.language is None
    assert result.published is None
    assert result.canonical_url is None
    assert "Seghrouchni" in result.text


def test_page_without_article_text_raises():
    body = b"""<!DOCTYPE html><html lang="en"><head><title>Home</title></head><body>
    <nav><a href="/a">Politics</a> <a href="/b">Economy</a></nav><div id="app"></div>
    <footer><a href="/privacy">Privacy</a></footer></body></html>"""
    with pytest.raises(ExtractError, match="^no article text found$"):
        extract_page(body, "https://news.example.org/")


@pytest.mark.parametrize(
    "body, message",
    [(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" * 20, "not HTML"), (b"  \n ", "empty page")],
)
def test_non_html_raises(body, message):
    with pytest.raises(ExtractError, match=f"^{message}$"):
        extract_page(body, "https://news.example.org/file")


# --- Extractor ----------------------------------------------------------------------------------


def worker_probe(body: bytes, url: str, charset: str | None = None) -> Extracted:
    """Test worker: b'hang' never returns, b'crash' kills its process, else it reports its pid."""
    if body == b"hang":
        time.sleep(3600)
    if body == b"crash":
        os._exit(3)
    return Extracted(title=None, text=str(os.getpid()), published=None, language=None, author=None,
                     canonical_url=None)  # fmt: skip


def gone(pid: int, within: float = 5.0) -> bool:
    """True once process `pid` has exited (and been reaped) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_extractor_extracts_in_worker_processes():
    async def scenario() -> None:
        with Extractor(workers=2) as extractor:
            pages = [english_page(), page(FRENCH), page(ARABIC)]
            results = await asyncio.gather(*(extractor.extract(body, URL) for body in pages))
        assert [r.language for r in results] == ["en", "fr", "ar"]
        assert results[0] == extract_page(english_page(), URL)
        assert_main_text_only(results[2], "ar")

    asyncio.run(scenario())


def test_extractor_raises_extract_error_for_page_without_text():
    async def scenario() -> None:
        with Extractor(workers=1) as extractor:
            with pytest.raises(ExtractError, match="^no article text found$"):
                await extractor.extract(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", URL)
            assert "Seghrouchni" in (await extractor.extract(english_page(), URL)).text

    asyncio.run(scenario())


def test_pool_is_created_lazily():
    extractor = Extractor(workers=1)
    assert extractor._pool is None
    extractor.close()  # closing an unused extractor is fine


def test_hanging_page_is_killed_and_the_pool_keeps_working():
    async def scenario() -> None:
        with Extractor(workers=1, timeout=0.5, func=worker_probe) as extractor:
            stuck_pid = int((await extractor.extract(b"hello", URL)).text)
            started = time.monotonic()
            with pytest.raises(ExtractError, match=r"^extraction timed out after 0\.5s$"):
                await extractor.extract(b"hang", URL)
            assert time.monotonic() - started < 5
            assert gone(stuck_pid), "the stuck worker was not killed"
            pids = {int((await extractor.extract(b"again", URL)).text) for _ in range(3)}
            assert stuck_pid not in pids

    asyncio.run(scenario())


def test_hanging_page_does_not_block_the_other_worker():
    async def scenario() -> None:
        with Extractor(workers=2, timeout=2, func=worker_probe) as extractor:
            await asyncio.gather(*(extractor.extract(b"warm", URL) for _ in range(2)))
            hang = asyncio.ensure_future(extractor.extract(b"hang", URL))
            await asyncio.sleep(0.1)
            pids = {int((await extractor.extract(b"quick", URL)).text) for _ in range(5)}
            assert not hang.done(), "the quick pages waited for the hanging one"
            assert len(pids) == 1  # all served by the other worker
            with pytest.raises(ExtractError, match="timed out"):
                await hang

    asyncio.run(scenario())


def test_crashing_worker_becomes_extract_error():
    async def scenario() -> None:
        with Extractor(workers=1, timeout=5, func=worker_probe) as extractor:
            with pytest.raises(ExtractError, match=r"^extraction worker died \(exit code 3\)$"):
                await extractor.extract(b"crash", URL)
            assert int((await extractor.extract(b"after", URL)).text) > 0

    asyncio.run(scenario())


def test_cancelled_extraction_kills_its_worker():
    async def scenario() -> None:
        with Extractor(workers=1, timeout=30, func=worker_probe) as extractor:
            pid = int((await extractor.extract(b"hello", URL)).text)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(extractor.extract(b"hang", URL), 0.5)
            assert gone(pid), "the cancelled extraction's worker is still running"
            assert int((await extractor.extract(b"after", URL)).text) != pid

    asyncio.run(scenario())


def test_close_fails_extractions_in_flight_and_a_new_pool_starts_on_demand():
    async def scenario() -> None:
        extractor = Extractor(workers=1, timeout=30, func=worker_probe)
        pid = int((await extractor.extract(b"hello", URL)).text)
        running = asyncio.ensure_future(extractor.extract(b"hang", URL))
        queued = asyncio.ensure_future(extractor.extract(b"queued", URL))
        await asyncio.sleep(0.2)
        extractor.close()
        for task in (running, queued):
            with pytest.raises(ExtractError, match="^extractor closed$"):
                await asyncio.wait_for(task, 5)
        assert gone(pid)
        assert int((await extractor.extract(b"again", URL)).text) != pid
        extractor.close()

    asyncio.run(scenario())
