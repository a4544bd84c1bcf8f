"""``monitor matches`` and ``monitor inspect``: what was matched, and what one page would match."""

from __future__ import annotations

import asyncio

import typer

from monitor.cli import render
from monitor.cli.context import Format, InspectFormat, database, fail, load_config, parse_date


def matches(
    ctx: typer.Context,
    topic: list[str] = typer.Option(None, "--topic", "-t", help="Only this topic (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Published on/after DATE (or 7d, 12h)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
    limit: int = typer.Option(200, "--limit", help="At most this many rows (0: no limit)."),
) -> None:
    """List matched articles: topic, title, source, published, url, matched terms."""
    from monitor.queries import list_matches

    cfg = load_config(ctx)
    since_dt = parse_date(since, cfg, "--since") if since else None
    with database(cfg) as factory, factory() as session:
        rows = list_matches(session, topics=topic or None, since=since_dt, limit=limit or None)
    render.matches(rows, cfg.tz, fmt.value)


def inspect(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="An article URL, or a saved HTML file."),
    fmt: InspectFormat = typer.Option(InspectFormat.text, "--format", "-f"),
) -> None:
    """Show what extraction and every topic make of one page."""
    from monitor.inspect import inspect_page

    cfg = load_config(ctx)
    try:
        result = asyncio.run(inspect_page(cfg, target))
    except ValueError as exc:
        raise fail(f"{target}: {exc}", 1) from None
    render.inspected(result, as_json=fmt is InspectFormat.json)
