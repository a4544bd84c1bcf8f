"""indexes for the web UI: a story's articles, a source's recent articles, a topic's matches

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMELINE = ["id", "story_id", "published_at", "discovered_at", "source_id", "language"]


def upgrade() -> None:
    # A story's articles ("also reported by", story pages; alerts too) were a full table scan.
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    # A source's newest articles (source health: cadence, items in 24 h) without sorting them all.
    op.create_index("ix_articles_source_discovered", "articles", ["source_id", "discovered_at"])
    # A topic's matches (all of them, or the recent ones for the charts) with their articles'
    # story, time, source and language, from two indexes alone: an article row holds its text, and
    # reading columns stored after a long text means reading its overflow pages (SQLite).
    # ix_matches_topic_created replaces the topic_id index.
    op.create_index("ix_matches_topic_created", "matches", ["topic_id", "created_at", "article_id"])
    op.drop_index("ix_matches_topic_id", table_name="matches")
    op.create_index("ix_articles_timeline", "articles", TIMELINE)


def downgrade() -> None:
    op.drop_index("ix_articles_timeline", table_name="articles")
    op.create_index("ix_matches_topic_id", "matches", ["topic_id"])
    op.drop_index("ix_matches_topic_created", table_name="matches")
    op.drop_index("ix_articles_source_discovered", table_name="articles")
    op.drop_index("ix_articles_story_id", table_name="articles")
