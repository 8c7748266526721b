"""On PostgreSQL the analysts' read-only role no longer reads the audit log (it names keys and who did what);
grant it explicitly to an analyst who needs it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from alembic import op

from db.views import ANALYST_ROLE

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE SELECT ON audit_log FROM {ANALYST_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT ON audit_log TO {ANALYST_ROLE}")
