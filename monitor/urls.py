"""URL canonicalisation: one spelling per article URL, so the same article is processed once.

The canonical form is the ASCII, percent-encoded (RFC 3986) spelling:

* absolute (joined on ``base``), scheme and host lower-cased, IDN hosts in punycode,
  default port and fragment dropped, an empty path becomes ``/``, dot segments resolved;
* percent-encoding normalised: escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``) are
  decoded, every other escape is upper-cased, and raw non-ASCII characters (an Arabic slug, say)
  are UTF-8 percent-encoded, so a slug compares equal whether a page wrote it raw or encoded;
  reserved characters keep their meaning (``%2F`` stays ``%2F``);
* tracking parameters (``utm_*``, ``fbclid``, ``gclid`` …) dropped, the remaining parameters
  sorted (stable, so ``?a=1&b=2`` equals ``?b=2&a=1``), an empty query dropped.

Non-HTTP URLs (``mailto:``, ``javascript:`` …) are returned joined and stripped, otherwise untouched.

:func:`redact_url` is the form of a URL fit to be shown (logs, ``status``, ``check``): user-info
and the values of secret-looking query parameters replaced by ``***``; :func:`redact_text` does
it to every URL inside a message. :func:`feed_item_url` names a feed item that has no link.
"""

from __future__ import annotations

import re
from hashlib import sha256
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

__all__ = [
    "absolute_http",
    "canonical_url",
    "feed_item_url",
    "is_feed_item",
    "is_secret_param",
    "is_tracking_param",
    "redact_text",
    "redact_url",
    "without_userinfo",
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
]

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
        "igshid", "igsh", "yclid", "ysclid", "_ga", "_gl", "_hsenc", "_hsmi", "__hstc", "__hssc",
        "__hsfp", "hsctatracking", "mkt_tok", "ref_src", "ref_url", "twclid", "ttclid", "li_fat_id",
        "wickedid", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_kwcid",
        "ncid", "ocid", "xtor", "at_medium", "at_campaign", "wt.mc_id", "cmpid", "spm",
        "sr_share", "smid", "soc_src", "soc_trk", "__twitter_impression",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "piwik_", "matomo_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_SUB_DELIMS = "!$&'()*+,;="
_PATH_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/"))
_QUERY_SAFE = frozenset(_UNRESERVED | set(_SUB_DELIMS) | set(":@/?"))
_HEX = frozenset("0123456789abcdefABCDEF")
_STRIP_CHARS = re.compile(r"[\t\r\n]")


def absolute_http(value: object, base: str) -> str | None:
    """``value`` (a link as written in a feed or sitemap) joined on ``base``, when that makes an
    http(s) URL with a host; None for anything else (empty, not a string, malformed, mailto: …)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        url = urljoin(base, value.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def is_tracking_param(name: str) -> bool:
    """True for a query parameter that only tracks the click (``utm_source``, ``fbclid`` …)."""
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def canonical_url(url: str, base: str | None = None) -> str:
    """The canonical spelling of ``url`` (joined on ``base`` when relative); idempotent."""
    url = _STRIP_CHARS.sub("", url).strip()
    if base:
        url = urljoin(_STRIP_CHARS.sub("", base).strip(), url)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        return url
    netloc = _netloc(parts.netloc, scheme)
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE)) or "/"
    query = _query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def _netloc(netloc: str, scheme: str) -> str:
    userinfo, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        host, _, rest = hostport.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    host = host.lower().rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    if port == "" or (port.isdigit() and int(port) == _DEFAULT_PORTS[scheme]):
        hostport = host
    else:
        hostport = f"{host}:{port}"
    return f"{userinfo}@{hostport}" if userinfo else hostport


def _query(query: str) -> str:
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        name, eq, value = item.partition("=")
        if is_tracking_param(name):
            continue
        name = _normalise_escapes(name, _QUERY_SAFE - {"&", "="})
        value = _normalise_escapes(value, _QUERY_SAFE - {"&"})
        pairs.append((name, eq, value))
    pairs.sort(key=lambda p: (p[0], p[2]))
    return "&".join(n + eq + v for n, eq, v in pairs)


def _normalise_escapes(text: str, safe: frozenset[str]) -> str:
    """Decode escapes of unreserved characters, upper-case the others, encode unsafe characters."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and text[i + 1 : i + 2] in _HEX and text[i + 2 : i + 3] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, for paths like ``/a/./b/../c``."""
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for seg in segments:
        if seg == ".":
            continue
        if seg == "..":
            if len(out) > 1:
                out.pop()
            continue
        out.append(seg)
    if segments[-1] in (".", ".."):
        out.append("")
    result = "/".join(out)
    return result if result.startswith("/") or not path.startswith("/") else "/" + result


# --------------------------------------------------------------------------- redaction

REDACTED = "***"
# Words of a parameter name that make its value a secret (``api_key``, ``X-Amz-Signature``,
# ``accessToken``); names ending in key/token/secret/password count too (``apikey``).
SECRET_WORDS = frozenset(
    {
        "key", "apikey", "token", "secret", "password", "passwd", "pwd", "pass", "passphrase", "sig",
        "signature", "auth", "authorization", "credential", "credentials", "session", "sessionid",
    }
)  # fmt: skip
_SECRET_ENDINGS = ("apikey", "accesskey", "secretkey", "privatekey", "token", "secret", "password", "passwd",
                   "signature")  # fmt: skip
_NAME_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_USERINFO = re.compile(r"(?<=//)[^/?#@\s]*@")
_PAIR = re.compile(r"(?<=[?&#;])([^=&#;]+)=([^&#;]*)")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter named ``name`` (any case, percent-encoded or not) holds a secret."""
    name = unquote_plus(name).strip()
    lower = name.lower()
    if lower.endswith(_SECRET_ENDINGS):
        return True
    return any(word.lower() in SECRET_WORDS for word in _NAME_WORDS.findall(name))


def _redact_pair(match: re.Match) -> str:
    name, value = match.group(1), match.group(2)
    return f"{name}={REDACTED}" if value and is_secret_param(name) else match.group(0)


def redact_url(url: str) -> str:
    """``url`` fit to be shown: user-info (``user:password@``) and the values of secret-looking
    query (or fragment) parameters (``key``, ``apikey``, ``token``, ``secret``, ``password``,
    ``sig`` …) become ``***``; everything else is kept as written. Never raises."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal: read it as text
        return _PAIR.sub(_redact_pair, _USERINFO.sub(f"{REDACTED}@", url))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = _PAIR.sub(_redact_pair, "?" + parts.query)[1:]
    fragment = _PAIR.sub(_redact_pair, "#" + parts.fragment)[1:]
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


# A URL in free text (an error, a log line): up to white space, quotes or angle brackets; the
# punctuation that usually closes the sentence around it is left outside.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`]+")
_TRAILING = ".,;:!?)]}"


def _redact_found(match: re.Match) -> str:
    url = match.group(0)
    tail = len(url) - len(url.rstrip(_TRAILING))
    if tail:
        return redact_url(url[:-tail]) + url[-tail:]
    return redact_url(url)


def redact_text(text: str) -> str:
    """``text`` (an error message, a log line) with every URL in it as :func:`redact_url` shows it."""
    if not text or "://" not in text:
        return text
    return _URL_IN_TEXT.sub(_redact_found, text)


def without_userinfo(url: str) -> str:
    """``url`` without ``user:password@``: links found in documents never carry credentials
    into storage (the configured source's are added back when fetching, see ``fetch.http``)."""
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(
        (parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment)
    )


# --------------------------------------------------------------------------- feed items without a page

FEED_ITEM = "monitor-feed-item-"  # the fragment naming an item that has no page of its own


def feed_item_url(link: str, feed_url: str, key: str) -> str:
    """The identity (and link) of a feed item that has no URL of its own: ``link`` (the site the
    feed describes, else the feed) with a fragment hashing the feed and ``key`` (the item's GUID,
    else its title and summary). Canonical URLs never have a fragment, so it names no page."""
    feed = canonical_url(redact_url(without_userinfo(feed_url)))
    digest = sha256(f"{feed}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{canonical_url(redact_url(without_userinfo(link)))}#{FEED_ITEM}{digest}"


def is_feed_item(url: str) -> bool:
    """Whether ``url`` is a :func:`feed_item_url`: there is no page to fetch, only the feed's text."""
    return f"#{FEED_ITEM}" in url
