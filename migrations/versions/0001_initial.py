"""Initial schema: molecules, model versions, campaigns, experiments, measurements, calibrations, API keys, audit
log; the prediction_vs_measurement view; on PostgreSQL the read-only diffmix_analyst role.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

from db.base import JSONType, UTCDateTime
from db.views import ANALYST_ROLE, DROP_PREDICTION_VS_MEASUREMENT, PREDICTION_VS_MEASUREMENT

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = UTCDateTime()


def upgrade() -> None:
    op.create_table(
        "molecules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("smiles", sa.String(512), nullable=False),
        sa.Column("name", sa.String(128)),
        sa.PrimaryKeyConstraint("id", name="pk_molecules"),
        sa.UniqueConstraint("smiles", name="uq_molecules_smiles"),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("property", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("checkpoint_hash", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("metrics", JSONType, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.UniqueConstraint("checkpoint_hash", name="uq_model_versions_checkpoint_hash"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.CheckConstraint("role IN ('operator','robot','analyst','admin')", name="ck_api_keys_role"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("property", sa.String(64), nullable=False),
        sa.Column("objective", JSONType, nullable=False),
        sa.Column("space", JSONType, nullable=False),
        sa.Column("temperature_K", sa.Float()),
        sa.Column("temperature_range_K", JSONType),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.Integer()),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("status IN ('active','paused','cancelled','completed')", name="ck_campaigns_status"),
        sa.CheckConstraint("budget > 0", name="ck_campaigns_budget_positive"),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"], name="fk_campaigns_model_version_id_model_versions"),
        sa.ForeignKeyConstraint(["created_by"], ["api_keys.id"], name="fk_campaigns_created_by_api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("composition", JSONType, nullable=False),
        sa.Column("recipe", JSONType, nullable=False),
        sa.Column("temperature_K", sa.Float(), nullable=False),
        sa.Column("predicted", sa.Float(), nullable=False),
        sa.Column("predicted_std", sa.Float(), nullable=False),
        sa.Column("gradient", JSONType, nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lease_owner", sa.Integer()),
        sa.Column("lease_expires_at", TS),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("failure_reason", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("status IN ('queued','leased','measured','failed','cancelled')", name="ck_experiments_status"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name="fk_experiments_campaign_id_campaigns"),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"], name="fk_experiments_model_version_id_model_versions"),
        sa.ForeignKeyConstraint(["lease_owner"], ["api_keys.id"], name="fk_experiments_lease_owner_api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_experiments"),
    )
    op.create_index("ix_experiments_campaign_id", "experiments", ["campaign_id"])
    op.create_index("ix_experiments_queue", "experiments", ["status", "id"])
    op.create_table(
        "cell_calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.String(64), nullable=False),
        sa.Column("cell_constant_per_cm", sa.Float(), nullable=False),
        sa.Column("standard_conductivity_mS_cm", sa.Float(), nullable=False),
        sa.Column("measured_resistance_ohm", sa.Float(), nullable=False),
        sa.Column("temperature_K", sa.Float(), nullable=False),
        sa.Column("calibrated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cell_calibrations"),
    )
    op.create_index("ix_cell_calibrations_cell_id", "cell_calibrations", ["cell_id"])
    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("spectrum", JSONType, nullable=False),
        sa.Column("resistance_ohm", sa.Float(), nullable=False),
        sa.Column("cell_constant_per_cm", sa.Float(), nullable=False),
        sa.Column("calibration_id", sa.Integer()),
        sa.Column("temperature_K", sa.Float(), nullable=False),
        sa.Column("conductivity_mS_cm", sa.Float(), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("quality_flags", JSONType, nullable=False),
        sa.Column("measured_composition", JSONType, nullable=False),
        sa.Column("instrument_ids", JSONType, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], name="fk_measurements_experiment_id_experiments"),
        sa.ForeignKeyConstraint(["calibration_id"], ["cell_calibrations.id"], name="fk_measurements_calibration_id_cell_calibrations"),
        sa.PrimaryKeyConstraint("id", name="pk_measurements"),
        sa.UniqueConstraint("experiment_id", name="uq_measurements_experiment_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_measurements_idempotency_key"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("api_key_id", sa.Integer()),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.Integer()),
        sa.Column("detail", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], name="fk_audit_log_api_key_id_api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.execute(PREDICTION_VS_MEASUREMENT)
    if op.get_bind().dialect.name == "postgresql":
        # A read-only role for analysts (cluster-wide; created once). API key hashes stay hidden from it.
        op.execute(f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ANALYST_ROLE}') THEN
                CREATE ROLE {ANALYST_ROLE} NOLOGIN;
            END IF; END $$""")
        op.execute(f"GRANT USAGE ON SCHEMA public TO {ANALYST_ROLE}")
        op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ANALYST_ROLE}")
        op.execute(f"REVOKE SELECT ON api_keys FROM {ANALYST_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The role is cluster-wide and may serve other databases: only this database's grants are removed.
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ANALYST_ROLE}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ANALYST_ROLE}")
    op.execute(DROP_PREDICTION_VS_MEASUREMENT)
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("measurements")
    op.drop_index("ix_cell_calibrations_cell_id", table_name="cell_calibrations")
    op.drop_table("cell_calibrations")
    op.drop_index("ix_experiments_queue", table_name="experiments")
    op.drop_index("ix_experiments_campaign_id", table_name="experiments")
    op.drop_table("experiments")
    op.drop_table("campaigns")
    op.drop_table("api_keys")
    op.drop_table("model_versions")
    op.drop_table("molecules")
