"""The robot scheduler's queue: claim under a lease, heartbeat, post a result (idempotent), or fail."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request, Response

from db import crud
from model.cell import conductivity_mS_cm
from model.errors import DiffMixInputError
from service.auth import Caller, require
from service.schemas import ExperimentOut, FailIn, Id, MeasurementOut, ResultIn

router = APIRouter(prefix="/v1", tags=["robot"])
robot = require("robot")

# κ [mS/cm] = 1000 · K_cell [1/cm] / R [Ω]; a posted conductivity must agree with its own R and K.
CONSISTENCY_TOL = 0.01


@router.post("/robot/claim", response_model=ExperimentOut, responses={204: {"description": "nothing queued"}})
def claim(request: Request, caller: Caller = Depends(robot)):
    """Lease the next queued experiment to this robot (204 when the queue is empty)."""
    state = request.app.state.diffmix
    with state.sessions() as s:
        exp = crud.claim_next(s, caller.key_id, state.settings.lease_seconds)
        if exp is None:
            return Response(status_code=204)
        return ExperimentOut.model_validate(exp)


@router.post("/experiments/{experiment_id}/heartbeat", response_model=ExperimentOut)
def heartbeat(experiment_id: Id, request: Request, caller: Caller = Depends(robot)):
    """Extend the lease while the robot works."""
    state = request.app.state.diffmix
    with state.sessions() as s:
        return crud.heartbeat(s, experiment_id, caller.key_id, state.settings.lease_seconds)


@router.post("/experiments/{experiment_id}/result", response_model=MeasurementOut,
             responses={201: {"description": "stored"}, 200: {"description": "a retry: the stored result"}})
def result(experiment_id: Id, body: ResultIn, request: Request, response: Response,
           idempotency_key: str = Header(..., min_length=8, max_length=200,
                                         description="unique per result; a retry with the same key never stores twice"),
           caller: Caller = Depends(robot)):
    sp = body.spectrum
    if not (len(sp.frequency_Hz) == len(sp.z_real_ohm) == len(sp.z_imag_ohm)):
        raise DiffMixInputError("spectrum columns frequency_Hz, z_real_ohm and z_imag_ohm must have the same length")
    expected = conductivity_mS_cm(body.cell_constant_per_cm, body.resistance_ohm)
    if abs(body.conductivity_mS_cm - expected) > CONSISTENCY_TOL * expected:
        raise DiffMixInputError(f"conductivity_mS_cm {body.conductivity_mS_cm:.6g} does not equal 1000·K/R = {expected:.6g} "
                                "(K in 1/cm, R in ohm): check units")
    if abs(sum(body.measured_composition.values()) - 1) > 1e-3 or any(v < 0 for v in body.measured_composition.values()):
        raise DiffMixInputError("measured_composition must be non-negative mole fractions summing to 1")
    payload = body.model_dump(mode="json")
    fields = {k: v for k, v in body.model_dump().items() if k != "spectrum"}
    fields["spectrum"] = payload["spectrum"]
    with request.app.state.diffmix.sessions() as s:
        m, created = crud.record_result(s, experiment_id, caller.key_id, idempotency_key, payload, fields)
        response.status_code = 201 if created else 200
        return m


@router.post("/experiments/{experiment_id}/fail", response_model=ExperimentOut)
def fail(experiment_id: Id, body: FailIn, request: Request, caller: Caller = Depends(robot)):
    """Report a failed attempt with its reason; retryable failures go back in the queue while attempts remain."""
    with request.app.state.diffmix.sessions() as s:
        return crud.fail_experiment(s, experiment_id, caller.key_id, body.reason, body.retryable)
