"""Bytes to text: one charset policy for every page and feed, and gzip recognised by its magic bytes.

Listing pages (live polling and backfill alike) and article pages are decoded by
:func:`decode_html`, so one page reads the same wherever it is fetched. Feeds go through the same
policy (:func:`feed_as_utf8`) and reach feedparser as UTF-8 that says so: left to itself,
feedparser reads an undeclared legacy feed (an Arabic windows-1256 one) as windows-1252.
Sitemaps keep their bytes (lxml reads the XML prolog; their text is URLs and dates) but are
gunzipped here, as feeds are.
"""

from __future__ import annotations

import codecs
import re
import zlib

GZIP_MAGIC = b"\x1f\x8b"

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""", re.I)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_XML_ENCODING_LABEL = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])[a-zA-Z0-9_.:-]+""")
# labels browsers read as a superset (WHATWG Encoding Standard)
_SUPERSETS = {"iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254", "tis-620": "cp874"}


def header_charset(headers: dict[str, str]) -> str | None:
    """The charset a Content-Type header declares (lower-case header names), if any."""
    match = _HEADER_CHARSET.search(headers.get("content-type", ""))
    return match.group(1) if match else None


def _codec(label: str | bytes | None) -> str | None:
    """Python codec name for a charset label, None if unknown or not ASCII-compatible."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):  # a page readable as ASCII is not UTF-16
        return "utf-8"
    return _SUPERSETS.get(name, name)


def decode_html(body: bytes, charset: str | None = None) -> str:
    """Decode a page: BOM, valid UTF-8, then the declared charset (``charset`` from the HTTP
    header, ``<meta>``, ``<?xml?>``), then charset_normalizer's guess, then UTF-8 with
    replacement characters.

    Valid UTF-8 wins over a declaration because servers and templates often mislabel UTF-8 pages
    as ISO-8859-1, while legacy-encoded text is almost never valid UTF-8 by accident. For the same
    reason a declared ISO-8859-1/windows-1252 (which decodes any bytes) yields to the guess when
    the guess reads the bytes as another script (Arabic windows-1256 labelled ISO-8859-1).
    """
    head = body[:4096]
    return _decode(
        body, [charset, *(m.group(1) for m in (_META_CHARSET.search(head), _XML_ENCODING.search(head)) if m)]
    )


def feed_as_utf8(body: bytes, charset: str | None = None) -> bytes:
    """A feed's bytes as UTF-8, its ``<?xml?>`` declaration (if any) saying so; decoded as pages
    are (BOM, valid UTF-8, the declared charset: ``charset`` from the HTTP header, then the XML
    declaration, then a guess from the bytes). Give feedparser these with ``charset=utf-8``."""
    if not body.startswith(tuple(bom for bom, _ in _BOMS)):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # the usual case: already UTF-8; only a declaration that says otherwise changes
            return _as_utf8_declared(body) if _declares_other(body) else body
    match = _XML_ENCODING.search(body[:4096])
    text = _decode(body, [charset, match.group(1) if match else None])
    return _as_utf8_declared(text.encode("utf-8"))


def _as_utf8_declared(body: bytes) -> bytes:
    return _XML_ENCODING_LABEL.sub(rb"\g<1>utf-8", body, count=1)


def _declares_other(body: bytes) -> bool:
    match = _XML_ENCODING.search(body[:1024])
    return bool(match) and match.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8")


def _decode(body: bytes, declared: list[str | bytes | None]) -> str:
    """The one policy: BOM, valid UTF-8, the ``declared`` charsets in order, a guess, UTF-8."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, "replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in (_codec(label) for label in declared):
        if codec and codec != "utf-8":
            try:
                text = body.decode(codec)
            except UnicodeDecodeError:
                continue
            return (_other_script(body) or text) if codec == "cp1252" else text
    for guess in _guesses(body):
        try:
            return body.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", "replace")


def _guesses(body: bytes) -> list[str]:
    from trafilatura.utils import detect_encoding  # charset_normalizer, only for legacy bytes

    return detect_encoding(body)


def _other_script(body: bytes) -> str | None:
    """The text of a page or feed declared ISO-8859-1/windows-1252 (every byte decodes) when its
    bytes are really another script's legacy charset (Arabic windows-1256, Cyrillic
    windows-1251): the guess from the bytes, if its letters beyond ASCII are mostly not Latin.
    None when the declaration holds (French or German text guessed as windows-1250 stays Latin)."""
    for guess in _guesses(body)[:1]:
        try:
            text = body.decode(guess)
        except (LookupError, UnicodeDecodeError):
            return None
        letters = [ch for ch in text if ord(ch) > 0x7F and ch.isalpha()]
        others = sum(1 for ch in letters if ord(ch) >= 0x370)  # Greek onwards: not Latin
        return text if letters and others > len(letters) / 2 else None
    return None


def html_document_text(body: bytes, headers: dict[str, str]) -> str:
    """A page as text for ``lxml.html`` (which refuses text that still declares an encoding):
    :func:`decode_html` with the header's charset, minus any ``<?xml ...?>`` declaration."""
    return _XML_DECLARATION.sub("", decode_html(body, header_charset(headers)), count=1)


class GzipError(ValueError):
    """A gzip body that cannot be used (corrupt, or larger than the cap once decompressed)."""


def maybe_gunzip(
    body: bytes,
    limit: int,
    *,
    corrupt: str = "corrupt gzip data",
    too_large: str | None = None,
    error: type[Exception] = GzipError,
) -> bytes:
    """A body that is still gzip (a ``.xml.gz`` served without Content-Encoding), decompressed up
    to ``limit`` bytes; any other body as it is.

    Raises ``error`` with the caller's wording: ``corrupt (why)`` for corrupt or truncated data
    that yields nothing, ``too_large`` for more than ``limit`` bytes uncompressed. A truncated
    stream that yields something gives it to the (lenient) parser.
    """
    if body[:2] != GZIP_MAGIC:
        return body
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decomp.decompress(body, limit)
    except zlib.error as exc:
        raise error(f"{corrupt} ({exc})") from None
    if decomp.unconsumed_tail:
        raise error(too_large or f"gzip data larger than {limit // 1_000_000} MB")
    if not decomp.eof and not data.strip():
        raise error(f"{corrupt} (truncated)")
    return data
