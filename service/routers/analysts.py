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
from model.plausibility import Problem
from service import learning
from service import results as results_view
from service.auth import AnyRoleDep, CalibratorDep, ReaderDep
from service.deps import LimitsDep, SessionDep, SettingsDep, refuse, refuse_implausible
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
def calibrate(body: CalibrationIn, s: SessionDep, caller: CalibratorDep, limits: LimitsDep,
              settings: SettingsDep) -> CellCalibration:
    """Store a single-point cell calibration: K_cell = κ_standard · R_measured (κ in S/cm). Robots post the ones
    they measure; operators (and admins) may post one made by hand. Every calibration is audited with its key. A
    constant outside the plausible range is refused; one further than DIFFMIX_CALIBRATION_MAX_CHANGE (20 %) from
    the cell's last calibration is refused unless ``force`` is given with a ``reason`` (audited): every later κ of
    that cell scales with it."""
    k = cell_constant_per_cm(body.standard_conductivity_mS_cm, body.measured_resistance_ohm)
    refuse_implausible(limits, resistance_ohm=body.measured_resistance_ohm, cell_constant_per_cm=k)
    last = crud.latest_calibration(s, body.cell_id)
    change = abs(k / last.cell_constant_per_cm - 1) if last is not None else 0.0
    if last is not None and change > settings.calibration_max_change and not body.force:
        refuse([Problem(("measured_resistance_ohm",),
                        f"gives a cell constant of {k:.5g} 1/cm, {change:.0%} from cell {body.cell_id}'s last "
                        f"calibration ({last.cell_constant_per_cm:.5g} 1/cm, {last.calibrated_at:%Y-%m-%d %H:%M} UTC; "
                        f"more than {settings.calibration_max_change:.0%} is refused): measure the standard again, or "
                        "send force with a reason if the cell really changed")])
    forced: dict[str, object] = {"forced": True, "change": round(change, 4)} if body.force else {}
    if body.reason:  # kept whenever given, forced or not
        forced["reason"] = body.reason
    return crud.add_calibration(s, caller.key_id, cell_id=body.cell_id, cell_constant_per_cm=k,
                                standard_conductivity_mS_cm=body.standard_conductivity_mS_cm,
                                measured_resistance_ohm=body.measured_resistance_ohm, temperature_K=body.temperature_K,
                                audit_detail=forced | {"role": str(caller.role)})


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
