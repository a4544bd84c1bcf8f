"""``monitor topics test`` and ``monitor topics rematch``: topics over stored articles."""

from __future__ import annotations

import typer

from monitor.cli import render, summaries
from monitor.cli.context import TableFormat, database, fail, load_config, parse_date, topic_named
from monitor.config import TopicConfig

app = typer.Typer(help="Try topics on stored articles; recompute their matches.", no_args_is_help=True)


@app.command("test")
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
    from monitor.topics import backtest

    cfg = load_config(ctx)
    if (name is None) == (query is None):
        raise fail("give a topic NAME or --query QUERY (one of them)")
    if query is not None:
        if not query.strip():
            raise fail("--query: the query is empty")
        topic = TopicConfig(name="(query)", query=query)
    else:
        topic = topic_named(cfg, name)
    since_dt = parse_date(since, cfg, "--since") if since else None
    with database(cfg) as factory:
        try:
            with factory() as session:
                report = backtest(session, topic, since=since_dt)
        except QueryError as exc:
            raise fail(str(exc)) from None
    render.backtest(report, topic.name, query, since_dt, cfg.tz, as_json=fmt is TableFormat.json, limit=limit)


@app.command("rematch")
def topics_rematch(
    ctx: typer.Context, name: str = typer.Argument(..., help="A topic of the config.")
) -> None:
    """Recompute the stored matches of a topic after its definition changed (no alerts are sent)."""
    from monitor.topics import rematch

    cfg = load_config(ctx)
    topic_named(cfg, name)
    with database(cfg) as factory:
        report = rematch(factory, cfg, name)
    summaries.rematched(name, report)
