"""The robot scheduler's queue: claim under a lease, heartbeat, post a result (idempotent), or fail.

What a robot receives (the experiment's ``recipe``) and sends (``Result``) is the contract in model/contract.py."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, HTTPException, Response
from pydantic import ValidationError

from db import crud
from db.models import Experiment, Measurement, utcnow
from model import plausibility
from service import learning
from service.auth import ReaderDep, RobotDep
from service.deps import LimitsDep, PlausibilityDep, SessionDep, SettingsDep, StateDep, refuse, refuse_implausible
from service.errors import PROBLEM_RESPONSES
from service.schemas import ExperimentOut, FailIn, Id, LeaseOut, MeasurementOut, ResultIn, RobotOut, RobotStatusIn

router = APIRouter(prefix="/v1", tags=["robot"], responses=PROBLEM_RESPONSES)
log = logging.getLogger("diffmix.service.robot")


LeaseToken = Annotated[str, Header(min_length=16, max_length=64, description="the lease token the claim returned")]


@router.post("/robot/claim", response_model=LeaseOut, responses={204: {"description": "nothing queued"}})
def claim(s: SessionDep, settings: SettingsDep, caller: RobotDep) -> LeaseOut | Response:
    """Lease the next queued experiment to this robot (204 when the queue is empty). An experiment whose stored
    row cannot be served (a recipe that is not the contract's) is not left leased to a robot that never got it:
    its lease is taken back and it fails with the reason, and the answer is a 500 naming it."""
    exp = crud.claim_next(s, caller.key, settings.lease_seconds)
    if exp is None:
        return Response(status_code=204)
    try:
        return LeaseOut.model_validate(exp)
    except ValidationError as e:
        reason = f"its stored row cannot be served to a robot: {str(e).splitlines()[0]}"
        crud.unserveable(s, exp.id, caller.key, reason)
        log.error("experiment %s %s; it failed", exp.id, reason)
        raise HTTPException(500, f"experiment {exp.id}: {reason}; it failed and was taken out of the queue") from None


@router.put("/robot/status", response_model=RobotOut)
def report_status(body: RobotStatusIn, s: SessionDep, caller: RobotDep) -> dict[str, Any]:
    """The robot's own state: its vessels, and why it stopped taking work when it did (None when it works)."""
    crud.report_robot_status(s, caller.key, {str(k): str(v) for k, v in body.vessels.items()}, body.stopped_reason,
                             body.instrument_ids,
                             None if body.stocks is None else [st.model_dump() for st in body.stocks])
    return next(r for r in crud.robots(s) if r["key_id"] == caller.key)


@router.get("/robots", response_model=list[RobotOut])
def robots(s: SessionDep, _: ReaderDep) -> list[dict[str, Any]]:
    """Every robot: last seen, its leases (and whether they expired), its vessels, why it stopped if it did."""
    return crud.robots(s)


@router.post("/experiments/{experiment_id}/heartbeat", response_model=ExperimentOut)
def heartbeat(experiment_id: Id, s: SessionDep, settings: SettingsDep, caller: RobotDep,
              lease_token: LeaseToken) -> Experiment:
    """Extend the lease while the robot works (409 when the lease already expired or was handed on)."""
    return crud.heartbeat(s, experiment_id, caller.key, lease_token, settings.lease_seconds)


@router.post("/experiments/{experiment_id}/result", response_model=MeasurementOut,
             responses={201: {"description": "stored"}, 200: {"description": "a retry: the stored result"}})
def result(experiment_id: Id, body: ResultIn, s: SessionDep, response: Response, caller: RobotDep, limits: LimitsDep,
           checks: PlausibilityDep, lease_token: LeaseToken, state: StateDep, background: BackgroundTasks,
           idempotency_key: str = Header(..., min_length=8, max_length=200,
                                         description="unique per result; a retry with the same key never stores twice"),
           ) -> Measurement:
    """Store the measurement of a leased experiment, once per idempotency key; the proposing model re-predicts
    it at its measured temperature, and the campaign's posterior learns from it (in the background). A result that
    cannot be believed is refused with a 422 naming the field (model/plausibility.py): its resistance is not what its
    spectrum gives, an impedance or frequency is unphysical, it carries fit_poor, what was weighed in is not the plan,
    or it started before the claim or in the future."""
    refuse_implausible(limits, resistance_ohm=body.resistance_ohm, cell_constant_per_cm=body.cell_constant_per_cm)
    planned = crud.get_experiment(s, experiment_id)
    refuse(plausibility.problems(body, planned.composition, crud.claimed_at(s, experiment_id), utcnow(), checks))
    payload = body.model_dump(mode="json")
    fields = {k: v for k, v in body.model_dump().items() if k not in ("spectrum", "version")}
    fields["spectrum"] = payload["spectrum"]
    m, created = crud.record_result(s, experiment_id, caller.key, lease_token, idempotency_key, payload, fields)
    response.status_code = 201 if created else 200
    if created:
        try:
            m = learning.judge_result(state, s, m)
        except Exception:  # noqa: BLE001 - the result is stored; a re-prediction is an addition, not a condition
            log.exception("re-predicting experiment %s at its measured temperature failed", experiment_id)
        background.add_task(learning.update_after_result, state, m.experiment.campaign_id)
    return m


@router.post("/experiments/{experiment_id}/fail", response_model=ExperimentOut)
def fail(experiment_id: Id, body: FailIn, s: SessionDep, settings: SettingsDep, caller: RobotDep,
         lease_token: LeaseToken) -> Experiment:
    """Report a failed attempt with its reason; retryable failures go back in the queue while attempts remain."""
    return crud.fail_experiment(s, experiment_id, caller.key, lease_token, body.reason, body.retryable, body.cause,
                                settings.max_restarts)
