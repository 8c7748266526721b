"""Request and response bodies of the /v1 API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from model.mixture import T_MAX_K, T_MIN_K

MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns on both databases
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive id")]

# a measured temperature: the range every record and the model accept
MeasuredTemperature = Annotated[float, Field(ge=T_MIN_K, le=T_MAX_K)]


class RequestBody(BaseModel):
    """A body a client sends. A field this API does not have is refused (422 naming it), never ignored: a misspelt
    ``Basis`` or ``pressure_kpa`` would otherwise be dropped and the default used in its place, silently."""

    model_config = ConfigDict(extra="forbid")


PropertyName = Literal["ionic_conductivity", "excess_molar_enthalpy", "excess_molar_volume"]


class Component(RequestBody):
    smiles: str = Field(..., max_length=1000, examples=["O=C1OCCO1"])
    amount: float = Field(..., examples=[1.506], description="moles or grams (by basis); ≥ 0")


class Record(RequestBody):
    components: list[Component] = Field(..., min_length=1, max_length=64)
    basis: Literal["mole", "mass", "mole_fraction", "mass_fraction"] = "mole"
    temperature_K: float = Field(..., examples=[298.15], description=f"{T_MIN_K:g}–{T_MAX_K:g} K")
    pressure_kPa: float = 101.325


class PredictRequest(RequestBody):
    property: PropertyName
    records: list[Record] = Field(..., min_length=1)


class Prediction(BaseModel):
    prediction: float
    std: float
    unit: str


class GradientPrediction(Prediction):
    gradient: dict[str, float] = Field(..., description="∂P/∂x for every species (ions separately)")
    fractions: dict[str, float]


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class GradientResponse(BaseModel):
    predictions: list[GradientPrediction]


class Space(RequestBody):
    salt: str = Field(..., max_length=1000, examples=["[Li+].F[P-](F)(F)(F)(F)F"])
    solvents: list[str] = Field(..., min_length=1, max_length=12, examples=[["CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"]])
    salt_fraction: float | None = Field(None, examples=[0.08])
    salt_fraction_range: list[float] | None = Field(None, min_length=2, max_length=2)
    salt_molality: float | None = None
    solvent_ratio: list[float] | None = None
    lower: list[float] | None = None
    upper: list[float] | None = None
    exclude: list[str] = Field(default_factory=list)


class ObjectiveSpec(RequestBody):
    maximize: bool = True
    aggregate: Literal["worst", "mean"] = "worst"
    beta: float = Field(0.0, ge=0, le=10)


class DesignSpec(RequestBody):
    """What to design: a property over a composition space, an objective, and one temperature or a range."""

    property: PropertyName = "ionic_conductivity"
    space: Space
    objective: ObjectiveSpec = ObjectiveSpec()
    temperature_K: float | None = Field(None, examples=[303.15])
    temperature_range_K: list[float] | None = Field(None, min_length=2, max_length=2)


class OptimizeRequest(DesignSpec):
    starts: int = Field(4, ge=1, le=64)
    start_mode: Literal["random", "spread"] = "random"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    max_iter: int = Field(200, ge=1, le=1000)


class CampaignCreate(DesignSpec):
    name: str = Field(..., min_length=1, max_length=200)
    model_version_id: int | None = Field(None, ge=1, le=MAX_ID, description="default: the model this service has loaded")
    strategy: Literal["gradient", "random"] = "gradient"
    budget: int = Field(..., ge=1, le=100_000)


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    property: str
    space: dict
    objective: dict
    temperature_K: float | None
    temperature_range_K: list[float] | None
    model_version_id: int
    strategy: str
    budget: int
    status: str
    created_at: datetime
    counts: dict[str, int] = Field(default_factory=dict)


class ExperimentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    composition: dict[str, float]
    recipe: dict
    temperature_K: float
    predicted: float
    predicted_std: float
    gradient: dict[str, float]
    model_version_id: int
    status: str
    attempts: int
    max_attempts: int
    lease_expires_at: datetime | None
    failure_reason: str | None


class Spectrum(RequestBody):
    frequency_Hz: list[float] = Field(..., min_length=1, max_length=10_000)
    z_real_ohm: list[float] = Field(..., min_length=1, max_length=10_000)
    z_imag_ohm: list[float] = Field(..., min_length=1, max_length=10_000)
    sweeps: list[dict] = Field(default_factory=list, description="further raw sweeps (e.g. the wide sweep of a fit)")


class ResultIn(RequestBody):
    spectrum: Spectrum
    resistance_ohm: float = Field(..., gt=0)
    cell_constant_per_cm: float = Field(..., gt=0)
    calibration_id: int | None = Field(None, ge=1, le=MAX_ID)
    temperature_K: MeasuredTemperature
    conductivity_mS_cm: float = Field(..., ge=0)
    method: Literal["min-phase", "fit"]
    quality_flags: list[str] = Field(default_factory=list, max_length=50)
    measured_composition: dict[str, float] = Field(..., min_length=1)
    instrument_ids: dict[str, str] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class MeasurementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    experiment_id: int
    conductivity_mS_cm: float
    resistance_ohm: float
    method: str
    quality_flags: list[str]
    created_at: datetime


class FailIn(RequestBody):
    reason: str = Field(..., min_length=1, max_length=4000)
    retryable: bool = Field(False, description="put it back in the queue if attempts remain")


class CalibrationIn(RequestBody):
    cell_id: str = Field(..., min_length=1, max_length=64)
    standard_conductivity_mS_cm: float = Field(..., gt=0, description="the standard's conductivity at temperature_K")
    measured_resistance_ohm: float = Field(..., gt=0)
    temperature_K: MeasuredTemperature


class CalibrationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    cell_id: str
    cell_constant_per_cm: float
    standard_conductivity_mS_cm: float
    measured_resistance_ohm: float
    temperature_K: float
    calibrated_at: datetime


class KeyCreate(RequestBody):
    role: Literal["operator", "robot", "analyst", "admin"]
    name: str = Field("", max_length=128)


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(..., description="shown once; store it now")


class Summary(BaseModel):
    campaign_id: int
    status: str
    counts: dict[str, int]
    measured: int
    mae: float | None
    best: dict | None
