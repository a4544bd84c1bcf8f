"""matches remember where each term matched and what the snippet highlights

``matches.hits``: for each reported term, its first hit in the title and the body (offsets in the
original text, the words as found, whether a fuzzy term matched another spelling);
``matches.highlights``: the spans of the snippet to mark. Alerts are rendered from these rows, so
they show exactly what the matcher matched. Both are nullable JSON: added in place on SQLite and
PostgreSQL alike (no table rebuild); older rows keep NULL (no highlighting) until
``monitor topics rematch`` recomputes them.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hits", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("highlights", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("highlights")
        batch_op.drop_column("hits")
