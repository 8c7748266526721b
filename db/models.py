"""The service's tables. Schema changes go through Alembic migrations (migrations/), never create_all."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, JSONType, UTCDateTime
from db.enums import CampaignStatus, ExperimentStatus, ModelKind, Role, check_in


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware: every timestamp the service stores."""
    return datetime.now(UTC)


TS = UTCDateTime()


class Molecule(Base):
    __tablename__ = "molecules"
    id: Mapped[int] = mapped_column(primary_key=True)
    smiles: Mapped[str] = mapped_column(String(512), unique=True)  # canonical SMILES (RDKit)
    name: Mapped[str | None] = mapped_column(String(128))


class ModelVersion(Base):
    """A trained checkpoint, or a campaign's posterior: the checkpoint it corrects (parent) updated by the
    campaign's first ``n_measurements`` measurements (their ids and the fitted hyperparameters in ``metrics``)."""

    __tablename__ = "model_versions"
    __table_args__ = (CheckConstraint(check_in("kind", ModelKind), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    property: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    checkpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 over the checkpoint files
    path: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default=ModelKind.checkpoint, server_default="checkpoint")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    # campaigns refer to model versions and posterior versions to their campaign: the cycle is broken for
    # create_all/drop_all by adding this constraint after both tables (the migrations add it with ALTER anyway)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", use_alter=True))
    n_measurements: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    loo_mae: Mapped[float | None] = mapped_column(Float)  # leave-one-out residual MAE on its measurements, mS/cm
    coverage_2sigma: Mapped[float | None] = mapped_column(Float)  # share of them inside the LOO ±2σ


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint(check_in("status", CampaignStatus), name="status"),
                      CheckConstraint("budget > 0", name="budget_positive"))
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    property: Mapped[str] = mapped_column(String(64))
    design: Mapped[dict] = mapped_column(JSONType)  # a versioned model.optimize.design.DesignSpec
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    strategy: Mapped[str] = mapped_column(String(32), default="gradient")
    budget: Mapped[int] = mapped_column(Integer)
    temperature_tolerance_K: Mapped[float] = mapped_column(Float, default=0.5, server_default="0.5")
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.active)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    model_version: Mapped[ModelVersion] = relationship(foreign_keys=[model_version_id])


class Experiment(Base):
    __tablename__ = "experiments"
    __table_args__ = (
        CheckConstraint(check_in("status", ExperimentStatus), name="status"),
        Index("ix_experiments_queue", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    composition: Mapped[dict] = mapped_column(JSONType)  # species SMILES → mole fraction (ions separately)
    recipe: Mapped[dict] = mapped_column(JSONType)  # what the robot makes: a versioned model.contract.Recipe
    point: Mapped[list] = mapped_column(JSONType)  # the optimiser's coordinates z = (solvent ratio, cation fraction)
    temperature_K: Mapped[float] = mapped_column(Float)
    predicted: Mapped[float] = mapped_column(Float)
    predicted_std: Mapped[float] = mapped_column(Float)
    gradient: Mapped[dict] = mapped_column(JSONType)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))  # the version that proposed it
    # what chose it (model.optimize.proposals.Source: exploit, explore, prior-free, space-filling, or the strategy);
    # None for experiments proposed before sources were recorded
    source: Mapped[str | None] = mapped_column(String(16))
    batch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # its proposals call, 1, 2, …
    status: Mapped[str] = mapped_column(String(16), default=ExperimentStatus.queued)
    lease_owner: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(TS)
    lease_token: Mapped[str | None] = mapped_column(String(64))  # this claim's; a new claim makes a new one
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims so far
    restarts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # claims ended by an agent restart
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TS, default=utcnow, onupdate=utcnow)
    campaign: Mapped[Campaign] = relationship()
    measurement: Mapped[Measurement | None] = relationship(back_populates="experiment", uselist=False)


class Measurement(Base):
    __tablename__ = "measurements"
    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    spectrum: Mapped[dict] = mapped_column(JSONType)  # raw EIS: frequency_Hz, z_real_ohm, z_imag_ohm (+ any sweep)
    resistance_ohm: Mapped[float] = mapped_column(Float)
    cell_constant_per_cm: Mapped[float] = mapped_column(Float)
    calibration_id: Mapped[int | None] = mapped_column(ForeignKey("cell_calibrations.id"))
    temperature_K: Mapped[float] = mapped_column(Float)
    conductivity_mS_cm: Mapped[float] = mapped_column(Float)
    # the proposing model's prediction re-made at the measured temperature and composition
    predicted_at_measured_T: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(32))  # min-phase | fit
    quality_flags: Mapped[list] = mapped_column(JSONType, default=list)
    measured_composition: Mapped[dict] = mapped_column(JSONType)  # what the balance says was made
    instrument_ids: Mapped[dict] = mapped_column(JSONType, default=dict)
    started_at: Mapped[datetime | None] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS)
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    experiment: Mapped[Experiment] = relationship(back_populates="measurement")


class CellCalibration(Base):
    __tablename__ = "cell_calibrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    cell_id: Mapped[str] = mapped_column(String(64), index=True)
    cell_constant_per_cm: Mapped[float] = mapped_column(Float)
    standard_conductivity_mS_cm: Mapped[float] = mapped_column(Float)
    measured_resistance_ohm: Mapped[float] = mapped_column(Float)
    temperature_K: Mapped[float] = mapped_column(Float)
    calibrated_at: Mapped[datetime] = mapped_column(TS, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(check_in("role", Role), name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a key in lists
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the full key
    created_at: Mapped[datetime] = mapped_column(TS, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(TS)


class RobotStatus(Base):
    __tablename__ = "robot_status"
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(TS)  # its last claim, heartbeat or report
    vessels: Mapped[dict] = mapped_column(JSONType, default=dict)  # vial, cell → clean | dirty | unknown
    stopped_reason: Mapped[str | None] = mapped_column(Text)  # set while it refuses work, and why
    instrument_ids: Mapped[dict] = mapped_column(JSONType, default=dict)
    # the stocks its lab file declares: [{name, solvent: {SMILES: mass fraction}, salt, molality}]; None = not told
    stocks: Mapped[list | None] = mapped_column(JSONType)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(TS, default=utcnow, index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
