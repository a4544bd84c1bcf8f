"""Command line: each command parses its options and calls the library; ``render`` and
``summaries`` print the results, ``context`` loads the config and opens the database.

The commands are registered here, in the order ``monitor --help`` lists them (typer lists the
commands, then the groups).
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path

import typer

from monitor.cli import alerts, backfill, db, matches, run, serve, status, topics
from monitor.cli.render import err

app = typer.Typer(
    help="Self-hosted news monitor: polls outlets, matches watch topics, alerts once per story.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class LogFormat(StrEnum):
    text = "text"
    json = "json"


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
    from monitor.logs import setup_logging

    ctx.obj = {"config": str(config) if config else None}
    level = logging.DEBUG if verbose else logging.INFO
    rich = err if log_format is LogFormat.text and sys.stderr.isatty() else None
    setup_logging(level=level, fmt=log_format.value, rich_console=rich)


app.command()(status.check)
app.command()(run.run)
app.command()(status.status)
app.command()(matches.matches)
app.command()(matches.inspect)
app.command()(backfill.backfill)
app.command("notify-test")(alerts.notify_test)
app.command()(serve.serve)
app.add_typer(db.app, name="db")
app.add_typer(alerts.app, name="alerts")
app.add_typer(topics.app, name="topics")

__all__ = ["app"]
