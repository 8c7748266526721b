"""Read-only views for analysts: prediction vs measurement, campaign summaries, calibrations, model versions."""

from __future__ import annotations

import csv
import io

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from db import crud
from model.cell import cell_constant_per_cm
from service.auth import Caller, require
from service.schemas import MAX_ID, CalibrationIn, CalibrationOut, Id, Summary

router = APIRouter(prefix="/v1", tags=["analysts"])
reader = require("analyst", "operator")
CSV_COLUMNS = ["experiment_id", "campaign_id", "campaign", "temperature_K", "predicted", "predicted_std", "measured",
               "residual", "method", "quality_flags", "model_version", "composition", "measured_composition"]


@router.get("/results", responses={200: {"content": {"text/csv": {}}}})
def results(request: Request, campaign: int | None = Query(None, ge=1, le=MAX_ID), format: str = Query("json", pattern="^(json|csv)$"),
            _: Caller = Depends(reader)):
    """Prediction vs measurement with residuals (measured − predicted), as JSON or CSV."""
    with request.app.state.diffmix.sessions() as s:
        if campaign is not None:
            crud.get_campaign(s, campaign)
        rows = crud.results(s, campaign)
    if format == "json":
        return rows
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "quality_flags": ";".join(r["quality_flags"]),
                    "composition": " ".join(f"{k}={v:.5f}" for k, v in r["composition"].items()),
                    "measured_composition": " ".join(f"{k}={v:.5f}" for k, v in r["measured_composition"].items())})
    return PlainTextResponse(buf.getvalue(), media_type="text/csv")


@router.get("/campaigns/{campaign_id}/summary", response_model=Summary)
def summary(campaign_id: Id, request: Request, _: Caller = Depends(reader)):
    """Counts, MAE of prediction vs measurement, and the best measured composition so far."""
    with request.app.state.diffmix.sessions() as s:
        c = crud.get_campaign(s, campaign_id)
        counts = crud.campaign_counts(s, campaign_id)
        rows = crud.results(s, campaign_id)
    mae = float(np.mean([abs(r["residual"]) for r in rows])) if rows else None
    best = None
    if rows:
        pick = max if c.objective.get("maximize", True) else min
        b = pick(rows, key=lambda r: r["measured"])
        best = {"experiment_id": b["experiment_id"], "measured": b["measured"], "predicted": b["predicted"],
                "composition": b["measured_composition"], "temperature_K": b["temperature_K"]}
    return Summary(campaign_id=campaign_id, status=c.status, counts=counts, measured=len(rows), mae=mae, best=best)


@router.post("/calibrations", response_model=CalibrationOut, status_code=201)
def calibrate(body: CalibrationIn, request: Request, caller: Caller = Depends(require("robot", "operator"))):
    """Store a single-point cell calibration: K_cell = κ_standard · R_measured (κ in S/cm)."""
    k = cell_constant_per_cm(body.standard_conductivity_mS_cm, body.measured_resistance_ohm)
    with request.app.state.diffmix.sessions() as s:
        return crud.add_calibration(s, caller.key_id, cell_id=body.cell_id, cell_constant_per_cm=k,
                                    standard_conductivity_mS_cm=body.standard_conductivity_mS_cm,
                                    measured_resistance_ohm=body.measured_resistance_ohm, temperature_K=body.temperature_K)


@router.get("/calibrations/{cell_id}/latest", response_model=CalibrationOut)
def latest_calibration(cell_id: str, request: Request, _: Caller = Depends(require("robot", "operator", "analyst"))):
    with request.app.state.diffmix.sessions() as s:
        c = crud.latest_calibration(s, cell_id)
    if c is None:
        raise crud.NotFound(f"no calibration stored for cell {cell_id!r}")
    return c


@router.get("/model-versions")
def model_versions(request: Request, _: Caller = Depends(reader)):
    with request.app.state.diffmix.sessions() as s:
        return [{"id": m.id, "property": m.property, "name": m.name, "checkpoint_hash": m.checkpoint_hash,
                 "metrics": m.metrics, "created_at": m.created_at} for m in crud.list_model_versions(s)]
