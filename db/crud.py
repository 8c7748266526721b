"""All SQL the service needs, as plain functions over a Session. The service calls these and nothing else."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.enums import FINISHED, SPENDING, CampaignStatus, ExperimentStatus, ModelKind, Role
from db.errors import Conflict, NotFound
from db.models import (
    ApiKey,
    AuditLog,
    Campaign,
    CellCalibration,
    Experiment,
    Measurement,
    ModelVersion,
    Molecule,
    RobotStatus,
    utcnow,
)


def audit(s: Session, key_id: int | None, action: str, entity: str, entity_id: int | None, **detail: Any) -> None:
    """One audit row, committed with the caller's transaction."""
    s.add(AuditLog(api_key_id=key_id, action=action, entity=entity, entity_id=entity_id, detail=detail, at=utcnow()))


DENIAL_LOG_INTERVAL = timedelta(minutes=1)  # one audit row per kind of refusal and key (or client) per minute


def audit_denied(s: Session, status: int, reason: str, key_id: int | None, client: str, path: str) -> None:
    """Record a refused authentication (401) or authorisation (403), at most once per minute for the same status,
    key and client, so that a client hammering the service cannot flood the log; commits."""
    now = utcnow()
    recent = s.scalars(select(AuditLog).where(AuditLog.action == f"denied_{status}", AuditLog.at > now - DENIAL_LOG_INTERVAL)
                       .order_by(AuditLog.id.desc()).limit(200)).all()
    if any(r.api_key_id == key_id and r.detail.get("client") == client for r in recent):
        s.commit()
        return
    audit(s, key_id, f"denied_{status}", "request", None, reason=reason, client=client, path=path)
    s.commit()


# ----------------------------------------------------------------------------- API keys
KEY_PREFIX = "dmx_"
BULK_ANALYZE_ROWS = 500  # a queue batch this large refreshes the planner statistics on PostgreSQL (queue_experiments)


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash is enough (no dictionary to guess from, unlike passwords).
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(s: Session, role: str, name: str = "", by: int | None = None, via: str | None = None
                   ) -> tuple[ApiKey, str]:
    """A new key of ``role``; returns the row and the key itself (stored only as its hash)."""
    if role not in set(Role):
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(Role)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name or str(role), role=str(role), prefix=key[:10], key_hash=hash_key(key), created_at=utcnow())
    s.add(row)
    s.flush()
    if role == Role.robot:  # its status row exists from the start: concurrent first claims never race to insert it
        s.add(RobotStatus(api_key_id=row.id, vessels={}, instrument_ids={}))
    audit(s, by, "create", "api_key", row.id, role=role, name=row.name, **({"via": via} if via else {}))
    s.commit()
    return row, key


def key_for(s: Session, key: str) -> ApiKey | None:
    row = s.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    return row if row is not None and row.revoked_at is None else None


def list_api_keys(s: Session, by: int | None = None) -> Sequence[ApiKey]:
    """Every key (never the key itself); the listing is audited."""
    rows = s.scalars(select(ApiKey).order_by(ApiKey.id)).all()
    audit(s, by, "list", "api_key", None, count=len(rows))
    s.commit()
    return rows


def get_api_key(s: Session, key_id: int) -> ApiKey:
    """One key's row (never the key itself)."""
    return _get(s, ApiKey, key_id, "API key")


def revoke_api_key(s: Session, key_id: int, by: int | None) -> ApiKey:
    row = _get(s, ApiKey, key_id, "API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(s, by, "revoke", "api_key", key_id)
        s.commit()
    return row


# ----------------------------------------------------------------------------- molecules, model versions
def upsert_molecules(s: Session, smiles_names: dict[str, str | None]) -> None:
    """Record molecules (keys: canonical SMILES); committed with the caller's transaction."""
    wanted = dict(smiles_names)
    known = set(s.scalars(select(Molecule.smiles).where(Molecule.smiles.in_(list(wanted)))).all())
    for smi, name in wanted.items():
        if smi not in known:
            s.add(Molecule(smiles=smi, name=name))


def list_molecules(s: Session) -> Sequence[Molecule]:
    return s.scalars(select(Molecule).order_by(Molecule.id)).all()


def register_model_version(s: Session, prop: str, name: str, checkpoint_hash: str, path: str, metrics: dict) -> ModelVersion:
    row = s.scalar(select(ModelVersion).where(ModelVersion.checkpoint_hash == checkpoint_hash))
    if row is None:
        row = ModelVersion(property=prop, name=name, checkpoint_hash=checkpoint_hash, path=path, metrics=metrics,
                           created_at=utcnow())
        s.add(row)
        try:
            s.commit()
        except IntegrityError:  # another worker registered it at the same moment
            s.rollback()
            row = s.scalar(select(ModelVersion).where(ModelVersion.checkpoint_hash == checkpoint_hash))
    return row


def register_posterior(s: Session, campaign: Campaign, parent_id: int, experiment_ids: list[int],
                       loo_mae: float | None, coverage_2sigma: float | None, metrics: dict[str, Any]) -> ModelVersion:
    """A model version for a campaign's posterior on the given measurements (one row per distinct update: the
    same parent, measurements and hyperparameters give the same row)."""
    parent = _get(s, ModelVersion, parent_id, "model version")
    hyper = metrics.get("hyper", {}) | ({"prior_free": metrics["free_hyper"]} if "free_hyper" in metrics else {})
    ident = payload_hash({"parent": parent.checkpoint_hash, "campaign": campaign.id, "experiments": experiment_ids,
                          "metrics": hyper})
    row = s.scalar(select(ModelVersion).where(ModelVersion.checkpoint_hash == ident))
    if row is not None:
        return row
    row = ModelVersion(property=campaign.property, kind=ModelKind.posterior, parent_id=parent_id, campaign_id=campaign.id,
                       name=f"campaign {campaign.id} posterior on {len(experiment_ids)} measurements",
                       checkpoint_hash=ident, path=parent.path, n_measurements=len(experiment_ids), loo_mae=loo_mae,
                       coverage_2sigma=coverage_2sigma, metrics={**metrics, "experiment_ids": experiment_ids},
                       created_at=utcnow())
    s.add(row)
    try:
        s.commit()
    except IntegrityError:  # the same update made concurrently (a result's update and a proposal's)
        s.rollback()
        row = s.scalar(select(ModelVersion).where(ModelVersion.checkpoint_hash == ident))
    return row


def posterior_versions(s: Session, campaign_id: int) -> Sequence[ModelVersion]:
    """The campaign's posterior versions, oldest first."""
    return s.scalars(select(ModelVersion).where(ModelVersion.campaign_id == campaign_id,
                                                ModelVersion.kind == ModelKind.posterior)
                     .order_by(ModelVersion.n_measurements, ModelVersion.id)).all()


def get_model_version(s: Session, version_id: int) -> ModelVersion:
    """One model version (404 when there is none)."""
    return _get(s, ModelVersion, version_id, "model version")


def measured(s: Session, campaign_id: int) -> list[tuple[Experiment, Measurement]]:
    """The campaign's measured experiments with their measurements, oldest first."""
    q = (select(Experiment, Measurement).join(Measurement, Measurement.experiment_id == Experiment.id)
         .where(Experiment.campaign_id == campaign_id).order_by(Experiment.id))
    return [(e, m) for e, m in s.execute(q).all()]


def annotate_measurement(s: Session, measurement_id: int, predicted_at_measured_T: float | None,
                         flags: list[str]) -> Measurement:
    """Add the service's own judgement to a stored measurement: the re-prediction at the measured temperature,
    and quality flags (appended, never removing the robot's)."""
    m = _get(s, Measurement, measurement_id, "measurement")
    m.predicted_at_measured_T = predicted_at_measured_T
    m.quality_flags = list(m.quality_flags) + [f for f in flags if f not in m.quality_flags]
    s.commit()
    return m


def _get(s: Session, model, row_id: int, what: str):
    row = s.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def list_model_versions(s: Session) -> Sequence[ModelVersion]:
    return s.scalars(select(ModelVersion).order_by(ModelVersion.id)).all()


# ----------------------------------------------------------------------------- campaigns
def create_campaign(s: Session, by: int | None, *, name: str, design: dict[str, Any], model_version_id: int,
                    strategy: str, budget: int, temperature_tolerance_K: float = 0.5) -> Campaign:
    """Store a campaign with its design (a DesignSpec as JSON); it starts active."""
    c = Campaign(status=CampaignStatus.active, created_by=by, created_at=utcnow(), name=name, design=design,
                 property=design["property"], model_version_id=model_version_id, strategy=strategy, budget=budget,
                 temperature_tolerance_K=temperature_tolerance_K)
    s.add(c)
    s.flush()
    audit(s, by, "create", "campaign", c.id, name=c.name)
    s.commit()
    return c


def get_experiment(s: Session, experiment_id: int) -> Experiment:
    """One experiment (NotFound when there is none)."""
    row: Experiment = _get(s, Experiment, experiment_id, "experiment")
    return row


def claimed_at(s: Session, experiment_id: int) -> datetime | None:
    """When the experiment was last claimed (its latest claim in the audit log), None if never."""
    return s.scalar(select(AuditLog.at).where(AuditLog.action == "claim", AuditLog.entity == "experiment",
                                              AuditLog.entity_id == experiment_id).order_by(AuditLog.id.desc()).limit(1))


def get_campaign(s: Session, campaign_id: int) -> Campaign:
    return _get(s, Campaign, campaign_id, "campaign")


def list_campaigns(s: Session, status: str | None = None) -> Sequence[Campaign]:
    q = select(Campaign).order_by(Campaign.id)
    if status:
        q = q.where(Campaign.status == status)
    return s.scalars(q).all()


TRANSITIONS = {"pause": ({CampaignStatus.active}, CampaignStatus.paused),
               "resume": ({CampaignStatus.paused}, CampaignStatus.active),
               "cancel": ({CampaignStatus.active, CampaignStatus.paused}, CampaignStatus.cancelled)}


def set_campaign_status(s: Session, campaign_id: int, action: str, by: int | None) -> Campaign:
    """Pause, resume or cancel (TRANSITIONS); cancelling withdraws the queued work. Serialised with proposers."""
    lock_campaign(s, campaign_id)
    c = s.get(Campaign, campaign_id, populate_existing=True)
    assert c is not None  # lock_campaign found it
    allowed, new = TRANSITIONS[action]
    if c.status not in allowed:
        s.rollback()
        raise Conflict(f"campaign {campaign_id} is {c.status}; cannot {action} it")
    c.status = new
    if action == "cancel":  # queued work is withdrawn; leased work may still report its measurement
        s.execute(update(Experiment)
                  .where(Experiment.campaign_id == campaign_id, Experiment.status == ExperimentStatus.queued)
                  .values(status=ExperimentStatus.cancelled, failure_reason="campaign cancelled", updated_at=utcnow()))
    audit(s, by, action, "campaign", campaign_id)
    s.commit()
    return c


def campaign_counts(s: Session, campaign_id: int) -> dict[str, int]:
    rows = s.execute(select(Experiment.status, func.count()).where(Experiment.campaign_id == campaign_id)
                     .group_by(Experiment.status)).all()
    return {status: n for status, n in rows}


def best_measured(s: Session, campaign: Campaign) -> dict[str, Any] | None:
    """The campaign's best measured experiment in its objective's direction (its id and κ), or None."""
    kappa = Measurement.conductivity_mS_cm
    order = kappa.desc() if campaign.design["objective"].get("maximize", True) else kappa.asc()
    row = s.execute(select(Experiment.id, kappa).join(Measurement, Measurement.experiment_id == Experiment.id)
                    .where(Experiment.campaign_id == campaign.id).order_by(order, Experiment.id).limit(1)).first()
    return None if row is None else {"experiment_id": row[0], "measured": row[1]}


def campaign_experiments(s: Session, campaign_id: int) -> Sequence[Experiment]:
    return s.scalars(select(Experiment).where(Experiment.campaign_id == campaign_id).order_by(Experiment.id)).all()


def _lock_row(s: Session, column: Any, row_id: int) -> Any:  # noqa: ANN401 - a mapped column and its value
    """Lock one row until the transaction ends and return ``column``'s value as of now (None: no such row).

    A no-op UPDATE of that column: on PostgreSQL it takes the row lock (concurrent writers wait, then see what the
    first committed); on SQLite it takes the database write lock before anything is read, which the default deferred
    transaction would only take at its first write, and SELECT … FOR UPDATE does nothing there."""
    table = column.class_
    return s.scalar(update(table).where(table.id == row_id).values({column.key: column}).returning(column)
                    .execution_options(synchronize_session=False))


def lock_campaign(s: Session, campaign_id: int) -> str:
    """Lock the campaign's row (proposers, pause, resume and cancel serialise on it) and return its status."""
    status = _lock_row(s, Campaign.status, campaign_id)
    if status is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return str(status)


def open_for_proposals(s: Session, campaign_id: int) -> tuple[Campaign, int, list[Experiment]]:
    """The campaign, how many experiments its budget has left, and every experiment it has made so far.

    Refuses (Conflict) a campaign that is not active or whose budget is spent."""
    c = get_campaign(s, campaign_id)
    if c.status != CampaignStatus.active:
        raise Conflict(f"campaign {campaign_id} is {c.status}; only active campaigns take proposals")
    made = campaign_experiments(s, campaign_id)
    left = c.budget - sum(1 for e in made if e.status in SPENDING)
    if left <= 0:
        raise Conflict(f"campaign {campaign_id} has spent its budget of {c.budget} experiments")
    return c, left, list(made)


def queue_experiments(s: Session, campaign: Campaign, proposals: list[dict[str, Any]], by: int | None,
                      max_attempts: int, model_version_id: int | None = None) -> list[Experiment]:
    """Queue proposals atomically: the campaign's status and budget are checked inside the inserting transaction,
    under a lock that serialises every writer of this campaign, so concurrent proposers never overspend and a
    campaign paused or cancelled while its proposals were computed queues nothing."""
    status = lock_campaign(s, campaign.id)
    if status != CampaignStatus.active:
        s.rollback()
        raise Conflict(f"campaign {campaign.id} became {status} while its proposals were computed; nothing queued")
    used = s.scalar(select(func.count()).select_from(Experiment).where(
        Experiment.campaign_id == campaign.id, Experiment.status.in_(SPENDING)))
    if used + len(proposals) > campaign.budget:
        s.rollback()
        raise Conflict(f"campaign {campaign.id} has {campaign.budget - used} of {campaign.budget} experiments left; "
                       f"{len(proposals)} proposed")
    now = utcnow()
    batch = (s.scalar(select(func.max(Experiment.batch)).where(Experiment.campaign_id == campaign.id)) or 0) + 1
    version = model_version_id or campaign.model_version_id
    rows = [Experiment(campaign_id=campaign.id, model_version_id=version, status=ExperimentStatus.queued, batch=batch,
                       attempts=0, max_attempts=max_attempts, created_at=now, updated_at=now, **p) for p in proposals]
    s.add_all(rows)
    s.flush()
    audit(s, by, "propose", "campaign", campaign.id, experiments=[r.id for r in rows])
    s.commit()
    if len(rows) >= BULK_ANALYZE_ROWS and s.get_bind().dialect.name == "postgresql":
        # PostgreSQL plans the claim query from the table's statistics. Right after a bulk queue they still say the
        # queue is nearly empty, so until autovacuum catches up the planner sorts every queued row on each claim
        # (5 ms per claim at 10,000 queued, 0.1 ms with fresh statistics). The manual's advice after a bulk load:
        # ANALYZE.
        s.execute(text("ANALYZE experiments"))
        s.commit()
    return rows


# ----------------------------------------------------------------------------- the robot queue
def expire_leases(s: Session, now: datetime | None = None) -> dict[str, list[int]]:
    """Expired leases go back in the queue, keeping their attempt count; after max_attempts they fail with a reason."""
    now = now or utcnow()
    cancelled_campaigns = select(Campaign.id).where(Campaign.status == CampaignStatus.cancelled)
    withdrawn = s.scalars(  # the campaign was cancelled while this was out: it is not handed to anyone again
        update(Experiment)
        .where(Experiment.status == ExperimentStatus.leased, Experiment.lease_expires_at < now,
               Experiment.campaign_id.in_(cancelled_campaigns))
        .values(status=ExperimentStatus.cancelled, lease_owner=None, lease_token=None, updated_at=now,
                failure_reason="campaign cancelled; the lease expired without a result")
        .execution_options(synchronize_session=False)
        .returning(Experiment.id)).all()
    failed = s.scalars(
        update(Experiment)
        .where(Experiment.status == ExperimentStatus.leased, Experiment.lease_expires_at < now,
               Experiment.attempts - Experiment.restarts >= Experiment.max_attempts)
        .values(status=ExperimentStatus.failed, lease_owner=None, lease_token=None, updated_at=now,
                failure_reason="lease expired on the last allowed attempt (robot went silent)")
        .returning(Experiment.id)).all()
    requeued = s.scalars(
        update(Experiment)
        .where(Experiment.status == ExperimentStatus.leased, Experiment.lease_expires_at < now)
        .values(status=ExperimentStatus.queued, lease_owner=None, lease_token=None, lease_expires_at=None, updated_at=now)
        .returning(Experiment.id)).all()
    for i in withdrawn:
        audit(s, None, "lease_expired_cancelled", "experiment", i)
    for i in failed:
        audit(s, None, "lease_expired_failed", "experiment", i)
    for i in requeued:
        audit(s, None, "lease_expired_requeued", "experiment", i)
    out = {"failed": list(failed), "requeued": list(requeued)}
    if withdrawn:
        out["cancelled"] = list(withdrawn)
    return out


def claim_next(s: Session, robot_key_id: int, lease_seconds: float, now: datetime | None = None) -> Experiment | None:
    """Lease the oldest queued experiment of an active campaign to this robot, or None.

    One UPDATE … WHERE id = (SELECT … LIMIT 1) … RETURNING: on PostgreSQL the sub-select takes FOR UPDATE SKIP
    LOCKED, so concurrent claimers skip each other's rows instead of waiting or double-claiming; on SQLite the
    single statement holds the database write lock, and the status re-check makes a lost race return nothing.
    """
    now = now or utcnow()
    expire_leases(s, now)
    nxt = (select(Experiment.id).join(Campaign, Campaign.id == Experiment.campaign_id)
           .where(Experiment.status == ExperimentStatus.queued, Campaign.status == CampaignStatus.active)
           .order_by(Experiment.id).limit(1).with_for_update(skip_locked=True, of=Experiment))
    claimed = s.scalar(
        update(Experiment)
        .where(Experiment.id == nxt.scalar_subquery(), Experiment.status == ExperimentStatus.queued)
        .values(status=ExperimentStatus.leased, lease_owner=robot_key_id, lease_token=secrets.token_urlsafe(24),
                lease_expires_at=now + timedelta(seconds=lease_seconds), attempts=Experiment.attempts + 1,
                updated_at=now)
        .returning(Experiment.id))
    seen(s, robot_key_id, now)
    if claimed is None:
        s.commit()
        return None
    audit(s, robot_key_id, "claim", "experiment", claimed)
    s.commit()
    return s.get(Experiment, claimed, populate_existing=True)


def unserveable(s: Session, experiment_id: int, robot_key_id: int, reason: str) -> None:
    """A claimed experiment whose row cannot be served: the lease is taken back and the experiment fails with the
    reason (it would fail every claim after this one too), audited."""
    exp = _get(s, Experiment, experiment_id, "experiment")
    exp.status, exp.failure_reason = ExperimentStatus.failed, reason[:2000]
    exp.lease_owner = exp.lease_token = exp.lease_expires_at = None
    exp.updated_at = utcnow()
    audit(s, robot_key_id, "claim_withdrawn", "experiment", experiment_id, reason=reason[:500])
    s.commit()


def _leased_to(s: Session, experiment_id: int, robot_key_id: int, lease_token: str) -> Experiment:
    """The experiment, locked, if ``lease_token`` is its current, unexpired lease held by this robot; else a
    Conflict that says what became of the lease. A lease found expired is swept at once (requeued or failed)."""
    exp = s.get(Experiment, experiment_id, with_for_update=True, populate_existing=True)
    if exp is None:
        raise NotFound(f"experiment {experiment_id} not found")
    if exp.lease_owner != robot_key_id or exp.lease_token != lease_token or exp.status != ExperimentStatus.leased:
        s.rollback()
        if exp.status == ExperimentStatus.leased and exp.lease_token == lease_token:
            what = (f"the token is right, but the lease is held by another robot (key {exp.lease_owner}); "
                    "post with the key that claimed it")
        elif exp.status == ExperimentStatus.leased:
            what = f"it was claimed again (attempt {exp.attempts}) after this lease expired"
        elif exp.status == ExperimentStatus.queued:
            what = "this lease expired and the experiment went back in the queue"
        else:
            what = f"the experiment is {exp.status}"
        raise Conflict(f"the lease token is not experiment {experiment_id}'s current lease: {what}")
    now = utcnow()
    if exp.lease_expires_at is not None and exp.lease_expires_at < now:
        expired_at = exp.lease_expires_at
        expire_leases(s, now)
        s.commit()
        raise Conflict(f"the lease on experiment {experiment_id} expired at {expired_at.isoformat(timespec='seconds')} "
                       "(no heartbeat in time); it was put back in the queue or failed, and this attempt is void")
    return exp


def heartbeat(s: Session, experiment_id: int, robot_key_id: int, lease_token: str, lease_seconds: float) -> Experiment:
    """Extend the lease by lease_seconds from now."""
    exp = _leased_to(s, experiment_id, robot_key_id, lease_token)
    exp.lease_expires_at = utcnow() + timedelta(seconds=lease_seconds)
    seen(s, robot_key_id)
    s.commit()
    return exp


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def record_result(s: Session, experiment_id: int, robot_key_id: int, lease_token: str, idempotency_key: str,
                  payload: dict[str, Any], fields: dict[str, Any]) -> tuple[Measurement, bool]:
    """Store the measurement once. Returns (measurement, created). A retry with the same key and payload returns
    the stored row; the same key with a different payload is a Conflict; nothing is written twice."""
    h = payload_hash(payload)

    def replay() -> Measurement | None:
        """The stored result of this key and body (the replay audited), None if there is none yet."""
        existing = s.scalar(select(Measurement).where(Measurement.idempotency_key == idempotency_key))
        if existing is None:
            return None
        if existing.payload_hash != h or existing.experiment_id != experiment_id:
            s.rollback()
            raise Conflict("this Idempotency-Key was already used with a different result payload")
        audit(s, robot_key_id, "result_replayed", "experiment", experiment_id, idempotency_key=idempotency_key)
        s.commit()
        return existing

    if (stored := replay()) is not None:
        return stored, False
    # Lock the experiment, then look again: a first post of this very result may have been committing while we
    # looked (the lock waits for it), and its retry must get the stored answer, not "not leased".
    _lock_row(s, Experiment.id, experiment_id)
    if (stored := replay()) is not None:
        return stored, False
    exp = _leased_to(s, experiment_id, robot_key_id, lease_token)
    cal = fields.get("calibration_id")
    if cal is not None and s.get(CellCalibration, cal) is None:
        raise NotFound(f"calibration {cal} not found: post it to /v1/calibrations first")
    m = Measurement(experiment_id=experiment_id, idempotency_key=idempotency_key, payload_hash=h, created_at=utcnow(), **fields)
    s.add(m)
    exp.status = ExperimentStatus.measured
    exp.lease_owner = None
    exp.lease_token = None
    exp.lease_expires_at = None
    exp.updated_at = utcnow()
    try:
        s.flush()
        audit(s, robot_key_id, "result", "experiment", experiment_id, conductivity_mS_cm=fields.get("conductivity_mS_cm"))
        s.commit()
    except IntegrityError:
        s.rollback()  # a concurrent retry with the same key won the race: answer as that one did
        existing = s.scalar(select(Measurement).where(Measurement.idempotency_key == idempotency_key))
        if existing is not None and existing.payload_hash == h:
            return existing, False
        raise Conflict("a result for this experiment was recorded concurrently") from None
    _maybe_complete(s, exp.campaign_id)
    return m, True


def fail_experiment(s: Session, experiment_id: int, robot_key_id: int, lease_token: str, reason: str,
                    retryable: bool, cause: str = "measurement", max_restarts: int = 5) -> Experiment:
    """End an attempt. A failed measurement goes back in the queue if retryable and chemistry attempts remain.
    An attempt cut short by the agent's restart (cause "robot_restart") is made again without using up a chemistry
    attempt, up to max_restarts times; then it fails, saying so."""
    exp = _leased_to(s, experiment_id, robot_key_id, lease_token)
    now = utcnow()
    if cause == "robot_restart":
        exp.restarts += 1
        if exp.restarts > max_restarts:
            exp.status = ExperimentStatus.failed
            exp.failure_reason = (f"the robot restarted in the middle of this experiment {exp.restarts} times; "
                                  f"not made again ({reason})")
        else:
            exp.status = ExperimentStatus.queued
            exp.failure_reason = f"attempt {exp.attempts} interrupted: {reason}"
    elif retryable and exp.attempts - exp.restarts < exp.max_attempts:
        exp.status = ExperimentStatus.queued
        exp.failure_reason = f"attempt {exp.attempts} failed: {reason}"
    else:
        exp.status = ExperimentStatus.failed
        exp.failure_reason = reason
    exp.lease_owner = None
    exp.lease_token = None
    exp.lease_expires_at = None
    exp.updated_at = now
    audit(s, robot_key_id, "fail", "experiment", experiment_id, reason=reason, retryable=retryable, cause=cause,
          status=exp.status)
    s.commit()
    _maybe_complete(s, exp.campaign_id)
    return exp


def _maybe_complete(s: Session, campaign_id: int) -> None:
    c = s.get(Campaign, campaign_id)
    counts = campaign_counts(s, campaign_id)
    done = sum(counts.get(k, 0) for k in FINISHED)
    running = counts.get(ExperimentStatus.queued) or counts.get(ExperimentStatus.leased)
    if c.status == CampaignStatus.active and done >= c.budget and not running:
        c.status = CampaignStatus.completed
        audit(s, None, "complete", "campaign", campaign_id)
        s.commit()


# ----------------------------------------------------------------------------- robots
def _robot_row(s: Session, robot_key_id: int) -> RobotStatus:
    row = s.get(RobotStatus, robot_key_id)
    if row is None:
        row = RobotStatus(api_key_id=robot_key_id, vessels={}, instrument_ids={})
        s.add(row)
    return row


def seen(s: Session, robot_key_id: int, now: datetime | None = None) -> None:
    """Note that the robot is alive (claims and heartbeats); committed with the caller's transaction."""
    _robot_row(s, robot_key_id).last_seen_at = now or utcnow()


def report_robot_status(s: Session, robot_key_id: int, vessels: dict[str, str], stopped_reason: str | None,
                        instrument_ids: dict[str, str], stocks: list[dict[str, Any]] | None = None) -> RobotStatus:
    """What the robot says of itself: its vessels, whether and why it stopped taking work, its instruments, and the
    stocks its lab file declares (None keeps what it declared before)."""
    row = _robot_row(s, robot_key_id)
    if stopped_reason != row.stopped_reason:
        audit(s, robot_key_id, "robot_stopped" if stopped_reason else "robot_resumed", "api_key", robot_key_id,
              reason=stopped_reason)
    if stocks is not None and stocks != row.stocks:
        audit(s, robot_key_id, "robot_stocks", "api_key", robot_key_id, stocks=[st["name"] for st in stocks])
        row.stocks = list(stocks)
    row.vessels, row.stopped_reason, row.instrument_ids = dict(vessels), stopped_reason, dict(instrument_ids)
    row.last_seen_at = utcnow()
    try:
        s.commit()
    except IntegrityError:  # its first report raced its first claim: the row exists now
        s.rollback()
        return report_robot_status(s, robot_key_id, vessels, stopped_reason, instrument_ids, stocks)
    return row


def robots(s: Session) -> list[dict[str, Any]]:
    """Every robot key: when it was last seen, what it holds under lease, its vessels and why it stopped, if it did."""
    now = utcnow()
    status = {r.api_key_id: r for r in s.scalars(select(RobotStatus)).all()}
    leases: dict[int, list[dict[str, Any]]] = {}
    for e in s.scalars(select(Experiment).where(Experiment.status == ExperimentStatus.leased)
                       .order_by(Experiment.id)).all():
        if e.lease_owner is not None:
            leases.setdefault(e.lease_owner, []).append(
                {"experiment_id": e.id, "campaign_id": e.campaign_id, "attempt": e.attempts,
                 "lease_expires_at": e.lease_expires_at,
                 "lease_expired": e.lease_expires_at is not None and e.lease_expires_at < now})
    out = []
    for key in s.scalars(select(ApiKey).where(ApiKey.role == Role.robot).order_by(ApiKey.id)).all():
        st = status.get(key.id)
        out.append({"key_id": key.id, "name": key.name, "revoked": key.revoked_at is not None,
                    "last_seen_at": st.last_seen_at if st else None, "leases": leases.get(key.id, []),
                    "vessels": st.vessels if st else {}, "stopped_reason": st.stopped_reason if st else None,
                    "instrument_ids": st.instrument_ids if st else {},
                    "stocks": st.stocks if st else None})
    return out


def declared_stocks(s: Session) -> dict[str, list[dict[str, Any]]]:
    """The stocks of every working robot key that has declared them, by the key's name (or ``robot <id>``)."""
    q = (select(ApiKey, RobotStatus).join(RobotStatus, RobotStatus.api_key_id == ApiKey.id)
         .where(ApiKey.role == Role.robot, ApiKey.revoked_at.is_(None)).order_by(ApiKey.id))
    # filtered here, not in SQL: a JSON column's "not declared" may be SQL NULL or JSON null by dialect
    return {key.name or f"robot {key.id}": list(st.stocks) for key, st in s.execute(q).all() if st.stocks is not None}


def ping(s: Session) -> None:
    """A round trip to the database (raises when it does not answer)."""
    s.execute(text("SELECT 1"))


def queue_depth(s: Session) -> int:
    return s.scalar(select(func.count()).select_from(Experiment).join(Campaign, Campaign.id == Experiment.campaign_id)
                    .where(Experiment.status == ExperimentStatus.queued, Campaign.status == CampaignStatus.active))


# ----------------------------------------------------------------------------- calibrations
def add_calibration(s: Session, by: int | None, audit_detail: dict[str, Any] | None = None, **fields) -> CellCalibration:
    """Store a calibration, audited with who posted it (and ``audit_detail``: a forced one's reason)."""
    c = CellCalibration(calibrated_at=fields.pop("calibrated_at", None) or utcnow(), **fields)
    s.add(c)
    s.flush()
    audit(s, by, "calibrate", "cell", c.id, cell_id=c.cell_id, cell_constant_per_cm=c.cell_constant_per_cm,
          **(audit_detail or {}))
    s.commit()
    return c


def list_calibrations(s: Session, limit: int = 200) -> Sequence[CellCalibration]:
    """The newest calibrations of every cell, newest first."""
    return s.scalars(select(CellCalibration).order_by(CellCalibration.calibrated_at.desc(), CellCalibration.id.desc())
                     .limit(limit)).all()


def latest_calibration(s: Session, cell_id: str) -> CellCalibration | None:
    return s.scalar(select(CellCalibration).where(CellCalibration.cell_id == cell_id)
                    .order_by(CellCalibration.calibrated_at.desc(), CellCalibration.id.desc()).limit(1))


# ----------------------------------------------------------------------------- analysts
def export_results(s: Session, by: int | None, campaign_id: int | None, fmt: str) -> list[dict[str, Any]]:
    """``results`` for a download, audited (who exported which campaign's measurements, in which format)."""
    rows = results(s, campaign_id)
    audit(s, by, "export", "results", campaign_id, format=fmt, rows=len(rows))
    s.commit()
    return rows


def results(s: Session, campaign_id: int | None = None) -> list[dict[str, Any]]:
    q = (select(Experiment, Measurement, Campaign.name, ModelVersion.name)
         .join(Measurement, Measurement.experiment_id == Experiment.id)
         .join(Campaign, Campaign.id == Experiment.campaign_id)
         .join(ModelVersion, ModelVersion.id == Experiment.model_version_id)
         .order_by(Experiment.id))
    if campaign_id is not None:
        q = q.where(Experiment.campaign_id == campaign_id)
    out = []
    for e, m, cname, mvname in s.execute(q).all():
        out.append({"experiment_id": e.id, "campaign_id": e.campaign_id, "campaign": cname,
                    "composition": e.composition, "measured_composition": m.measured_composition, "recipe": e.recipe,
                    "temperature_K": m.temperature_K, "predicted": e.predicted, "predicted_std": e.predicted_std,
                    "measured": m.conductivity_mS_cm, "residual": m.conductivity_mS_cm - e.predicted,
                    "method": m.method, "quality_flags": m.quality_flags, "model_version": mvname})
    return out


def campaign_summary(s: Session, campaign_id: int) -> dict[str, Any]:
    """Counts, mean absolute residual of prediction vs measurement, and the best measured experiment so far."""
    c = get_campaign(s, campaign_id)
    rows = results(s, campaign_id)
    mae = sum(abs(r["residual"]) for r in rows) / len(rows) if rows else None
    best = None
    if rows:
        pick = max if c.design["objective"].get("maximize", True) else min
        b = pick(rows, key=lambda r: r["measured"])
        best = {"experiment_id": b["experiment_id"], "measured": b["measured"], "predicted": b["predicted"],
                "composition": b["measured_composition"], "temperature_K": b["temperature_K"]}
    return {"campaign_id": campaign_id, "status": c.status, "counts": campaign_counts(s, campaign_id),
            "measured": len(rows), "mae": mae, "best": best}
