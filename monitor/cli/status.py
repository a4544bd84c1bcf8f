"""``monitor check`` and ``monitor status``: what the config holds, and how its sources are doing."""

from __future__ import annotations

import typer

from monitor.cli import render
from monitor.cli.context import Format, database, load_config


def check(ctx: typer.Context) -> None:
    """Validate the config; print its sources, topics and channels."""
    render.config_summary(load_config(ctx))


def status(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json (csv: as table)."),
) -> None:
    """Each source's health: last success, last error, items in 24 h, next poll, flags."""
    from monitor.health import source_health

    cfg = load_config(ctx)
    with database(cfg) as factory, factory() as session:
        rows = source_health(session, cfg)
    render.source_health(rows, cfg, as_json=fmt is Format.json)
