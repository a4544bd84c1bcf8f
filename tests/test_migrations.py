"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL, and
0002 can be undone and redone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from monitor.db.migrate import alembic_config, upgrade
from monitor.db.models import Base


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
