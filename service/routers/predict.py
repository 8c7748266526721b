"""POST /v1/predict, /v1/gradient, /v1/optimize: the model, over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from model.errors import DiffMixInputError
from model.optimize.problem import build_objective, optimise, result_json
from service.auth import Caller, require
from service.schemas import GradientResponse, OptimizeRequest, PredictRequest, PredictResponse

router = APIRouter(prefix="/v1", tags=["model"])
predict_access = require("operator", anonymous_flag="anonymous_predict")


def _records(request: Request, body: PredictRequest) -> list[dict]:
    limit = request.app.state.diffmix.settings.max_records
    if len(body.records) > limit:
        raise DiffMixInputError(f"{len(body.records)} records in one request; the limit is {limit}")
    return [r.model_dump() for r in body.records]


@router.post("/predict", response_model=PredictResponse)
def predict(body: PredictRequest, request: Request, _: Caller = Depends(predict_access)):
    """Predictions with ensemble std and unit, in the order of the records."""
    model = request.app.state.diffmix.model_for(body.property)
    return {"predictions": model.predictor.predict_records(_records(request, body))}


@router.post("/gradient", response_model=GradientResponse)
def gradient(body: PredictRequest, request: Request, _: Caller = Depends(predict_access)):
    """Predictions plus ∂P/∂x for every species (ions counted separately), by automatic differentiation."""
    model = request.app.state.diffmix.model_for(body.property)
    return {"predictions": model.predictor.predict_records(_records(request, body), gradient=True)}


def objective_from(state, prop: str, space, objective, temperature_K, temperature_range_K, loaded=None):
    loaded = loaded or state.model_for(prop)
    return build_objective(
        loaded.predictor.ensemble, space.salt, space.solvents, space.salt_fraction,
        space.salt_fraction_range, space.salt_molality, space.solvent_ratio, space.lower, space.upper,
        space.exclude, temperature_K, temperature_range_K, objective.aggregate, objective.maximize, objective.beta)


@router.post("/optimize")
def optimize(body: OptimizeRequest, request: Request, _: Caller = Depends(predict_access)):
    """Batch gradient ascent over a composition space: every trajectory and the best point."""
    obj = objective_from(request.app.state.diffmix, body.property, body.space, body.objective,
                         body.temperature_K, body.temperature_range_K)
    return result_json(obj, optimise(obj, body.starts, body.start_mode, body.seed, max_iter=body.max_iter))
