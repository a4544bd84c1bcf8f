"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL, and
0002 can be undone and redone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from monitor.db.migrate import alembic_config, upgrade
from monitor.db.models import Article, ArticleStatus, Base, Origin, OutboxStatus, Source


def differences(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_schema_matches_the_models(engine):
    assert differences(engine) == []


def test_migration_0002_downgrades_and_upgrades(engine):
    command.downgrade(alembic_config(engine), "0001")
    tables = set(inspect(engine).get_table_names())
    assert "story_bands" not in tables and "channel_states" not in tables
    assert "bundle_id" not in {c["name"] for c in inspect(engine).get_columns("alerts")}
    upgrade(engine)
    assert differences(engine) == []


def test_states_are_stored_as_their_plain_strings(session_factory):
    """The state enums are StrEnums in String columns: the database holds the same strings as
    before they were enums (no migration), and a value read back equals its member."""
    with session_factory() as s, s.begin():
        source = Source(name="S", kind="feed", url="https://s.example/feed")
        s.add(source)
        s.flush()
        s.add(
            Article(
                source_id=source.id,
                url="https://s.example/a",
                fetch_url="https://s.example/a",
                origin=Origin.BACKFILL,
                status=ArticleStatus.OUT_OF_RANGE,
            )
        )
    with session_factory() as s:
        assert s.execute(text("SELECT origin, status FROM articles")).one() == ("backfill", "out_of_range")
        stored = s.scalar(select(Article.status))
        assert stored == ArticleStatus.OUT_OF_RANGE and stored == "out_of_range"
        assert [str(state) for state in OutboxStatus] == [
            "pending",
            "sending",
            "sent",
            "failed",
            "dead",
            "skipped",
        ]
