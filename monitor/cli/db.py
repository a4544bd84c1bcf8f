"""``monitor db upgrade``: database maintenance."""

from __future__ import annotations

import typer

from monitor.cli import summaries
from monitor.cli.context import database, load_config

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply database migrations (also done automatically at start)."""
    cfg = load_config(ctx)
    with database(cfg):
        pass
    summaries.database_ready(cfg.database)
