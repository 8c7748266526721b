"""A lease is the claim, not the key: each claim gets its own token, which heartbeat, result and fail must carry.
An agent's crash recoveries are counted apart from failed attempts at the chemistry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from db.views import without_view

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    def work() -> None:
        with op.batch_alter_table("experiments") as b:
            b.add_column(sa.Column("lease_token", sa.String(64)))
            b.add_column(sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"))
    without_view(op, work)


def downgrade() -> None:
    def work() -> None:
        with op.batch_alter_table("experiments") as b:
            b.drop_column("restarts")
            b.drop_column("lease_token")
    without_view(op, work)
