"""On PostgreSQL the analysts' read-only role no longer reads the experiments' live lease tokens and holders
(``lease_token``, ``lease_owner``): a token lets whoever holds it post a robot's result. The role keeps every other
column of ``experiments`` through column grants; a later migration that adds a column to ``experiments`` grants it
to the role too (``grant_experiment_columns``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

from db.views import ANALYST_ROLE

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

HIDDEN = ("lease_token", "lease_owner")


def grant_experiment_columns() -> None:
    """SELECT on every column of experiments but the hidden ones, for the analysts' role."""
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns("experiments") if c["name"] not in HIDDEN]
    op.execute(f"GRANT SELECT ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) ON experiments TO {ANALYST_ROLE}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE SELECT ON experiments FROM {ANALYST_ROLE}")
        grant_experiment_columns()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE SELECT ON experiments FROM {ANALYST_ROLE}")  # drops the column grants with it
        op.execute(f"GRANT SELECT ON experiments TO {ANALYST_ROLE}")
