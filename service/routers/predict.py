"""POST /v1/predict, /v1/gradient, /v1/optimize: the model, over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from model.errors import DiffMixInputError
from model.optimize.problem import optimise, result_json
from service.auth import PredictDep
from service.deps import StateDep
from service.errors import PROBLEM_RESPONSES
from service.schemas import GradientResponse, OptimizeRequest, PredictRequest, PredictResponse, design_of

router = APIRouter(prefix="/v1", tags=["model"], responses=PROBLEM_RESPONSES)


def _records(state: StateDep, body: PredictRequest) -> list[dict[str, Any]]:
    limit = state.settings.max_records
    if len(body.records) > limit:
        raise DiffMixInputError(f"{len(body.records)} records in one request; the limit is {limit}")
    return [r.model_dump(exclude_none=True) for r in body.records]


@router.post("/predict", response_model=PredictResponse)
def predict(body: PredictRequest, state: StateDep, _: PredictDep) -> dict[str, Any]:
    """Predictions with ensemble std and unit, in the order of the records."""
    model = state.model_for(body.property)
    return {"predictions": model.predictor.predict_records(_records(state, body))}


@router.post("/gradient", response_model=GradientResponse)
def gradient(body: PredictRequest, state: StateDep, _: PredictDep) -> dict[str, Any]:
    """Predictions plus ∂P/∂x for every species (ions counted separately), by automatic differentiation."""
    model = state.model_for(body.property)
    return {"predictions": model.predictor.predict_records(_records(state, body), gradient=True)}


@router.post("/optimize")
def optimize(body: OptimizeRequest, state: StateDep, _: PredictDep) -> dict[str, Any]:
    """Batch gradient ascent over a composition space: every trajectory and the best point."""
    design = design_of(body)
    obj = design.objective_for(state.model_for_design(design).predictor.ensemble)
    return result_json(obj, optimise(obj, body.starts, body.start_mode, body.seed, max_iter=body.max_iter))
