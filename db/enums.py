"""The states and roles the service knows, one enum each. Models, CHECK constraints, request schemas and the
auth rules all use these; a new state or role is added here only."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    operator = "operator"
    robot = "robot"
    analyst = "analyst"
    admin = "admin"


class CampaignStatus(StrEnum):
    active = "active"
    paused = "paused"
    cancelled = "cancelled"
    completed = "completed"


class ModelKind(StrEnum):
    checkpoint = "checkpoint"  # a trained ensemble on disk
    posterior = "posterior"  # a campaign's learned correction on top of its parent


class ExperimentStatus(StrEnum):
    queued = "queued"
    leased = "leased"
    measured = "measured"
    failed = "failed"
    cancelled = "cancelled"


# Experiments waiting for a robot or in its hands: the pending points a new batch must account for.
PENDING = (ExperimentStatus.queued, ExperimentStatus.leased)
# Experiments that spend a campaign's budget (and that new proposals keep away from): waiting, running or done.
SPENDING = (*PENDING, ExperimentStatus.measured)
# Experiments that are finished, one way or the other.
FINISHED = (ExperimentStatus.measured, ExperimentStatus.failed)


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL for a CHECK constraint that keeps ``column`` to the enum's values."""
    return f"{column} IN ({','.join(repr(str(v)) for v in enum)})"
