"""Which source of a strategy's portfolio chose each experiment: exploit, explore, prior-free or space-filling for a
learning campaign, the strategy's own name otherwise (model.optimize.proposals.Source).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

from db.views import without_view

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: proposed before sources were recorded
    op.add_column("experiments", sa.Column("source", sa.String(16), nullable=True))


def downgrade() -> None:
    def work() -> None:
        with op.batch_alter_table("experiments") as batch:
            batch.drop_column("source")

    without_view(op, work)  # SQLite rebuilds the table, which the view reads
