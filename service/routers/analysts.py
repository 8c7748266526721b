"""Read-only views for analysts: prediction vs measurement, campaign summaries, calibrations, model versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from db import crud
from db.errors import NotFound
from db.models import CellCalibration
from model.cell import cell_constant_per_cm
from model.contract import MAX_ID
from service import learning
from service import results as results_view
from service.auth import AnyRoleDep, CalibratorDep, ReaderDep
from service.deps import LimitsDep, SessionDep, refuse_implausible
from service.errors import PROBLEM_RESPONSES
from service.schemas import CELL_ID, CalibrationIn, CalibrationOut, Id, Summary

router = APIRouter(prefix="/v1", tags=["analysts"], responses=PROBLEM_RESPONSES)


@router.get("/results", responses={200: {"content": {"text/csv": {}}}})
def results(s: SessionDep, caller: ReaderDep, campaign: int | None = Query(None, ge=1, le=MAX_ID),
            format: str = Query("json", pattern="^(json|csv)$")) -> Any:  # noqa: ANN401 - JSON rows or CSV text
    """Prediction vs measurement with residuals (measured − predicted), as JSON or CSV."""
    if campaign is not None:
        crud.get_campaign(s, campaign)
    rows = [results_view.with_lab_view(r) for r in crud.export_results(s, caller.key_id, campaign, format)]
    if format == "json":
        return rows
    name = f"diffmix-results-campaign-{campaign}.csv" if campaign else "diffmix-results.csv"
    return PlainTextResponse(results_view.to_csv(rows), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/campaigns/{campaign_id}/summary", response_model=Summary)
def summary(campaign_id: Id, s: SessionDep, _: ReaderDep) -> dict[str, Any]:
    """Counts, MAE of prediction vs measurement, the best measured composition so far, and how the proposals'
    residuals shrink batch by batch."""
    return crud.campaign_summary(s, campaign_id) | {"batches": learning.batch_residuals(crud.measured(s, campaign_id))}


@router.post("/calibrations", response_model=CalibrationOut, status_code=201)
def calibrate(body: CalibrationIn, s: SessionDep, caller: CalibratorDep, limits: LimitsDep) -> CellCalibration:
    """Store a single-point cell calibration: K_cell = κ_standard · R_measured (κ in S/cm)."""
    k = cell_constant_per_cm(body.standard_conductivity_mS_cm, body.measured_resistance_ohm)
    refuse_implausible(limits, resistance_ohm=body.measured_resistance_ohm, cell_constant_per_cm=k)
    return crud.add_calibration(s, caller.key_id, cell_id=body.cell_id, cell_constant_per_cm=k,
                                standard_conductivity_mS_cm=body.standard_conductivity_mS_cm,
                                measured_resistance_ohm=body.measured_resistance_ohm, temperature_K=body.temperature_K)


@router.get("/calibrations", response_model=list[CalibrationOut])
def calibrations(s: SessionDep, _: AnyRoleDep, limit: int = Query(200, ge=1, le=10_000)) -> Sequence[CellCalibration]:
    """Every cell's calibrations with their dates, newest first."""
    return crud.list_calibrations(s, limit)


@router.get("/calibrations/{cell_id}/latest", response_model=CalibrationOut)
def latest_calibration(cell_id: Annotated[str, Path(pattern=CELL_ID)], s: SessionDep, _: AnyRoleDep) -> CellCalibration:
    """The newest calibration of a cell (404 when it was never calibrated)."""
    c = crud.latest_calibration(s, cell_id)
    if c is None:
        raise NotFound(f"no calibration stored for cell {cell_id!r}")
    return c


@router.get("/model-versions")
def model_versions(s: SessionDep, _: ReaderDep) -> list[dict[str, Any]]:
    """Every model version this database knows (checkpoints and campaign posteriors), with its metrics."""
    return [{"id": m.id, "property": m.property, "name": m.name, "checkpoint_hash": m.checkpoint_hash,
             "kind": m.kind, "parent_id": m.parent_id, "campaign_id": m.campaign_id,
             "n_measurements": m.n_measurements, "metrics": m.metrics, "created_at": m.created_at}
            for m in crud.list_model_versions(s)]
