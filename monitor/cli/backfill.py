"""``monitor backfill``: the articles of a past date range, through the live pipeline."""

from __future__ import annotations

import asyncio
import sys

import typer

from monitor.cli import summaries
from monitor.cli.context import database_errors, fail, load_config, parse_date, source_named, topic_named
from monitor.cli.render import out


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

    cfg = load_config(ctx)
    start = parse_date(from_, cfg, "--from")
    end = parse_date(to, cfg, "--to", end_of_day=True)
    if start > end:
        raise fail(f"--from {from_} is after --to {to}")
    for name in source or []:
        source_named(cfg, name)
    for name in topic or []:
        topic_named(cfg, name)
    progress = RichProgress(out) if sys.stdout.isatty() else LogProgress()
    try:
        with database_errors(cfg):
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
        raise fail("interrupted: run the same command again to continue where it stopped", 130) from None
    if summaries.backfill(cfg, report, start, end, notify):
        raise typer.Exit(1)
