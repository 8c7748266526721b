"""The stocks each robot's lab file declares (sent with its status report), so the service knows which campaigns
its lab can make and refuses one that needs a liquid no robot has.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from db.base import JSONType

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: the robot has not declared its stocks yet (an older agent, or no report since it started)
    op.add_column("robot_status", sa.Column("stocks", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("robot_status") as batch:
        batch.drop_column("stocks")
