"""Campaigns: create, read, list, pause/resume/cancel, and proposals queued as experiments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from db import crud
from db.enums import PENDING, SPENDING, CampaignStatus
from db.models import Campaign, Experiment
from model.chem import canonical
from model.data.tables import name_of
from model.domain import Report, fractions_report, space_report
from model.errors import DiffMixInputError
from model.optimize.landscape import picture_grid
from model.optimize.loop import LEARNS, next_batch
from service import lab, learning
from service.auth import OperatorDep, ReaderDep
from service.deps import SessionDep, StateDep
from service.errors import PROBLEM_RESPONSES
from service.schemas import CampaignCreate, CampaignModelOut, CampaignOut, ExperimentOut, Id, ProposalOut, design_of

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=PROBLEM_RESPONSES)


def _out(s: Session, c: Campaign, domain: Report | None = None,
         declared: dict[str, list[dict[str, Any]]] | None = None) -> CampaignOut:
    return CampaignOut(**c.design, id=c.id, name=c.name, model_version_id=c.model_version_id, strategy=c.strategy,
                       budget=c.budget, temperature_tolerance_K=c.temperature_tolerance_K, status=c.status,
                       created_at=c.created_at, counts=crud.campaign_counts(s, c.id), best=crud.best_measured(s, c),
                       domain=None if domain is None else domain.json(),
                       lab=lab.lab_report(c.design["space"], crud.declared_stocks(s) if declared is None else declared))


@router.post("", response_model=CampaignOut, status_code=201)
def create(body: CampaignCreate, s: SessionDep, state: StateDep, caller: OperatorDep) -> CampaignOut:
    """Create a campaign; its whole design (SMILES, bounds, temperatures) is checked now, so that a campaign that
    could not propose is refused."""
    design = design_of(body)
    loaded = state.model_for_design(design, body.model_version_id)
    obj = design.objective_for(loaded.predictor.ensemble)
    domain = space_report(obj.ensemble.domain, obj.space, obj.temperatures_K)
    if body.strict and not domain.in_domain:
        raise DiffMixInputError("space: outside the model's applicability domain (strict): " + "; ".join(domain.reasons))
    stored = design.model_dump(mode="json")
    why = lab.refusal(lab.lab_report(stored["space"], crud.declared_stocks(s)))
    if why:
        raise DiffMixInputError(why)
    crud.upsert_molecules(s, {sp: name_of(sp) if name_of(sp) != sp else None
                              for sp in [*obj.space.species, canonical(obj.space.salt)]})
    c = crud.create_campaign(s, caller.key_id, name=body.name, design=stored,
                             model_version_id=loaded.version_id, strategy=body.strategy, budget=body.budget,
                             temperature_tolerance_K=body.temperature_tolerance_K)
    return _out(s, c, domain)


@router.get("", response_model=list[CampaignOut])
def list_(s: SessionDep, _: ReaderDep, status: CampaignStatus | None = None) -> list[CampaignOut]:
    """Every campaign, optionally only those in one status."""
    declared = crud.declared_stocks(s)
    return [_out(s, c, declared=declared) for c in crud.list_campaigns(s, status)]


@router.get("/{campaign_id}", response_model=CampaignOut)
def read(campaign_id: Id, s: SessionDep, state: StateDep, _: ReaderDep) -> CampaignOut:
    """One campaign with its design, experiment counts and the applicability-domain report of its space."""
    c = crud.get_campaign(s, campaign_id)
    obj = learning.objective_for(state, c)
    return _out(s, c, space_report(obj.ensemble.domain, obj.space, obj.temperatures_K))


@router.get("/{campaign_id}/experiments", response_model=list[ExperimentOut])
def experiments(campaign_id: Id, s: SessionDep, _: ReaderDep) -> Sequence[Experiment]:
    """Every experiment of the campaign, oldest first."""
    crud.get_campaign(s, campaign_id)
    return crud.campaign_experiments(s, campaign_id)


def _transition(action: str) -> Callable[..., CampaignOut]:
    def endpoint(campaign_id: Id, s: SessionDep, caller: OperatorDep) -> CampaignOut:
        return _out(s, crud.set_campaign_status(s, campaign_id, action, caller.key_id))

    endpoint.__name__ = action
    endpoint.__doc__ = f"{action.capitalize()} the campaign."
    return endpoint


for _action in crud.TRANSITIONS:
    router.add_api_route(f"/{{campaign_id}}/{_action}", _transition(_action), methods=["POST"], response_model=CampaignOut)


@router.post("/{campaign_id}/proposals", response_model=list[ProposalOut], status_code=201,
             responses={201: {"headers": {"Proposals-Limited": {
                 "description": "present when fewer were queued than asked, saying how many and why",
                 "schema": {"type": "string"}}}}})
def proposals(campaign_id: Id, s: SessionDep, state: StateDep, caller: OperatorDep, response: Response,
              n: int = Query(4, ge=1, le=64)) -> list[dict[str, Any]]:
    """Propose a batch and queue it as experiments. ``learning`` draws each point from a portfolio on the campaign's
    posterior (DiffMix's posterior and a prior-free GP weighed by the measurements; pending experiments accounted
    for): its best mean, a prior-free point, and a space-filling or upper-confidence point; each experiment's
    ``source`` says which. ``gradient`` climbs DiffMix alone; ``botorch`` is a plain GP loop on the measurements;
    ``random`` draws feasible points. Fewer than asked (the budget) is said in the Proposals-Limited header."""
    c, left, made = crud.open_for_proposals(s, campaign_id)
    budget = c.budget
    obj = learning.objective_for(state, c)
    version_id, posterior = learning.pending_posterior(state, s, c, made)
    s.commit()  # hold no transaction open while the optimiser runs
    if c.strategy not in LEARNS:
        version_id = c.model_version_id  # the checkpoint alone proposes
    avoid = [np.array(e.point) for e in made if e.status in SPENDING]
    chosen, obj = next_batch(obj, posterior, c.strategy, min(n, left), seed=campaign_id * 100_003 + len(made),
                             avoid=avoid)
    queued = crud.queue_experiments(s, crud.get_campaign(s, campaign_id), [p.experiment(obj) for p in chosen],
                                    caller.key_id, state.settings.max_attempts, model_version_id=version_id)
    if len(queued) < n:
        why = (f"the campaign has {left} of its budget of {budget} experiments left" if left < n
               else "the strategy found no more points far enough from the others")
        response.headers["Proposals-Limited"] = f"queued {len(queued)} of the {n} asked: {why}"
    return [{**ExperimentOut.model_validate(e).model_dump(),
             "domain": fractions_report(obj.ensemble.domain, e.composition, e.temperature_K).json()} for e in queued]


@router.get("/{campaign_id}/model", response_model=CampaignModelOut)
def model(campaign_id: Id, s: SessionDep, state: StateDep, _: ReaderDep) -> dict[str, Any]:
    """The campaign's current posterior (refitted now if a measurement is newer): its version, leave-one-out
    diagnostics, the history of its versions, and how the proposals' residuals shrink batch by batch."""
    c = crud.get_campaign(s, campaign_id)
    fitted = learning.current(state.learner, s, c, learning.objective_for(state, c))
    history = [{"version_id": v.id, "n_measurements": v.n_measurements, "loo_mae": v.loo_mae,
                "coverage_2sigma": v.coverage_2sigma, "created_at": v.created_at}
               for v in crud.posterior_versions(s, campaign_id)]
    return {"campaign_id": campaign_id, "version_id": fitted.version_id, "parent_id": c.model_version_id,
            "strategy": c.strategy, "evidence": fitted.posterior.evidence.as_dict(),
            "diagnostics": fitted.posterior.diagnostics().as_dict(), "history": history,
            "batches": learning.batch_residuals(crud.measured(s, campaign_id))}


@router.get("/{campaign_id}/landscape")
def landscape(campaign_id: Id, s: SessionDep, state: StateDep, _: ReaderDep,
              steps: int = Query(30, ge=5, le=80)) -> dict[str, Any]:
    """The campaign's current posterior (DiffMix corrected by its measurements) over a picture of its space, with
    the measured points and the pending proposals in the same coordinates (solvent shares by the space's basis,
    the salt in its own unit). ``kind`` is ternary, binary, salt, or none for a space of more dimensions."""
    c = crud.get_campaign(s, campaign_id)
    obj = learning.objective_for(state, c)
    fitted = learning.current(state.learner, s, c, obj)
    space, T = obj.space, obj.temperatures_K[0]
    rows = crud.measured(s, campaign_id)
    pending = [e for e in crud.campaign_experiments(s, campaign_id) if e.status in PENDING]
    s.commit()
    placed, unplaced = [], []
    for e, m in rows:
        try:
            placed.append((e, m, space.point_of(m.measured_composition).tolist()))
        except DiffMixInputError as err:
            unplaced.append((e, m, str(err)))
    head = {"campaign_id": campaign_id, "version_id": fitted.version_id, "temperature_K": T,
            "basis": space.solvent_basis, "solvents": [{"name": name_of(x), "smiles": x} for x in space.solvents],
            "salt": {"name": name_of(space.salt), "smiles": space.salt, "variable": space.salt_variable,
                     "unit": space.salt_unit},
            "measured": [{"experiment_id": e.id, "z": z, "measured": m.conductivity_mS_cm, "temperature_K": m.temperature_K}
                         for e, m, z in placed],
            # a stored result whose composition lies outside the space is reported, not a reason to fail the picture
            "unplaced": [{"experiment_id": e.id, "error": why} for e, _, why in unplaced],
            "pending": [{"experiment_id": e.id, "z": e.point, "status": e.status} for e in pending]}
    picture = picture_grid(space, steps)
    if picture is None:
        return {**head, "kind": "none", "points": [], "value": [], "std": []}
    kind, z = picture
    value, std = fitted.posterior.predict_numpy(z, T)
    return {**head, "kind": kind, "points": np.round(z, 6).tolist(), "value": np.round(value, 5).tolist(),
            "std": np.round(std, 5).tolist()}
