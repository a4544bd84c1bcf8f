"""stories index, digest state, bundles

Story clustering stores each article's LSH band keys (``story_bands``); digests remember the last
period boundary per channel (``channel_states``); a sent row records the message it went out in
(``alerts.bundle_id``), which flood control counts per channel and hour.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 15:44:12.553578
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_states",
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("last_digest_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_channel_states")),
    )
    op.create_table(
        "story_bands",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_story_bands_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "article_id", name=op.f("pk_story_bands")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("story_bands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_story_bands_article_id"), ["article_id"], unique=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bundle_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_alerts_channel_sent", ["channel", "sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_channel_sent")
        batch_op.drop_column("bundle_id")

    with op.batch_alter_table("story_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_story_bands_article_id"))

    op.drop_table("story_bands")
    op.drop_table("channel_states")
