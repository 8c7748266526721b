"""What each robot last said of itself (its vessels, why it stopped taking work) and when it was last seen.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from db.base import JSONType, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "robot_status",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime()),
        sa.Column("vessels", JSONType, nullable=False),
        sa.Column("stopped_reason", sa.Text()),
        sa.Column("instrument_ids", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], name="fk_robot_status_api_key_id_api_keys"),
        sa.PrimaryKeyConstraint("api_key_id", name="pk_robot_status"),
    )
    # every robot key has its row from the start, so that concurrent first claims never race to insert it
    op.execute("INSERT INTO robot_status (api_key_id, vessels, instrument_ids) "
               "SELECT id, '{}', '{}' FROM api_keys WHERE role = 'robot'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT ON robot_status TO diffmix_analyst")


def downgrade() -> None:
    op.drop_table("robot_status")
