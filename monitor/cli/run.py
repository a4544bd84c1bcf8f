"""``monitor run``: the daemon, or one pass with ``--once``."""

from __future__ import annotations

import asyncio

import typer

from monitor.cli import summaries
from monitor.cli.context import database_errors, fail, load_config, parse_address


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

    cfg = load_config(ctx)
    address = parse_address(http) if http else None
    try:
        with database_errors(cfg):  # e.g. the database is unreachable
            if once:
                reports, stats = asyncio.run(run_once(cfg))
                summaries.poll_reports(reports, stats)
            else:
                asyncio.run(run_daemon(cfg, http=address, watch_config=watch_config, tick=tick))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    except DaemonError as exc:
        raise fail(str(exc), 1) from None

