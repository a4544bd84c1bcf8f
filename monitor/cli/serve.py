"""``monitor serve``: the read-only web UI (monitor/web/)."""

from __future__ import annotations

import typer

from monitor.cli.context import fail, load_config, parse_address


def serve(
    ctx: typer.Context,
    http: str = typer.Option("127.0.0.1:8000", "--http", metavar="HOST:PORT", help="Address to listen on."),
) -> None:
    """Read-only web UI over the database: topic pages, Atom feeds, stories, sources, alerts, search.

    Runs beside the daemon (same config) until SIGTERM/SIGINT; never creates or migrates the
    database. Binding anything but loopback needs `web: {token: ...}` in the config."""
    from monitor.web import ServeError
    from monitor.web import serve as serve_web

    cfg = load_config(ctx)
    host, port = parse_address(http)
    try:
        serve_web(cfg, host, port)
    except ServeError as exc:
        raise fail(str(exc), exc.code) from None
