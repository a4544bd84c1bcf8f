"""HttpClient against a real local server (tests/servers.py Site)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from monitor.fetch.http import DEFAULT_USER_AGENT, FetchResult, HttpClient, parse_retry_after
from tests.servers import Request, Response, free_port


def fetch(url: str, client_kwargs: dict | None = None, **kwargs) -> FetchResult:
    async def run() -> FetchResult:
        async with HttpClient(**(client_kwargs or {})) as client:
            return await client.get(url, **{"origin": url, **kwargs})  # as a configured URL

    return asyncio.run(run())


def fetch_many(urls: list[str], **client_kwargs) -> list[FetchResult]:
    async def run() -> list[FetchResult]:
        async with HttpClient(**client_kwargs) as client:
            return list(await asyncio.gather(*(client.get(u, origin=u) for u in urls)))

    return asyncio.run(run())


def assert_one_line(result: FetchResult) -> None:
    assert result.error and "\n" not in result.error


def test_plain_200_has_body_hash_headers_and_user_agent(site):
    site.route("/feed.xml", Response("<rss/>", content_type="application/rss+xml; charset=utf-8"))
    res = fetch(site.url("/feed.xml"))
    assert res.ok and res.error is None
    assert res.status == 200
    assert res.body == b"<rss/>"
    assert res.content_hash == hashlib.sha256(b"<rss/>").hexdigest()
    assert res.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert res.final_url == res.url == site.url("/feed.xml")
    assert not res.not_modified
    req = site.requests[-1]
    assert req.headers["user-agent"] == DEFAULT_USER_AGENT
    assert "gzip" in req.headers["accept-encoding"]
    assert "if-none-match" not in req.headers


def test_etag_then_304_on_if_none_match(site):
    def handler(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(b"", status=304, headers={"ETag": '"v1"'})
        return Response(
            "<rss>v1</rss>", headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
        )

    site.route("/feed", handler)
    first = fetch(site.url("/feed"))
    assert first.ok and first.etag == '"v1"'
    assert first.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    second = fetch(
        site.url("/feed"),
        etag=first.etag,
        last_modified=first.last_modified,
        previous_hash=first.content_hash,
    )
    assert second.status == 304
    assert second.not_modified and second.ok
    assert second.body is None
    assert second.etag == '"v1"'
    assert second.last_modified == first.last_modified  # kept from the request
    assert second.content_hash == first.content_hash
    sent = site.requests[-1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


def test_identical_body_without_validators_is_not_modified_by_hash(site):
    site.route("/page", Response("<html>same</html>"))
    first = fetch(site.url("/page"))
    assert not first.not_modified and first.etag is None and first.last_modified is None
    second = fetch(site.url("/page"), previous_hash=first.content_hash)
    assert second.status == 200 and second.not_modified and second.ok
    site.route("/page", Response("<html>changed</html>"))
    third = fetch(site.url("/page"), previous_hash=first.content_hash)
    assert not third.not_modified and third.body == b"<html>changed</html>"


def test_gzip_body_is_decoded(site):
    text = "<rss>" + "é" * 3000 + "</rss>"
    site.route("/gz", Response(text, gzip=True, content_type="application/xml"))
    res = fetch(site.url("/gz"))
    assert res.ok
    assert res.headers["content-encoding"] == "gzip"
    assert res.body == text.encode("utf-8")
    assert res.content_hash == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_redirect_chain_sets_final_url(site):
    site.route("/a", Response("", status=301, headers={"Location": "/b"}))
    site.route("/b", Response("", status=302, headers={"Location": site.url("/c?x=1")}))
    site.route("/c", Response("final"))
    res = fetch(site.url("/a"))
    assert res.ok and res.body == b"final"
    assert res.url == site.url("/a")
    assert res.final_url == site.url("/c?x=1")


def test_redirect_loop_is_an_error(site):
    site.route("/loop", Response("", status=302, headers={"Location": "/loop"}))
    res = fetch(site.url("/loop"))
    assert not res.ok and res.status == 0
    assert "too many redirects" in res.error
    assert_one_line(res)


def test_404_is_an_error_with_status(site):
    res = fetch(site.url("/missing"))
    assert not res.ok
    assert res.status == 404
    assert res.error == "HTTP 404 Not Found"
    assert res.body is None and res.retry_after is None


def test_503_with_retry_after_seconds(site):
    site.route("/busy", Response("busy", status=503, headers={"Retry-After": "120"}))
    res = fetch(site.url("/busy"))
    assert res.status == 503 and res.error == "HTTP 503 Service Unavailable"
    assert res.retry_after == 120.0


def test_429_with_retry_after_http_date(site):
    when = datetime.now(UTC) + timedelta(seconds=300)
    site.route(
        "/slow-down", Response("", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    )
    res = fetch(site.url("/slow-down"))
    assert res.status == 429 and res.error.startswith("HTTP 429 ")
    assert res.retry_after is not None and 290 <= res.retry_after <= 301


def test_parse_retry_after_forms():
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:01:00 GMT", now) == 60.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_size_cap_from_content_length(site):
    site.route("/big", Response(b"x" * 5000))
    res = fetch(site.url("/big"), client_kwargs={"max_bytes": 1000})
    assert not res.ok and res.body is None and res.status == 0
    assert res.error == "response larger than 1 kB"


def test_size_cap_while_streaming_decompressed_body(site):
    # the compressed Content-Length is small; the cap must hold on the decoded bytes
    site.route("/bomb", Response(b"a" * 200_000, gzip=True))
    res = fetch(site.url("/bomb"), client_kwargs={"max_bytes": 10_000})
    assert res.error == "response larger than 10 kB"
    assert res.body is None and res.status == 0 and not res.ok


def test_default_cap_message_in_megabytes(site):
    site.route("/ok", Response("small"))
    assert fetch(site.url("/ok")).ok
    res = fetch(site.url("/ok"), client_kwargs={"max_bytes": 3})
    assert res.error == "response larger than 3 bytes"
    assert HttpClient().max_bytes == 10_000_000


def test_slow_response_times_out(site):
    site.route("/slow", Response("late", delay=2.0))
    res = fetch(site.url("/slow"), client_kwargs={"timeout": 0.5})
    assert not res.ok and res.status == 0 and res.body is None
    assert res.error == "timeout after 0.5s"


def test_connection_refused_on_closed_port():
    res = fetch(f"http://127.0.0.1:{free_port()}/feed")
    assert not res.ok and res.status == 0
    assert res.error == "connection refused"


def test_dns_failure_is_one_line():
    res = fetch("http://no-such-host.invalid/feed", client_kwargs={"timeout": 5})
    assert not res.ok and res.status == 0
    assert_one_line(res)
    assert res.error in ("DNS lookup failed for host no-such-host.invalid", "timeout after 5s")


def test_unsupported_schemes_and_invalid_urls_do_not_raise(site):
    res = fetch("file:///etc/passwd")
    assert res.error == "unsupported URL scheme 'file' (only http and https)" and res.body is None
    assert fetch("ftp://example.org/x").error.startswith("unsupported URL scheme 'ftp'")
    assert fetch("not a url").error.startswith("unsupported URL scheme")
    assert fetch("http:///nohost").error.startswith("invalid URL")
    assert site.requests == []


def test_redirect_to_file_scheme_is_refused(site):
    site.route("/evil", Response("", status=302, headers={"Location": "file:///etc/passwd"}))
    res = fetch(site.url("/evil"))
    assert not res.ok and res.body is None
    assert_one_line(res)


def test_concurrent_requests_share_one_client(site):
    for i in range(6):
        site.route(f"/p{i}", Response(f"page {i}", delay=0.1))
    results = fetch_many([site.url(f"/p{i}") for i in range(6)], per_host=2)
    assert [r.body for r in results] == [f"page {i}".encode() for i in range(6)]
