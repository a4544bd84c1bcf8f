"""Dates typed by users on the command line (``--since``, ``--from``, ``--to``)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from monitor.db.models import utcnow

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
            moment = datetime.combine(day, time.max if end_of_day else time.min)
            return moment.replace(tzinfo=tz)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid date {value!r}: use YYYY-MM-DD, YYYY-MM-DDTHH:MM[+HH:MM], or a span such as 7d"
        ) from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed
