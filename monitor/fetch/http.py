"""The only HTTP client of monitor: timeouts, size cap, redirects, gzip, conditional GET.

``HttpClient.get`` never raises for network, HTTP or size problems: it returns a
``FetchResult`` whose ``error`` is one line for humans (URLs in it redacted) and whose ``status``
is 0 when no usable response arrived. Parsers (feedparser, trafilatura) get bytes from here and never fetch themselves.
Every connection goes through the address guard (``monitor.fetch.guard``): a request reaches a
private address only when its host is one the operator configured (``origin``) or allowed.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from monitor import __version__
from monitor.fetch.guard import AddressPolicy, AddressRefused, GuardedConnector, trusted_hosts, trusting
from monitor.fetch.hosts import HostGate
from monitor.fetch.robots import RobotsCache
from monitor.urls import redact_text, redact_url

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"monitor/{__version__} (self-hosted news monitor)"
MAX_REDIRECTS = 10
_CHUNK = 64 * 1024
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, text/html;q=0.9, application/xhtml+xml;q=0.9, */*;q=0.8"
)


@dataclass
class FetchResult:
    """What one GET produced. ``body`` is already decompressed; ``None`` on error and on 304."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    not_modified: bool = False
    error: str | None = None
    retry_after: float | None = None
    robots: str | None = None  # "disallowed" or "unavailable" when robots.txt stopped the request
    refused: bool = False  # the address guard stopped it: final, retrying cannot help

    @property
    def ok(self) -> bool:
        """No error, and a 2xx answer or an unchanged resource."""
        return self.error is None and (200 <= self.status < 300 or self.not_modified)


class HttpClient:
    """An aiohttp session with monitor's politeness and limits; use as ``async with HttpClient()``.

    The session is created lazily inside the running event loop, on the first request.
    """

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 20.0,
        max_bytes: int = 10_000_000,
        per_host: int = 2,
        delay: float = 1.0,
        total: int = 64,
        allow_private: Iterable[str] = (),
        resolver: AbstractResolver | None = None,
    ) -> None:
        """``allow_private``: host names, addresses and CIDR ranges any request may reach (see
        ``monitor.fetch.guard``); ``resolver``: the name resolver under the guard (tests)."""
        self.user_agent = user_agent
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.per_host = per_host
        self.total = total
        self.hosts = HostGate(per_host, delay)
        self.policy = AddressPolicy(allow_private)
        self._resolver = resolver
        self.robots = RobotsCache(self._fetch_robots, user_agent)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the underlying session (idempotent)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=GuardedConnector(
                    self.policy, resolver=self._resolver, limit=self.total, limit_per_host=self.per_host
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={
                    "User-Agent": self.user_agent,
                    "Accept-Encoding": "gzip, deflate",
                    "Accept": _ACCEPT,
                },
            )
            self._loop = loop
        return self._session

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        previous_hash: str | None = None,
        robots: bool = False,
        origin: str | Iterable[str | None] | None = None,
    ) -> FetchResult:
        """GET ``url`` (conditionally when validators are given); never raises for fetch problems.

        A 304 keeps the given ``etag``/``last_modified``/``previous_hash`` unless the server sent
        new validators, so callers can store the result as is. A 200 whose body hashes to
        ``previous_hash`` is also ``not_modified`` (its body is kept). Every request waits for its
        host's slot (concurrency and delay); a 429/503 with Retry-After pauses the host. With
        ``robots``, the host's robots.txt is obeyed (its Crawl-delay too).

        ``origin``: the configured URL(s) the request stems from (a source's feed or page, its
        sitemap). Their hosts may be reached at any address; any other host (a link, a redirect
        elsewhere) only at a public address or one ``allow_private`` lists. Without ``origin``,
        nothing private is reached. A refused request fails with ``refused`` set.
        """
        problem = _check_url(url)
        if problem:
            return _failure(url, problem)
        host, raw_host = _host_names(url)
        trusted = trusted_hosts(origin)
        refusal = self.policy.literal_refusal(raw_host, trusted)
        if refusal:  # decided before robots.txt is asked for
            return _failure(url, refusal, refused=True)
        if robots:
            try:
                verdict = await self.robots.check(url, origin=trusted)
            except AddressRefused as exc:
                return _failure(url, str(exc), refused=True)
            if verdict.crawl_delay:
                self.hosts.set_delay(host, verdict.crawl_delay)
            if not verdict.allowed:
                result = _failure(url, verdict.reason or verdict.status)
                result.robots = verdict.status
                return result
        request_headers = {}
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        async with self.hosts.slot(host):
            try:
                with trusting(trusted):  # for the guard's resolver and connector, every redirect too
                    session = self._get_session()
                    async with session.get(url, headers=request_headers, max_redirects=MAX_REDIRECTS) as resp:
                        result = await self._read(url, resp, etag, last_modified, previous_hash)
            except AddressRefused as exc:
                return _failure(url, str(exc), refused=True)
            except Exception as exc:  # noqa: BLE001 - the contract is: never raise for fetch problems
                return _failure(url, self._describe(exc, url))
        if result.retry_after and result.status in (429, 503):
            self.hosts.pause(host, result.retry_after)
        return result

    async def _fetch_robots(self, url: str, origin: Iterable[str]) -> tuple[int, str | None, str | None]:
        """robots.txt is fetched as the request needing it would be; a refusal is not cached."""
        result = await self.get(url, origin=origin)
        if result.refused:
            raise AddressRefused(result.error)
        text = result.body.decode("utf-8", "replace") if result.body is not None else None
        return result.status, text, result.error

    async def _read(
        self,
        url: str,
        resp: aiohttp.ClientResponse,
        etag: str | None,
        last_modified: str | None,
        previous_hash: str | None,
    ) -> FetchResult:
        headers = _headers(resp)
        result = FetchResult(
            url=url,
            final_url=str(resp.url),
            status=resp.status,
            headers=headers,
            body=None,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            content_hash=None,
        )
        if resp.status == 304:
            result.not_modified = True
            result.etag = result.etag or etag
            result.last_modified = result.last_modified or last_modified
            result.content_hash = previous_hash
            return result
        if not 200 <= resp.status < 300:
            reason = resp.reason or _reason(resp.status)
            result.error = f"HTTP {resp.status} {reason}".strip()
            result.retry_after = parse_retry_after(headers.get("retry-after"))
            return result
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            return self._too_large(result)
        body = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > self.max_bytes:
                return self._too_large(result)
        result.body = bytes(body)
        result.content_hash = hashlib.sha256(result.body).hexdigest()
        result.not_modified = previous_hash is not None and result.content_hash == previous_hash
        return result

    def _too_large(self, result: FetchResult) -> FetchResult:
        result.status = 0
        result.error = f"response larger than {_human_size(self.max_bytes)}"
        return result

    def _describe(self, exc: BaseException, url: str) -> str:
        """One line for humans describing why a request failed."""
        if isinstance(exc, TimeoutError):  # also aiohttp's ServerTimeoutError & co
            return f"timeout after {self.timeout:g}s"
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return f"DNS lookup failed for host {exc.host}"
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return f"TLS certificate error for host {exc.host}: {_one_line(exc.certificate_error)}"
        if isinstance(exc, aiohttp.ClientConnectorError):
            if exc.os_error.errno == errno.ECONNREFUSED:
                return "connection refused"
            reason = exc.os_error.strerror or _one_line(exc.os_error)
            return f"cannot connect to {exc.host}:{exc.port}: {reason}"
        if isinstance(exc, aiohttp.TooManyRedirects):
            return f"too many redirects (more than {MAX_REDIRECTS})"
        if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError | aiohttp.InvalidUrlRedirectClientError):
            return f"redirect to an unsupported URL: {_one_line(exc)}"
        if isinstance(exc, aiohttp.InvalidUrlClientError):
            return f"invalid URL: {url}"
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return "server disconnected without a complete response"
        if isinstance(exc, aiohttp.ClientPayloadError):
            return f"invalid response body: {_one_line(exc)}"
        if isinstance(exc, aiohttp.ClientError | OSError):
            return f"request failed: {_one_line(exc) or type(exc).__name__}"
        log.warning("unexpected error fetching %s", redact_url(url), exc_info=exc)
        return f"request failed: {type(exc).__name__}: {_one_line(exc)}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (never negative)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _check_url(url: str) -> str | None:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return f"invalid URL: {url}"
    if parsed.scheme not in ("http", "https"):
        scheme = parsed.scheme or "(none)"
        return f"unsupported URL scheme {scheme!r} (only http and https)"
    if not parsed.host:
        return f"invalid URL (no host): {url}"
    return None


def _host_names(url: str) -> tuple[str, str]:
    """(host as shown, host as sent) of a checked URL; no URL object outlives the call (thousands
    of requests may wait for their host's turn at once)."""
    parsed = URL(url)
    return parsed.host or "", parsed.raw_host or ""


def _failure(url: str, error: str, *, refused: bool = False) -> FetchResult:
    """A request that got no usable response; ``error`` is shown (stored, logged) with every URL
    in it redacted (``invalid URL: …``, a redirect's target)."""
    return FetchResult(
        url=url,
        final_url=url,
        status=0,
        headers={},
        body=None,
        etag=None,
        last_modified=None,
        content_hash=None,
        error=redact_text(error),
        refused=refused,
    )


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in resp.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _human_size(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n} bytes"


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
