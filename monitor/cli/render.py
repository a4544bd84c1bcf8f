"""What the listing commands print: rich tables for people, JSON and CSV for scripts.

Each function takes what the library returned and prints it; none decides anything. Tables that
a pipe or cron may read (status, backfill) fit 80 columns.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the library is imported by the commands, when they run
    from monitor.alerts.admin import AlertRow
    from monitor.config import Config
    from monitor.health import SourceHealth
    from monitor.queries import MatchRow
    from monitor.topics import BacktestReport, BacktestRow

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def plain(text: str) -> None:
    """One line printed as is (no markup, no highlighting): names and errors come from outside."""
    out.print(text, markup=False, highlight=False)


def safe_url(url: str) -> str:
    """A database URL with its password hidden, for printing (channel URLs:
    ``alerts.secrets.mask_channel_url``; source URLs: ``urls.redact_url``)."""
    return re.sub(r"(://[^:/@?#]+:)[^@/?#]+@", r"\1***@", url)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string starting like a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """CSV to standard output, every cell through :func:`csv_cell` (titles come from strangers:
    ``=HYPERLINK(…)`` must stay text). Every CSV output goes through here."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    sys.stdout.write(buf.getvalue())


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def local_iso(moment: datetime | None, tz: tzinfo) -> str | None:
    return moment.astimezone(tz).isoformat() if moment else None


def local_minute(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""


def _minute(iso_text: str | None) -> str:
    """``2026-11-20 09:30`` from an ISO date-time (already local)."""
    return iso_text[:16].replace("T", " ") if iso_text else ""


def _human_interval(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# --------------------------------------------------------------------------- check, status


def config_summary(cfg: Config) -> None:
    """``monitor check``: the config's sources, topics and channels (secrets masked)."""
    from monitor.alerts.secrets import mask_channel_url
    from monitor.urls import redact_url

    out.print(f"[bold]{cfg.path}[/]: valid. database: {safe_url(cfg.database)}, timezone: {cfg.timezone}")
    table = Table("source", "kind", "url", "interval", title="Sources")
    for s in cfg.sources:
        table.add_row(s.name, s.kind, redact_url(s.url), _human_interval(s.interval))
    out.print(table)
    table = Table("topic", "keywords / query", "exclude", "channels", title="Topics")
    for t in cfg.topics:
        what = ", ".join(t.keywords) + (f"  query: {t.query}" if t.query else "")
        names = ", ".join(c.name for c in cfg.topic_channels(t)) or "(none)"
        table.add_row(t.name, what, ", ".join(t.exclude), names)
    out.print(table)
    table = Table("channel", "url", "delivery", title="Channels")
    for c in cfg.channels:
        table.add_row(c.name, mask_channel_url(c.url), f"digest {c.digest}" if c.digest else "immediate")
    out.print(table)
    for s in cfg.sources:
        if s.interval < 60:
            out.print(f"warning: source {s.name!r}: interval under 1 minute may get you blocked")


def source_health(rows: list[SourceHealth], cfg: Config, *, as_json: bool) -> None:
    """``monitor status``: one row per source."""
    tz = cfg.tz
    if as_json:
        print_json([{
            "source": h.name, "kind": h.kind, "url": h.url, "flags": h.flags,
            "last_success": iso(h.last_success_at), "last_error": h.last_error, "last_error_at": iso(h.last_error_at),
            "consecutive_failures": h.consecutive_failures, "items_24h": h.items_24h,
            "last_item": iso(h.last_item_at), "next_poll": iso(h.next_poll_at),
            "pending_pages": h.pending, "failed_pages": h.failed_pages, "disabled": h.disabled,
        } for h in rows])  # fmt: skip
        return
    # Fits 80 columns (what a pipe or cron gets): no borders, no year for this year's dates, dates
    # never cut; errors go below the table, one line each.
    this_year = datetime.now(tz).year

    def short(moment: datetime | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(tz)
        return local.strftime("%m-%d %H:%M" if local.year == this_year else "%Y-%m-%d %H:%M")

    table = Table(title=f"Sources ({cfg.timezone})", box=box.SIMPLE_HEAD)
    table.add_column("source", overflow="fold")
    table.add_column("flags", no_wrap=True)
    table.add_column("last success", no_wrap=True)
    table.add_column("items 24h", justify="right", no_wrap=True)
    table.add_column("next poll", no_wrap=True)
    table.add_column("pending", justify="right", no_wrap=True)
    for h in rows:
        flags = " ".join(f"[red]{f}[/]" for f in h.flags) or "[green]ok[/]"
        next_poll = "" if h.disabled else short(h.next_poll_at)
        table.add_row(h.name, flags, short(h.last_success_at), str(h.items_24h), next_poll, str(h.pending))
    out.print(table)
    errors = [h for h in rows if h.last_error or h.disabled]
    if errors:
        out.print("Last errors:")
    for h in errors:
        plain(f"  {h.name}: {local_minute(h.last_error_at, tz)} {h.last_error or h.disabled}")


# --------------------------------------------------------------------------- matches, inspect, topics test


def _article(row: MatchRow | BacktestRow, tz: tzinfo) -> dict:
    """The fields a stored or would-be match shows of its article, and why it matched."""
    return {
        "title": row.title,
        "source": row.source,
        "published": local_iso(row.published, tz),
        "url": row.url,
        "terms": row.terms,
        "fields": row.fields,
        "snippet": row.snippet,
    }


def matches(rows: list[MatchRow], tz: tzinfo, fmt: str) -> None:
    """``monitor matches``: as a table, JSON or CSV."""
    records = [{"topic": r.topic, **_article(r, tz)} for r in rows]
    if fmt == "json":
        print_json(records)
    elif fmt == "csv":
        write_csv(
            ["topic", "title", "source", "published", "url", "terms"],
            (
                [r["topic"], r["title"], r["source"], r["published"], r["url"], "; ".join(r["terms"])]
                for r in records
            ),
        )
    else:
        table = Table(
            "topic", "title", "source", "published", "url", "terms", title=f"{len(records)} matches"
        )
        for rec in records:
            table.add_row(
                rec["topic"], rec["title"] or "", rec["source"], _minute(rec["published"]), rec["url"],
                ", ".join(rec["terms"]),
            )  # fmt: skip
        out.print(table)


def inspected(result: dict, *, as_json: bool) -> None:
    """``monitor inspect``: the page's metadata, the start of its text, and each topic's match."""
    if as_json:
        print_json(result)
        return
    out.print(f"[bold]{result['title'] or '(no title)'}[/]")
    for key in ("url", "published", "language", "author"):
        out.print(f"{key}: {result[key]}", highlight=False)
    out.print()
    text = result["text"] or ""
    plain(text[:1500] + ("…" if len(text) > 1500 else ""))
    out.print()
    if not result["matches"]:
        out.print("no topic matches")
    for m in result["matches"]:
        out.print(f"[green]matches {m['topic']}[/]: {', '.join(m['matched'])} in {', '.join(m['fields'])}")
        plain(f"  {m['snippet']}")


def backtest(report: BacktestReport, topic: str, query: str | None, since: datetime | None, tz: tzinfo, *,
             as_json: bool, limit: int) -> None:  # fmt: skip
    """``monitor topics test``: what a topic would match."""
    if as_json:
        print_json({
            "topic": topic, "query": query, "since": iso(since), "scanned": report.scanned,
            "changed": report.changed,
            "matches": [{**_article(r, tz), "matched": r.matched, "stored": r.stored} for r in report.matches],
            "no_longer_matching": [
                {**_article(r, tz), "matched": r.matched, "stored": r.stored} for r in report.dropped
            ],
        })  # fmt: skip
        return
    shown = report.matches[:limit] if limit else report.matches
    title = f"{topic}: {len(report.matches)} of {report.scanned} stored articles would match"
    table = Table("published", "source", "title", "matched", "in", "status", "snippet", title=title)
    for row in shown:
        status = "stored" if row.stored else "new"
        table.add_row(
            _minute(local_iso(row.published, tz)), row.source, row.title or "", ", ".join(row.matched),
            ", ".join(row.fields), status, row.snippet or "",
        )  # fmt: skip
    out.print(table)
    if len(shown) < len(report.matches):
        out.print(f"… {len(report.matches) - len(shown)} more (--limit 0 shows all)")
    if report.dropped:
        table = Table(
            "published", "source", "title", "matched before", title="Stored matches it would no longer make"
        )
        for row in report.dropped:
            table.add_row(
                _minute(local_iso(row.published, tz)), row.source, row.title or "", ", ".join(row.matched)
            )
        out.print(table)
    if report.changed:
        out.print(
            f"The stored matches of {topic!r} were computed with another definition; "
            f"`monitor topics rematch` recomputes them."
        )
    out.print("Nothing was stored or alerted.")


# --------------------------------------------------------------------------- alerts


def alert_rows(rows: list[AlertRow], cfg: Config, *, as_json: bool) -> None:
    """``monitor alerts``: outbox rows, newest first."""
    if as_json:
        print_json([{
            "id": r.id, "status": r.status, "channel": r.channel, "topic": r.topic, "title": r.title,
            "outlet": r.outlet, "url": r.url, "attempts": r.attempts, "created": r.created_at.isoformat(),
            "next_attempt": iso(r.next_attempt_at), "sent": iso(r.sent_at), "last_error": r.last_error,
            "services": r.services,
        } for r in rows])  # fmt: skip
        return
    tz = cfg.tz
    table = Table("id", "status", "channel", "topic", "title", "outlet", "tries", "created", "next / sent",
                  title=f"{len(rows)} alerts ({cfg.timezone})")  # fmt: skip
    table.add_column("last error", overflow="fold")
    for r in rows:
        moment = r.sent_at if r.status == "sent" else r.next_attempt_at
        table.add_row(str(r.id), r.status, r.channel, r.topic, r.title, r.outlet, str(r.attempts),
                      local_minute(r.created_at, tz), local_minute(moment, tz), r.last_error or "")  # fmt: skip
    out.print(table)
