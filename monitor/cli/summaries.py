"""What the commands that do work print when they are done: a run's per-source reports, a
backfill's summary, a rematch, a retry, a sample alert, a migrated database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.table import Table

from monitor.cli.render import out, plain, safe_url

if TYPE_CHECKING:  # the library is imported by the commands, when they run
    from monitor.alerts.admin import RetryResult
    from monitor.alerts.outbox import SendStats
    from monitor.alerts.send import SendResult
    from monitor.backfill import BackfillReport
    from monitor.config import Config
    from monitor.pipeline import PollReport
    from monitor.topics import RematchReport


def poll_reports(reports: list[PollReport], stats: SendStats) -> None:
    """``monitor run --once``: one row per source, then alerts."""
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
            plain(f"{r.source}: {r.error}")
    out.print(f"alerts: {stats.sent} sent, {stats.failed} failed (will retry), {stats.dead} dead")


def backfill(cfg: Config, report: BackfillReport, start: datetime, end: datetime, notify: bool) -> bool:
    """``monitor backfill``: per source, what discovery found and what became of it; then the
    ``--notify`` digests. True when a digest failed (the command then exits 1)."""
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
            plain(f"{s.source}: {error}")
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
            plain(f"digest sent to {d.channel}: {d.rows} stories")
    return failed


def rematched(name: str, report: RematchReport) -> None:
    """``monitor topics rematch``."""
    plain(
        f"topic {name!r}: {report.scanned} stored articles matched again: {report.added} added, "
        f"{report.removed} removed, {report.kept} kept. New matches were stored without alerts."
    )


def retried(result: RetryResult, *, all_: bool) -> None:
    """``monitor alerts retry``."""
    out.print(
        f"requeued: {len(result.requeued)}"
        + (f" ({', '.join(map(str, result.requeued))})" if result.requeued and not all_ else "")
    )
    if result.missing:
        out.print(f"no such alert: {', '.join(map(str, result.missing))}")
    if result.busy:
        out.print(f"already queued or being sent: {', '.join(map(str, result.busy))}")


def sample_sent(channel: str, result: SendResult) -> None:
    """``monitor notify-test`` succeeded."""
    services = ", ".join(r.get("service", "?") for r in result.results) or channel
    out.print(f"sent a sample alert to {channel!r} ({services})")


def database_ready(url: str) -> None:
    """``monitor db upgrade`` succeeded."""
    out.print(f"database {safe_url(url)} is up to date")
