"""Alembic environment: batch mode (SQLite-safe) and the models' naming convention."""

from alembic import context
from sqlalchemy import create_engine

from monitor.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
        )
        context.run_migrations()


run_migrations()
