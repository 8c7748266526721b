"""The closed loop: a model version may be a campaign's posterior (its parent, campaign, measurements used and
leave-one-out diagnostics); experiments remember their proposal batch; measurements keep the prediction
re-made at the temperature the robot measured; campaigns have a temperature tolerance.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from db.views import without_view

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    def work() -> None:
        with op.batch_alter_table("model_versions") as b:
            b.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="checkpoint"))
            b.add_column(sa.Column("parent_id", sa.Integer()))
            b.add_column(sa.Column("campaign_id", sa.Integer()))
            b.add_column(sa.Column("n_measurements", sa.Integer(), nullable=False, server_default="0"))
            b.add_column(sa.Column("loo_mae", sa.Float()))
            b.add_column(sa.Column("coverage_2sigma", sa.Float()))
            b.create_foreign_key("fk_model_versions_parent_id_model_versions", "model_versions", ["parent_id"], ["id"])
            b.create_foreign_key("fk_model_versions_campaign_id_campaigns", "campaigns", ["campaign_id"], ["id"])
            b.create_check_constraint("kind", "kind IN ('checkpoint','posterior')")
        with op.batch_alter_table("experiments") as b:
            b.add_column(sa.Column("batch", sa.Integer(), nullable=False, server_default="0"))
        with op.batch_alter_table("measurements") as b:
            b.add_column(sa.Column("predicted_at_measured_T", sa.Float()))
        with op.batch_alter_table("campaigns") as b:
            b.add_column(sa.Column("temperature_tolerance_K", sa.Float(), nullable=False, server_default="0.5"))
    without_view(op, work)


def downgrade() -> None:
    def work() -> None:
        with op.batch_alter_table("campaigns") as b:
            b.drop_column("temperature_tolerance_K")
        with op.batch_alter_table("measurements") as b:
            b.drop_column("predicted_at_measured_T")
        with op.batch_alter_table("experiments") as b:
            b.drop_column("batch")
        op.execute("DELETE FROM model_versions WHERE kind = 'posterior'")
        with op.batch_alter_table("model_versions") as b:
            b.drop_constraint("kind", type_="check")
            b.drop_constraint("fk_model_versions_campaign_id_campaigns", type_="foreignkey")
            b.drop_constraint("fk_model_versions_parent_id_model_versions", type_="foreignkey")
            for c in ("coverage_2sigma", "loo_mae", "n_measurements", "campaign_id", "parent_id", "kind"):
                b.drop_column(c)
    without_view(op, work)
