"""What every command needs before it calls the library, each written once: the config (or a
one-line error, exit 2), the database (or a one-line error, exit 1), dates typed by the user,
and topic or source names looked up with a did-you-mean."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from monitor.cli.render import err, safe_url
from monitor.config import Config, ConfigError, SourceConfig, TopicConfig
from monitor.configfile import did_you_mean

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class TableFormat(StrEnum):
    table = "table"
    json = "json"


class InspectFormat(StrEnum):
    text = "text"
    json = "json"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` on stderr as is; the Exit to raise (2: bad input, 1: it did not work)."""
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def load_config(ctx: typer.Context) -> Config:
    """The config named by ``--config`` (else $MONITOR_CONFIG, else the default), fully checked."""
    from monitor.checks import load_config as load

    path = ctx.obj.get("config")
    try:
        return load(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"{path}: {exc.strerror}") from None


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def database_failed(cfg: Config, exc: BaseException) -> typer.Exit:
    """``database URL: first line of the error`` on stderr; the Exit(1) to raise."""
    return fail(f"database {safe_url(cfg.database)}: {_one_line(exc)}", 1)


@contextmanager
def database(cfg: Config) -> Iterator[sessionmaker[Session]]:
    """A session factory on the config's database, migrated; disposed of on exit.

    A database that cannot be opened (unreachable, bad URL, failed migration) is one line and
    exit 1."""
    from monitor.runtime import open_database

    try:
        engine, factory = open_database(cfg)
    except Exception as exc:
        raise database_failed(cfg, exc) from None
    try:
        yield factory
    finally:
        engine.dispose()


@contextmanager
def database_errors(cfg: Config) -> Iterator[None]:
    """A database error while a run or backfill works (e.g. the server went away): one line, exit 1."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        raise database_failed(cfg, exc) from None


def parse_date(value: str, cfg: Config, option: str, *, end_of_day: bool = False) -> datetime:
    """A date typed for ``option`` (read in the config's timezone), or exit 2 naming the option."""
    from monitor.dates import parse_user_date

    try:
        return parse_user_date(value, cfg.tz, end_of_day=end_of_day)
    except ValueError as exc:
        raise fail(f"{option}: {exc}") from None


def source_named(cfg: Config, name: str) -> SourceConfig:
    """The config's source called ``name``, or exit 2 with a did-you-mean."""
    try:
        return cfg.source(name)
    except KeyError:
        raise fail(f"unknown source {name!r}{did_you_mean(name, [s.name for s in cfg.sources])}") from None


def topic_named(cfg: Config, name: str) -> TopicConfig:
    """The config's topic called ``name``, or exit 2 with a did-you-mean."""
    for topic in cfg.topics:
        if topic.name == name:
            return topic
    raise fail(f"unknown topic {name!r}{did_you_mean(name, [t.name for t in cfg.topics])}")


def parse_address(value: str) -> tuple[str, int]:
    """``--http HOST:PORT`` as (host, port), or a one-line error."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise fail(f"--http: expected HOST:PORT such as 127.0.0.1:8080, got {value!r}")
    return host.strip("[]"), int(port)
