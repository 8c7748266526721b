"""The robot scheduler's queue: claim under a lease, heartbeat, post a result (idempotent), or fail.

What a robot receives (the experiment's ``recipe``) and sends (``Result``) is the contract in model/contract.py."""

from __future__ import annotations

from fastapi import APIRouter, Header, Response

from db import crud
from db.models import Experiment, Measurement
from service.auth import RobotDep
from service.deps import SessionDep, SettingsDep
from service.schemas import ExperimentOut, FailIn, Id, MeasurementOut, ResultIn

router = APIRouter(prefix="/v1", tags=["robot"])


@router.post("/robot/claim", response_model=ExperimentOut, responses={204: {"description": "nothing queued"}})
def claim(s: SessionDep, settings: SettingsDep, caller: RobotDep) -> Experiment | Response:
    """Lease the next queued experiment to this robot (204 when the queue is empty)."""
    exp = crud.claim_next(s, caller.key, settings.lease_seconds)
    return Response(status_code=204) if exp is None else exp


@router.post("/experiments/{experiment_id}/heartbeat", response_model=ExperimentOut)
def heartbeat(experiment_id: Id, s: SessionDep, settings: SettingsDep, caller: RobotDep) -> Experiment:
    """Extend the lease while the robot works."""
    return crud.heartbeat(s, experiment_id, caller.key, settings.lease_seconds)


@router.post("/experiments/{experiment_id}/result", response_model=MeasurementOut,
             responses={201: {"description": "stored"}, 200: {"description": "a retry: the stored result"}})
def result(experiment_id: Id, body: ResultIn, s: SessionDep, response: Response, caller: RobotDep,
           idempotency_key: str = Header(..., min_length=8, max_length=200,
                                         description="unique per result; a retry with the same key never stores twice"),
           ) -> Measurement:
    """Store the measurement of a leased experiment, once per idempotency key."""
    payload = body.model_dump(mode="json")
    fields = {k: v for k, v in body.model_dump().items() if k not in ("spectrum", "version")}
    fields["spectrum"] = payload["spectrum"]
    m, created = crud.record_result(s, experiment_id, caller.key, idempotency_key, payload, fields)
    response.status_code = 201 if created else 200
    return m


@router.post("/experiments/{experiment_id}/fail", response_model=ExperimentOut)
def fail(experiment_id: Id, body: FailIn, s: SessionDep, caller: RobotDep) -> Experiment:
    """Report a failed attempt with its reason; retryable failures go back in the queue while attempts remain."""
    return crud.fail_experiment(s, experiment_id, caller.key, body.reason, body.retryable)
