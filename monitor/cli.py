"""Command line: parse, call the pipeline/scheduler, print. No logic of its own."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from monitor.config import Config, ConfigError, TopicConfig, load

app = typer.Typer(
    help="Self-hosted news monitor: polls outlets, matches watch topics, alerts once per story.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
alerts_app = typer.Typer(
    help="The alert outbox: list rows, requeue failed or dead ones.", invoke_without_command=True
)
app.add_typer(alerts_app, name="alerts")
topics_app = typer.Typer(help="Try topics on stored articles; recompute their matches.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class InspectFormat(StrEnum):
    text = "text"
    json = "json"


class TableFormat(StrEnum):
    table = "table"
    json = "json"


class LogFormat(StrEnum):
    text = "text"
    json = "json"


def _setup_logging(verbose: bool, fmt: LogFormat) -> None:
    from monitor.logs import setup_logging

    level = logging.DEBUG if verbose else logging.INFO
    rich = err if fmt is LogFormat.text and sys.stderr.isatty() else None
    setup_logging(level=level, fmt=fmt.value, rich_console=rich)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def _config(ctx: typer.Context) -> Config:
    try:
        return load(ctx.obj.get("config"))
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{ctx.obj.get('config')}: {exc.strerror}") from None


def _parse_date(value: str, config: Config, option: str) -> datetime:
    from monitor.dates import parse_user_date

    try:
        return parse_user_date(value, config.tz)
    except ValueError as exc:
        raise _fail(f"{option}: {exc}") from None


@app.callback()
def main(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Config file (default: $MONITOR_CONFIG, else config/monitor.yaml)."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    log_format: LogFormat = typer.Option(
        LogFormat.text, "--log-format", help="Logs on stderr as text, or one JSON object per line."
    ),
) -> None:
    """Global options."""
    ctx.obj = {"config": str(config) if config else None}
    _setup_logging(verbose, log_format)


@app.command()
def check(ctx: typer.Context) -> None:
    """Validate the config; print its sources, topics and channels."""
    cfg = _config(ctx)
    out.print(f"[bold]{cfg.path}[/]: valid. database: {_safe_url(cfg.database)}, timezone: {cfg.timezone}")
    table = Table("source", "kind", "url", "interval", title="Sources")
    for s in cfg.sources:
        table.add_row(s.name, s.kind, s.url, _human_interval(s.interval))
    out.print(table)
    table = Table("topic", "keywords / query", "exclude", "channels", title="Topics")
    for t in cfg.topics:
        what = ", ".join(t.keywords) + (f"  query: {t.query}" if t.query else "")
        names = ", ".join(c.name for c in cfg.topic_channels(t)) or "(none)"
        table.add_row(t.name, what, ", ".join(t.exclude), names)
    out.print(table)
    table = Table("channel", "url", "delivery", title="Channels")
    for c in cfg.channels:
        table.add_row(c.name, _safe_url(c.url), f"digest {c.digest}" if c.digest else "immediate")
    out.print(table)
    for s in cfg.sources:
        if s.interval < 60:
            out.print(f"warning: source {s.name!r}: interval under 1 minute may get you blocked")


@app.command()
def run(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Poll every source once, alert, and exit."),
    http: str | None = typer.Option(
        None, "--http", metavar="HOST:PORT", help="Serve /healthz and Prometheus /metrics (daemon only)."
    ),
    watch_config: bool = typer.Option(
        False, "--watch-config", help="Reload the config when its file changes (SIGHUP always does)."
    ),
    tick: float = typer.Option(5.0, "--tick", min=0.05, hidden=True, help="Seconds between scheduler ticks."),
) -> None:
    """Run the monitor daemon (until SIGTERM/SIGINT), or one pass with --once."""
    from monitor.scheduler import DaemonError, run_daemon, run_once

    cfg = _config(ctx)
    address = _parse_address(http) if http else None
    try:
        if once:
            reports, stats = asyncio.run(run_once(cfg))
            _print_reports(reports, stats)
        else:
            asyncio.run(run_daemon(cfg, http=address, watch_config=watch_config, tick=tick))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except DaemonError as exc:
        raise _fail(str(exc), 1) from None
    except Exception as exc:  # e.g. the database is unreachable
        if _is_db_error(exc):
            raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None
        raise


def _parse_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _fail(f"--http: expected HOST:PORT such as 127.0.0.1:8080, got {value!r}")
    return host.strip("[]"), int(port)


@app.command()
def status(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json (csv: as table)."),
) -> None:
    """Each source's health: last success, last error, items in 24 h, next poll, flags."""
    from monitor.health import source_health
    from monitor.runtime import open_database

    cfg = _config(ctx)
    try:
        engine, factory = open_database(cfg)
    except Exception as exc:
        raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None
    with factory() as session:
        rows = source_health(session, cfg)
    engine.dispose()
    tz = cfg.tz

    def when(moment):
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    if fmt is Format.json:
        print(json.dumps([{
            "source": h.name, "kind": h.kind, "url": h.url, "flags": h.flags,
            "last_success": h.last_success_at.isoformat() if h.last_success_at else None,
            "last_error": h.last_error, "last_error_at": h.last_error_at.isoformat() if h.last_error_at else None,
            "consecutive_failures": h.consecutive_failures, "items_24h": h.items_24h,
            "last_item": h.last_item_at.isoformat() if h.last_item_at else None,
            "next_poll": h.next_poll_at.isoformat() if h.next_poll_at else None,
            "pending_pages": h.pending, "failed_pages": h.failed_pages, "disabled": h.disabled,
        } for h in rows], ensure_ascii=False, indent=2))  # fmt: skip
        return
    # Fits 80 columns (what a pipe or cron gets): no borders, no year for this year's dates, dates
    # never cut; errors go below the table, one line each.
    this_year = datetime.now(tz).year

    def short(moment):
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
        out.print(
            f"  {h.name}: {when(h.last_error_at)} {h.last_error or h.disabled}", markup=False, highlight=False
        )


def _print_reports(reports, stats) -> None:
    table = Table("source", "status", "found", "new", "processed", "matched", "retrying", "failed")
    for r in reports:
        status = ("not modified" if r.not_modified else "ok") if r.ok else "[red]error[/]"
        table.add_row(
            r.source, status, str(r.discovered), str(r.new), str(r.processed),
            str(r.matched), str(r.retrying), str(r.failed),
        )  # fmt: skip
    out.print(table)
    for r in reports:
        if not r.ok:
            out.print(f"{r.source}: {r.error}", markup=False, highlight=False)
    out.print(f"alerts: {stats.sent} sent, {stats.failed} failed (will retry), {stats.dead} dead")


@app.command()
def matches(
    ctx: typer.Context,
    topic: list[str] = typer.Option(None, "--topic", "-t", help="Only this topic (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Published on/after DATE (or 7d, 12h)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
    limit: int = typer.Option(200, "--limit", help="At most this many rows (0: no limit)."),
) -> None:
    """List matched articles: topic, title, source, published, url, matched terms."""
    from monitor.queries import list_matches
    from monitor.runtime import open_database

    cfg = _config(ctx)
    since_dt = _parse_date(since, cfg, "--since") if since else None
    try:
        engine, factory = open_database(cfg)
    except Exception as exc:
        raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None
    with factory() as session:
        rows = list_matches(session, topics=topic or None, since=since_dt, limit=limit or None)
    engine.dispose()
    tz = cfg.tz
    records = [
        {
            "topic": r.topic,
            "title": r.title,
            "source": r.source,
            "published": r.published.astimezone(tz).isoformat() if r.published else None,
            "url": r.url,
            "terms": r.terms,
            "fields": r.fields,
            "snippet": r.snippet,
        }
        for r in rows
    ]
    if fmt is Format.json:
        print(json.dumps(records, ensure_ascii=False, indent=2))
    elif fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["topic", "title", "source", "published", "url", "terms"])
        for rec in records:
            writer.writerow(
                [
                    rec["topic"],
                    rec["title"],
                    rec["source"],
                    rec["published"],
                    rec["url"],
                    "; ".join(rec["terms"]),
                ]
            )
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(
            "topic", "title", "source", "published", "url", "terms", title=f"{len(records)} matches"
        )
        for rec in records:
            published = rec["published"][:16].replace("T", " ") if rec["published"] else ""
            table.add_row(
                rec["topic"],
                rec["title"] or "",
                rec["source"],
                published,
                rec["url"],
                ", ".join(rec["terms"]),
            )
        out.print(table)


@app.command()
def inspect(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="An article URL, or a saved HTML file."),
    fmt: InspectFormat = typer.Option(InspectFormat.text, "--format", "-f"),
) -> None:
    """Show what extraction and every topic make of one page."""
    from monitor.inspect import inspect_page

    cfg = _config(ctx)
    try:
        result = asyncio.run(inspect_page(cfg, target))
    except ValueError as exc:
        raise _fail(f"{target}: {exc}", 1) from None
    if fmt is InspectFormat.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    out.print(f"[bold]{result['title'] or '(no title)'}[/]")
    for key in ("url", "published", "language", "author"):
        out.print(f"{key}: {result[key]}", highlight=False)
    out.print()
    text = result["text"] or ""
    out.print(text[:1500] + ("…" if len(text) > 1500 else ""), markup=False, highlight=False)
    out.print()
    if not result["matches"]:
        out.print("no topic matches")
    for m in result["matches"]:
        out.print(f"[green]matches {m['topic']}[/]: {', '.join(m['terms'])} in {', '.join(m['fields'])}")
        out.print(f"  {m['snippet']}", markup=False, highlight=False)


@app.command()
def backfill(
    ctx: typer.Context,
    from_: str = typer.Option(..., "--from", help="First day, YYYY-MM-DD (or a date-time), in `timezone`."),
    to: str = typer.Option(..., "--to", help="Last day, inclusive."),
    source: list[str] = typer.Option(None, "--source", "-s", help="Only this source (repeatable)."),
    topic: list[str] = typer.Option(None, "--topic", "-t", help="Only match this topic (repeatable)."),
    notify: bool = typer.Option(False, "--notify", help="Send one digest per channel of the stories found."),
) -> None:
    """Store and match the articles published from --from to --to (inclusive); alert only with --notify.

    Interrupted, the same command continues where it stopped."""
    from monitor.backfill import LogProgress, RichProgress, run_backfill
    from monitor.dates import parse_user_date

    cfg = _config(ctx)
    dates = []
    for option, value, end_of_day in (("--from", from_, False), ("--to", to, True)):
        try:
            dates.append(parse_user_date(value, cfg.tz, end_of_day=end_of_day))
        except ValueError as exc:
            raise _fail(f"{option}: {exc}") from None
    start, end = dates
    if start > end:
        raise _fail(f"--from {from_} is after --to {to}")
    for name in source or []:
        _source(cfg, name)
    for name in topic or []:
        _topic(cfg, name)
    progress = RichProgress(out) if sys.stdout.isatty() else LogProgress()
    try:
        report = asyncio.run(
            run_backfill(
                cfg,
                start,
                end,
                sources=source or None,
                topics=topic or None,
                notify=notify,
                progress=progress,
            )
        )
    except KeyboardInterrupt:
        raise _fail("interrupted: run the same command again to continue where it stopped", 130) from None
    except Exception as exc:
        if _is_db_error(exc):
            raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None
        raise
    _print_backfill(cfg, report, start, end, notify)


def _print_backfill(cfg: Config, report, start: datetime, end: datetime, notify: bool) -> None:
    from rich.markup import escape

    tz = cfg.tz
    span = f"{start.astimezone(tz):%Y-%m-%d %H:%M} to {end.astimezone(tz):%Y-%m-%d %H:%M} ({cfg.timezone})"
    # Fits 80 columns (a pipe or cron), like `status`: no borders, numbers never cut, the method
    # under the source's name.
    table = Table(title=f"Backfill {span}", box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False)
    table.add_column("source / method", overflow="fold")
    for header in ("found", "new", "known", "in\nrange", "matched", "out of\nrange", "undated", "errors"):
        table.add_column(header, justify="right", no_wrap=True)
    for s in report.sources:
        errors = f"[red]{s.error_count}[/]" if s.error_count else "0"
        name = f"{escape(s.source)}\n[dim]{s.method}[/]"
        table.add_row(name, str(s.candidates), str(s.new), str(s.known), str(s.in_range), str(s.matched),
                      str(s.out_of_range), str(s.undated), errors)  # fmt: skip
    out.print(table)
    for s in report.sources:
        for error in s.errors:
            out.print(f"{s.source}: {error}", markup=False, highlight=False)
        if s.failed:
            out.print(
                f"{s.source}: {s.failed} pages failed; run the backfill again to retry them", markup=False
            )
    if not notify:
        out.print("No alerts were sent (--notify sends one digest per channel).")
    elif not report.digests:
        out.print("Nothing new to alert.")
    failed = False
    for d in report.digests:
        if d.error:
            failed = True
            out.print(
                f"digest to {d.channel} failed ({d.error}); run with --notify again to retry", markup=False
            )
        else:
            out.print(f"digest sent to {d.channel}: {d.rows} stories", markup=False, highlight=False)
    if failed:
        raise typer.Exit(1)


def _source(cfg: Config, name: str):
    """The config's source called ``name``, or exit 2 with a did-you-mean."""
    import difflib

    try:
        return cfg.source(name)
    except KeyError:
        close = difflib.get_close_matches(name, [s.name for s in cfg.sources], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise _fail(f"unknown source {name!r}{hint}") from None


def _topic(cfg: Config, name: str) -> TopicConfig:
    """The config's topic called ``name``, or exit 2 with a did-you-mean."""
    import difflib

    for topic in cfg.topics:
        if topic.name == name:
            return topic
    close = difflib.get_close_matches(name, [t.name for t in cfg.topics], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise _fail(f"unknown topic {name!r}{hint}")


@topics_app.command("test")
def topics_test(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="A topic of the config (or give --query)."),
    query: str | None = typer.Option(None, "--query", "-q", help="An ad-hoc query instead of a topic."),
    since: str | None = typer.Option(None, "--since", help="Published on/after DATE (or 7d, 12h)."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f"),
    limit: int = typer.Option(200, "--limit", help="Print at most this many matches (0: all)."),
) -> None:
    """Run a topic over stored articles: what it would have matched and why. Stores and alerts nothing."""
    from monitor.match import QueryError
    from monitor.runtime import open_database
    from monitor.topics import backtest

    cfg = _config(ctx)
    if (name is None) == (query is None):
        raise _fail("give a topic NAME or --query QUERY (one of them)")
    if query is not None:
        if not query.strip():
            raise _fail("--query: the query is empty")
        topic = TopicConfig(name="(query)", query=query)
    else:
        topic = _topic(cfg, name)
    since_dt = _parse_date(since, cfg, "--since") if since else None
    try:
        engine, factory = open_database(cfg)
    except Exception as exc:
        raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None
    try:
        with factory() as session:
            report = backtest(session, topic, since=since_dt)
    except QueryError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    tz = cfg.tz

    def record(row) -> dict:
        return {
            "title": row.title,
            "source": row.source,
            "published": row.published.astimezone(tz).isoformat() if row.published else None,
            "url": row.url,
            "terms": row.terms,
            "fields": row.fields,
            "snippet": row.snippet,
            "stored": row.stored,
        }

    if fmt is TableFormat.json:
        data = {
            "topic": topic.name,
            "query": query,
            "since": since_dt.isoformat() if since_dt else None,
            "scanned": report.scanned,
            "changed": report.changed,
            "matches": [record(r) for r in report.matches],
            "no_longer_matching": [record(r) for r in report.dropped],
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    shown = report.matches[:limit] if limit else report.matches
    title = f"{topic.name}: {len(report.matches)} of {report.scanned} stored articles would match"
    table = Table("published", "source", "title", "matched", "in", "status", "snippet", title=title)
    for row in shown:
        rec = record(row)
        published = rec["published"][:16].replace("T", " ") if rec["published"] else ""
        status = "stored" if row.stored else "new"
        table.add_row(
            published, row.source, row.title or "", ", ".join(row.terms), ", ".join(row.fields), status,
            row.snippet or "",
        )  # fmt: skip
    out.print(table)
    if len(shown) < len(report.matches):
        out.print(f"… {len(report.matches) - len(shown)} more (--limit 0 shows all)")
    if report.dropped:
        table = Table(
            "published", "source", "title", "matched before", title="Stored matches it would no longer make"
        )
        for row in report.dropped:
            rec = record(row)
            published = rec["published"][:16].replace("T", " ") if rec["published"] else ""
            table.add_row(published, row.source, row.title or "", ", ".join(row.terms))
        out.print(table)
    if report.changed:
        out.print(
            f"The stored matches of {topic.name!r} were computed with another definition; "
            f"`monitor topics rematch` recomputes them."
        )
    out.print("Nothing was stored or alerted.")


@topics_app.command("rematch")
def topics_rematch(
    ctx: typer.Context, name: str = typer.Argument(..., help="A topic of the config.")
) -> None:
    """Recompute the stored matches of a topic after its definition changed (no alerts are sent)."""
    from monitor.runtime import open_database
    from monitor.topics import rematch

    cfg = _config(ctx)
    _topic(cfg, name)
    try:
        engine, factory = open_database(cfg)
    except Exception as exc:
        raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None
    try:
        report = rematch(factory, cfg, name)
    finally:
        engine.dispose()
    out.print(
        f"topic {name!r}: {report.scanned} stored articles matched again: {report.added} added, "
        f"{report.removed} removed, {report.kept} kept. New matches were stored without alerts.",
        markup=False,
        highlight=False,
    )


def _open_db(cfg: Config):
    from monitor.runtime import open_database

    try:
        return open_database(cfg)
    except Exception as exc:
        raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    status_: str | None = typer.Option(
        None, "--status", "-s", help="pending, sending, sent, failed, dead or skipped."
    ),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel."),
    limit: int = typer.Option(50, "--limit", help="At most this many rows, newest first."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f"),
) -> None:
    """List outbox rows, newest first (`monitor alerts retry` requeues)."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.alerts.admin import list_alerts

    cfg = _config(ctx)
    engine, factory = _open_db(cfg)
    try:
        with factory() as session:
            rows = list_alerts(session, status=status_, channel=channel, limit=limit)
    except ValueError as exc:
        raise _fail(f"--status: {exc}") from None
    finally:
        engine.dispose()
    tz = cfg.tz

    def when(moment):
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else ""

    if fmt is TableFormat.json:
        print(json.dumps([{
            "id": r.id, "status": r.status, "channel": r.channel, "topic": r.topic, "title": r.title,
            "outlet": r.outlet, "url": r.url, "attempts": r.attempts, "created": r.created_at.isoformat(),
            "next_attempt": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
            "sent": r.sent_at.isoformat() if r.sent_at else None, "last_error": r.last_error,
            "services": r.services,
        } for r in rows], ensure_ascii=False, indent=2))  # fmt: skip
        return
    table = Table("id", "status", "channel", "topic", "title", "outlet", "tries", "created", "next / sent",
                  title=f"{len(rows)} alerts ({cfg.timezone})")  # fmt: skip
    table.add_column("last error", overflow="fold")
    for r in rows:
        moment = r.sent_at if r.status == "sent" else r.next_attempt_at
        table.add_row(str(r.id), r.status, r.channel, r.topic, r.title, r.outlet, str(r.attempts),
                      when(r.created_at), when(moment), r.last_error or "")  # fmt: skip
    out.print(table)


@alerts_app.command("retry")
def alerts_retry(
    ctx: typer.Context,
    ids: list[int] = typer.Argument(None, help="Outbox row ids (see `monitor alerts`)."),
    all_: bool = typer.Option(False, "--all", help="Every failed and dead row."),
) -> None:
    """Requeue rows for a fresh series of attempts (a sent row given by id is sent again)."""
    from monitor.alerts.admin import retry_alerts
    from monitor.db.session import transaction

    if bool(ids) == all_:
        raise _fail("give alert ids, or --all (not both)")
    cfg = _config(ctx)
    engine, factory = _open_db(cfg)
    with transaction(factory) as session:
        result = retry_alerts(session, None if all_ else ids)
    engine.dispose()
    out.print(
        f"requeued: {len(result.requeued)}"
        + (f" ({', '.join(map(str, result.requeued))})" if result.requeued and not all_ else "")
    )
    if result.missing:
        out.print(f"no such alert: {', '.join(map(str, result.missing))}")
    if result.busy:
        out.print(f"already queued or being sent: {', '.join(map(str, result.busy))}")
    if result.missing:
        raise typer.Exit(1)


@app.command("notify-test")
def notify_test(
    ctx: typer.Context, channel: str = typer.Argument(..., help="A channel name from the config.")
) -> None:
    """Send a sample alert (a sample digest to a digest channel) and report the result."""
    from monitor.alerts.admin import notify_test as send_sample

    cfg = _config(ctx)
    result = send_sample(cfg, channel)
    if not result.ok:
        raise _fail(f"channel {channel!r}: {result.error}", 1)
    services = ", ".join(r.get("service", "?") for r in result.results) or channel
    out.print(f"sent a sample alert to {channel!r} ({services})")


@app.command()
def serve(
    ctx: typer.Context,
    http: str = typer.Option("127.0.0.1:8000", "--http", metavar="HOST:PORT", help="Address to listen on."),
) -> None:
    """Read-only web UI over the database: topic pages, Atom feeds, stories, sources, alerts, search.

    Runs beside the daemon (same config) until SIGTERM/SIGINT; never creates or migrates the
    database. Binding anything but loopback needs `web: {token: ...}` in the config."""
    from monitor.web import ServeError
    from monitor.web import serve as serve_web

    cfg = _config(ctx)
    host, port = _parse_address(http)
    try:
        serve_web(cfg, host, port)
    except ServeError as exc:
        raise _fail(str(exc), exc.code) from None


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply database migrations (also done automatically at start)."""
    from monitor.runtime import open_database

    cfg = _config(ctx)
    try:
        engine, _ = open_database(cfg)
    except Exception as exc:
        raise _fail(f"database {_safe_url(cfg.database)}: {_one_line(exc)}", 1) from None
    engine.dispose()
    out.print(f"database {_safe_url(cfg.database)} is up to date")


# --------------------------------------------------------------------------- helpers


def _safe_url(url: str) -> str:
    """A URL with its password hidden, for printing."""
    import re

    return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", url)


def _human_interval(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _is_db_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError)


if __name__ == "__main__":  # pragma: no cover
    app()
