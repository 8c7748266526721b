"""Campaigns: create, read, list, pause/resume/cancel, and proposals queued as experiments."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, Query, Request

from db import crud
from model.chem import canonical
from model.data.tables import name_of
from model.errors import DiffMixInputError
from model.optimize.proposals import propose
from service.auth import Caller, require
from service.routers.predict import objective_from
from service.schemas import CampaignCreate, CampaignOut, ExperimentOut, Id, ObjectiveSpec, Space

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
operator = require("operator")
reader = require("operator", "analyst")


def _out(s, c) -> CampaignOut:
    out = CampaignOut.model_validate(c)
    out.counts = crud.campaign_counts(s, c.id)
    return out


def _objective(state, c):
    loaded = state.model_by_version(c.model_version_id)
    return objective_from(state, c.property, Space(**c.space), ObjectiveSpec(**c.objective), c.temperature_K,
                          c.temperature_range_K, loaded)


@router.post("", response_model=CampaignOut, status_code=201)
def create(body: CampaignCreate, request: Request, caller: Caller = Depends(operator)):
    state = request.app.state.diffmix
    loaded = state.model_by_version(body.model_version_id) if body.model_version_id else state.model_for(body.property)
    if loaded.predictor.property.name != body.property:
        raise DiffMixInputError(f"model version {loaded.version_id} predicts {loaded.predictor.property.name}, not {body.property}")
    # Validate the whole space now (SMILES, bounds, temperatures): a campaign that cannot propose is refused.
    obj = objective_from(state, body.property, body.space, body.objective, body.temperature_K, body.temperature_range_K,
                         loaded)
    with state.sessions() as s:
        crud.upsert_molecules(s, {sp: name_of(sp) if name_of(sp) != sp else None
                                  for sp in [*obj.space.species, canonical(obj.space.salt)]})
        c = crud.create_campaign(
            s, caller.key_id, name=body.name, property=body.property, objective=body.objective.model_dump(),
            space=body.space.model_dump(), temperature_K=body.temperature_K, temperature_range_K=body.temperature_range_K,
            model_version_id=loaded.version_id, strategy=body.strategy, budget=body.budget)
        return _out(s, c)


@router.get("", response_model=list[CampaignOut])
def list_(request: Request, status: str | None = Query(None, pattern="^(active|paused|cancelled|completed)$"),
          _: Caller = Depends(reader)):
    with request.app.state.diffmix.sessions() as s:
        return [_out(s, c) for c in crud.list_campaigns(s, status)]


@router.get("/{campaign_id}", response_model=CampaignOut)
def read(campaign_id: Id, request: Request, _: Caller = Depends(reader)):
    with request.app.state.diffmix.sessions() as s:
        return _out(s, crud.get_campaign(s, campaign_id))


@router.get("/{campaign_id}/experiments", response_model=list[ExperimentOut])
def experiments(campaign_id: Id, request: Request, _: Caller = Depends(reader)):
    with request.app.state.diffmix.sessions() as s:
        crud.get_campaign(s, campaign_id)
        return crud.campaign_experiments(s, campaign_id)


def _transition(action: str):
    def endpoint(campaign_id: Id, request: Request, caller: Caller = Depends(operator)):
        with request.app.state.diffmix.sessions() as s:
            return _out(s, crud.set_campaign_status(s, campaign_id, action, caller.key_id))

    endpoint.__name__ = action
    endpoint.__doc__ = f"{action.capitalize()} the campaign."
    return endpoint


for _action in ("pause", "resume", "cancel"):
    router.add_api_route(f"/{{campaign_id}}/{_action}", _transition(_action), methods=["POST"], response_model=CampaignOut)


@router.post("/{campaign_id}/proposals", response_model=list[ExperimentOut], status_code=201)
def proposals(campaign_id: Id, request: Request, n: int = Query(4, ge=1, le=64), caller: Caller = Depends(operator)):
    """Run batch gradient ascent from the campaign's model and queue the proposals as experiments."""
    state = request.app.state.diffmix
    with state.sessions() as s:
        c = crud.get_campaign(s, campaign_id)
        if c.status != "active":
            raise crud.Conflict(f"campaign {campaign_id} is {c.status}; only active campaigns take proposals")
        done = crud.campaign_experiments(s, campaign_id)
    counts = {}
    for e in done:
        counts[e.status] = counts.get(e.status, 0) + 1
    left = c.budget - sum(v for k, v in counts.items() if k in ("queued", "leased", "measured"))
    if left <= 0:
        raise crud.Conflict(f"campaign {campaign_id} has spent its budget of {c.budget} experiments")
    n = min(n, left)
    obj = _objective(state, c)
    space = obj.space
    avoid = [np.array(e.recipe["z"]) for e in done if e.status in ("queued", "leased", "measured")]
    chosen = propose(obj, n, seed=campaign_id * 100_003 + len(done), strategy=c.strategy, avoid=avoid)
    rows = []
    for p in chosen:
        grad = {s_: float(g) for s_, g in zip(space.solvents, p.gradient[:-1])} | {"salt_fraction": float(p.gradient[-1])}
        rows.append({"composition": space.species_dict(p.z), "recipe": space.recipe(p.z),
                     "temperature_K": float(np.mean(obj.temperatures_K)), "predicted": p.value,
                     "predicted_std": p.std, "gradient": grad})
    with state.sessions() as s:
        return crud.queue_experiments(s, crud.get_campaign(s, campaign_id), rows, caller.key_id, state.settings.max_attempts)

