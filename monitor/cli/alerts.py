"""``monitor alerts`` (list, retry) and ``monitor notify-test``: the outbox and the channels."""

from __future__ import annotations

import typer

from monitor.cli import render, summaries
from monitor.cli.context import TableFormat, database, fail, load_config

app = typer.Typer(
    help="The alert outbox: list rows, requeue failed or dead ones.", invoke_without_command=True
)


@app.callback()
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
    from monitor.alerts.admin import hide_secrets, list_alerts
    from monitor.alerts.secrets import config_secrets, redact

    cfg = load_config(ctx)
    with database(cfg) as factory:
        try:
            with factory() as session:
                rows = list_alerts(session, status=status_, channel=channel, limit=limit)
        except ValueError as exc:
            raise fail(f"--status: {exc}") from None
    secrets = config_secrets(cfg)
    rows = hide_secrets(rows, lambda text: redact(text, secrets))
    render.alert_rows(rows, cfg, as_json=fmt is TableFormat.json)


@app.command("retry")
def alerts_retry(
    ctx: typer.Context,
    ids: list[int] = typer.Argument(None, help="Outbox row ids (see `monitor alerts`)."),
    all_: bool = typer.Option(False, "--all", help="Every failed and dead row."),
) -> None:
    """Requeue rows for a fresh series of attempts (a sent row given by id is sent again)."""
    from monitor.alerts.admin import retry_alerts
    from monitor.db.session import transaction

    if bool(ids) == all_:
        raise fail("give alert ids, or --all (not both)")
    cfg = load_config(ctx)
    with database(cfg) as factory, transaction(factory) as session:
        result = retry_alerts(session, None if all_ else ids)
    summaries.retried(result, all_=all_)
    if result.missing:
        raise typer.Exit(1)


def notify_test(
    ctx: typer.Context, channel: str = typer.Argument(..., help="A channel name from the config.")
) -> None:
    """Send a sample alert (a sample digest to a digest channel) and report the result."""
    from monitor.alerts.admin import notify_test as send_sample

    cfg = load_config(ctx)
    result = send_sample(cfg, channel)
    if not result.ok:
        raise fail(f"channel {channel!r}: {result.error}", 1)
    summaries.sample_sent(channel, result)
