"""Every date the monitor reads, and the clock: one home, so a date means the same thing whether
it came from a feed, a sitemap, a page, a URL or a user's command line.

- ``utcnow``: the current time (aware UTC); the models' column defaults use it too.
- Feed dates (:func:`parse_date`, :func:`feed_field_date`): feedparser's RFC 822 / ISO 8601
  parser, and dateparser (explicit English, French and Arabic) for what feedparser misreads
  silently (AM/PM, zone names it does not know) or cannot read (``3 juillet 2025``).
- Sitemap dates (:func:`w3c_date`): W3C datetimes, where a day without a time may stand for its
  first or its last moment.
- Page dates (:func:`iso_page_date`, :func:`page_published`): the ISO values a page states in its
  markup, and the choice between them and htmldate's guess.
- URL dates (:func:`url_span`): the day or month a URL path names, as a span.
- Publication (:func:`publication`): the feed's date beats the page's, else the first-seen time.
- User dates (:func:`parse_user_date`) and a backfill's :class:`DateRange`.

A date without an offset is localised in the timezone the caller gives (the source's, or the
config's for a user's date); every function returns aware datetimes.
"""

from __future__ import annotations

import logging
import re
import time as _time
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DATE_LANGUAGES = ["en", "fr", "ar"]  # the languages dateparser is told to read


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class DateRange:
    """A backfill's inclusive range of publication dates (aware datetimes)."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


# --------------------------------------------------------------------------- feed dates

# A time of day that starts the time part: "T10:00", " 4:35", not the "01:00" of "+01:00".
_TIME = re.compile(r"(?:^|[T\s,])\d{1,2}:\d{2}(?::\d{1,2})?(?:[.,]\d+)?", re.I)
_MERIDIEM = re.compile(r"^[ap]\.?\s?m\.?(?=\s|$)", re.I)
_TRAILING_OFFSET = re.compile(r"(?:\dZ|[+-]\d{2}:?\d{2})\s*$", re.I)
# Zone names feedparser converts correctly; any other trailing zone name goes to dateparser.
_FEEDPARSER_ZONES = {"z", "ut", "utc", "gmt", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt"}


def parse_date(raw: str, tz: tzinfo) -> datetime | None:
    """An aware datetime from a feed date string: ISO 8601, RFC 822, or (via dateparser) anything
    in English, French or Arabic. A date with no offset is localised in ``tz``."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        from feedparser.datetimes import _parse_date as feedparser_date  # only for non-ISO dates

        struct = feedparser_date(raw)
        if struct and not _needs_dateparser(raw):
            return _from_struct(struct, raw, tz)
        return _dateparser(raw, tz)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


def feed_field_date(raw: str, struct: _time.struct_time | None, tz: tzinfo) -> datetime | None:
    """The date of one feed field, given its raw text and feedparser's parse of it (``*_parsed``,
    UTC): feedparser's, unless it misread the form, then dateparser's, then feedparser's anyway."""
    if struct and not _needs_dateparser(raw):
        return _from_struct(struct, raw, tz)
    if raw:
        found = _dateparser(raw, tz)
        if found is not None:
            return found
    return _from_struct(struct, raw, tz) if struct else None


def is_naive_date(raw: str) -> bool:
    """True when a date string carries no UTC offset or zone name (``2024-05-01 10:00``)."""
    raw = raw.strip()
    match = _TIME.search(raw)
    if match is None:
        return not _TRAILING_OFFSET.search(raw)
    rest = _MERIDIEM.sub("", raw[match.end() :].strip()).strip()
    return rest == ""


def _from_struct(struct: _time.struct_time, raw: str, tz: tzinfo) -> datetime:
    dt = datetime(*struct[:6], tzinfo=UTC)
    if raw and is_naive_date(raw):
        return dt.replace(tzinfo=tz)  # feedparser read the wall-clock time as UTC
    return dt


def _needs_dateparser(raw: str) -> bool:
    """Forms feedparser misreads silently: AM/PM (ignored) and zone names it does not know (UTC)."""
    match = _TIME.search(raw or "")
    if match is None:
        return False
    rest = raw[match.end() :].strip()
    if _MERIDIEM.match(rest):
        return True
    return rest.isalpha() and rest.lower() not in _FEEDPARSER_ZONES


def _dateparser(raw: str, tz: tzinfo) -> datetime | None:
    raw = raw.strip()[:100]
    if re.fullmatch(r"\d{9,10}", raw):  # a Unix timestamp
        return datetime.fromtimestamp(int(raw), UTC)
    try:
        import dateparser  # slow to import: only when a date needs it

        dt = dateparser.parse(raw, languages=DATE_LANGUAGES)
    except Exception:  # noqa: BLE001 - dateparser may raise on odd input; a date is optional
        log.debug("dateparser failed on %r", raw, exc_info=True)
        return None
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


# --------------------------------------------------------------------------- sitemap dates

_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^\d{4}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def w3c_date(text: str | None, tz: tzinfo, *, latest: bool = False) -> datetime | None:
    """An aware datetime from a W3C datetime (or, failing that, any date ``parse_date`` reads).

    A value without a time of day (``2025-07-01``, ``2025-07``, ``2025``) is the first moment
    it names, or the last one with ``latest``; a value without an offset is read in ``tz``.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        if _DAY.match(text):
            day = date.fromisoformat(text)
            return _span(day, day, tz)[1 if latest else 0]
        month = _YEAR_MONTH.match(text)
        if month:
            return _month_span(int(month.group(1)), int(month.group(2)), tz)[1 if latest else 0]
        if _YEAR.match(text):
            year = int(text)
            return _span(date(year, 1, 1), date(year, 12, 31), tz)[1 if latest else 0]
        moment = datetime.fromisoformat(text)
    except ValueError:
        return parse_date(text, tz)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


# --------------------------------------------------------------------------- URL dates

_URL_DAY = re.compile(r"(?<!\d)((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?!\d)")
_URL_MONTH = re.compile(r"/((?:19|20)\d{2})/(0[1-9]|1[0-2])(?:/|$)")
_FILE_MONTH = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_](0[1-9]|1[0-2])(?!\d)")


def url_span(url: str, tz: tzinfo, *, sitemap: bool = False) -> tuple[datetime, datetime] | None:
    """The day (``/2025/07/03/``, ``2025-07-03``, ``20250703``) or month (``/2025/07/``; in a
    sitemap's file name also ``-2025-07``) a URL path names, as [first moment, last moment]."""
    path = urlsplit(url).path
    found = _URL_DAY.search(path)
    try:
        if found:
            day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
            return _span(day, day, tz)
        found = _URL_MONTH.search(path) or (_FILE_MONTH.search(path.rsplit("/", 1)[-1]) if sitemap else None)
        if found:
            return _month_span(int(found.group(1)), int(found.group(2)), tz)
    except ValueError:
        return None
    return None


def _span(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """[the first moment of ``first``, the last moment of ``last``] in ``tz``."""
    return datetime.combine(first, time.min, tz), datetime.combine(last, time.max, tz)


def _month_span(year: int, month: int, tz: tzinfo) -> tuple[datetime, datetime]:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return _span(date(year, month, 1), last, tz)


# --------------------------------------------------------------------------- page dates

_EARLIEST = datetime(1995, 1, 1)
_HAS_TIME = re.compile(r"\d[T ]\d{1,2}:\d{2}|T\d{4}")


def iso_page_date(value: str | None) -> tuple[datetime, bool] | None:
    """(datetime, has_time) for a plausible ISO 8601 value a page states (not before 1995, not
    after the day after tomorrow); naive unless it carries an offset."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    now = datetime.now(UTC) + timedelta(days=2)
    if not _EARLIEST <= parsed.replace(tzinfo=None) <= now.replace(tzinfo=None):
        return None
    has_time = bool(_HAS_TIME.search(value)) and not (
        parsed.time() == datetime.min.time() and not parsed.tzinfo
    )
    return parsed, has_time


def _vague(guess: tuple[datetime, bool], url: str) -> bool:
    """htmldate's last resorts (a copyright year, a bare year or month) come out as the 1st of a
    month at midnight: too vague to date an article unless the URL says so."""
    day, has_time = guess
    return (
        not has_time and day.day == 1 and not re.search(rf"{day.year}[/-]?{day.month:02}[/-]?01(?!\d)", url)
    )


def page_published(
    stated: tuple[datetime, bool] | None, htmldate_value: str | None, url: str
) -> datetime | None:
    """The date a page states in its markup (``stated``, from :func:`iso_page_date`), else
    htmldate's guess; the one with a time of day wins when both name the same day."""
    guess = iso_page_date(htmldate_value)
    if guess and _vague(guess, url):
        guess = None
    if stated and (stated[1] or not guess or not guess[1] or guess[0].date() != stated[0].date()):
        return stated[0]
    return guess[0] if guess else None


def publication(
    feed: datetime | None, page: datetime | None, first_seen: datetime, tz: tzinfo
) -> tuple[datetime, str]:
    """(publication date, where it came from): the feed's (or sitemap's) date beats the page's; a
    naive page date is read in ``tz`` (the source's); else the time the article was first seen."""
    if feed is not None:
        return feed, "feed"
    if page is not None:
        return (page.replace(tzinfo=tz) if page.tzinfo is None else page), "page"
    return first_seen, "first-seen"


# --------------------------------------------------------------------------- user dates

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_user_date(value: str, tz: tzinfo, *, end_of_day: bool = False) -> datetime:
    """An aware datetime from ``2025-07-01``, ``2025-07-01T08:30``, ISO with offset, or ``7d``.

    A date or naive time is read in ``tz``; a bare date is the start of that day (or its last
    instant with ``end_of_day``, for inclusive ranges). Raises ValueError with a clear message.
    """
    text = value.strip()
    rel = _RELATIVE.match(text.lower())
    if rel:
        return utcnow() - timedelta(**{_UNITS[rel.group(2)]: int(rel.group(1))})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return _span(day, day, tz)[1 if end_of_day else 0]
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid date {value!r}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[+HH:MM], or a span such as 7d"
        ) from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed
