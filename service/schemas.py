"""Request and response bodies of the /v1 API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from db.enums import CampaignStatus, ExperimentStatus, Role
from model.contract import MAX_ID, MeasuredTemperature, Positive, Recipe, Result, Text
from model.data.tables import name_of
from model.lab_view import describe
from model.mixture import KELVIN_OFFSET, T_MAX_K, T_MIN_K
from model.optimize.design import DesignSpec, PropertyName

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="a positive id")]
CELL_ID = r"^[A-Za-z0-9._:-]{1,64}$"
CellId = Annotated[str, Field(pattern=CELL_ID, description="letters, digits and . _ : - (at most 64)")]


class RequestBody(BaseModel):
    """A body a client sends. A field this API does not have is refused (422 naming it), never ignored: a misspelt
    ``Basis`` or ``pressure_kpa`` would otherwise be dropped and the default used in its place, silently."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Component(RequestBody):
    smiles: Text = Field(..., max_length=1000, examples=["O=C1OCCO1"])
    amount: float = Field(..., examples=[1.506], description="moles or grams (by basis); ≥ 0")


class Record(RequestBody):
    """One mixture: ``components`` with their ``basis``, or a ``formulation`` string; ``temperature_K`` or
    ``temperature_C``. Components may be named by SMILES or by a name from the species table (EC, LiPF6)."""

    components: list[Component] | None = Field(None, min_length=1, max_length=64)
    basis: Literal["mole", "mass", "mole_fraction", "mass_fraction"] | None = Field(
        None, description="what the amounts are: moles, grams, or strict mole or mass fractions (sum 1); required "
                          "with components")
    formulation: Text | None = Field(None, max_length=500, examples=["1.2 M LiPF6 in EC:EMC 3:7 (w/w)"],
                                     description="instead of components and basis: 'CONC M|m SALT in SOLVENTS RATIO "
                                                 "(w/w|v/v|mol)'")
    temperature_K: float | None = Field(None, examples=[298.15], description=f"{T_MIN_K:g}–{T_MAX_K:g} K")
    temperature_C: float | None = Field(None, description="instead of temperature_K, in °C")
    pressure_kPa: float = 101.325

    @model_validator(mode="after")
    def _one_way(self) -> Record:
        if (self.components is None) == (self.formulation is None):
            raise ValueError("give either components (with basis) or a formulation")
        if self.components is not None and self.basis is None:
            raise ValueError("basis is required with components: mole, mass, mole_fraction or mass_fraction")
        if (self.temperature_K is None) == (self.temperature_C is None):
            raise ValueError("give temperature_K or temperature_C, exactly one of them")
        return self


class PredictRequest(RequestBody):
    property: PropertyName
    records: list[Record] = Field(..., min_length=1)


class DomainOut(BaseModel):
    """Whether the model was trained on mixtures like this one (model/domain.py)."""

    in_domain: bool
    reasons: list[str] = Field(..., description="why not: unseen elements or ions, a rarely seen salt or molecule, "
                                                "a concentration, temperature or solvent share beyond training")


class Prediction(BaseModel):
    prediction: float
    std: float
    unit: str
    domain: DomainOut


class GradientPrediction(Prediction):
    gradient: dict[str, float] = Field(..., description="∂P/∂x for every species (ions separately)")
    fractions: dict[str, float]

    @computed_field(description="the species table's name of every species above (EC, Li⁺, PF6⁻), by SMILES")  # type: ignore[prop-decorator]
    @property
    def names(self) -> dict[str, str]:
        """Names beside the SMILES keys of ``fractions`` and ``gradient``."""
        return {k: name_of(k) for k in {**self.fractions, **self.gradient}}


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class GradientResponse(BaseModel):
    predictions: list[GradientPrediction]


def design_of(body: DesignSpec) -> DesignSpec:
    """The design alone, without a request's own fields (name, budget, starts, …)."""
    return DesignSpec.model_validate(body.model_dump(include=set(DesignSpec.model_fields)))


class OptimizeRequest(DesignSpec):
    starts: int = Field(4, ge=1, le=64)
    start_mode: Literal["random", "spread"] = "random"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    max_iter: int = Field(200, ge=1, le=1000)


class CampaignCreate(DesignSpec):
    name: Text = Field(..., min_length=1, max_length=200, description="what the lab calls the campaign")
    model_version_id: int | None = Field(None, ge=1, le=MAX_ID, description="default: the model this service has loaded")
    strategy: Literal["learning", "gradient", "random", "botorch"] = Field(
        "learning", description="learning: DiffMix corrected by the campaign's measurements (upper confidence bound); "
        "gradient: DiffMix alone, open loop; botorch: a plain GP loop without physics; random: feasible points")
    budget: int = Field(..., ge=1, le=100_000, description="how many experiments the campaign may spend (queued, "
                                                          "leased or measured; failed ones do not count)")
    temperature_tolerance_K: float = Field(
        0.5, gt=0, le=20, description="a result measured further than this from its planned temperature is flagged")
    strict: bool = Field(False, description="refuse (422) a space outside the model's applicability domain instead "
                                            "of creating the campaign with the domain report as a warning")
    temperature_C: float | None = Field(None, exclude=True, description="instead of temperature_K, in °C (stored "
                                                                        "as temperature_K)")

    @model_validator(mode="before")
    @classmethod
    def _celsius(cls, data: Any) -> Any:  # noqa: ANN401 - the request body as JSON gave it
        """temperature_C becomes temperature_K (as /v1/predict takes it); both at once is refused."""
        if not isinstance(data, dict) or data.get("temperature_C") is None:
            return data
        c = data["temperature_C"]
        if isinstance(c, bool) or not isinstance(c, int | float):
            raise ValueError(f"temperature_C = {c!r}: give a number of degrees Celsius, e.g. 25")
        if data.get("temperature_K") is not None or data.get("temperature_range_K") is not None:
            raise ValueError("give temperature_C or temperature_K (or temperature_range_K), one of them")
        if c <= -KELVIN_OFFSET:
            raise ValueError(f"temperature_C = {c:g} °C is at or below absolute zero (−273.15 °C)")
        return {**data, "temperature_K": c + KELVIN_OFFSET}


class LabReportOut(BaseModel):
    """Whether the lab can make a campaign's space, from the stocks its robots declared."""

    declared: bool = Field(..., description="whether any working robot has declared its stocks")
    can_make: list[str] = Field(..., description="the robots whose stocks hold every liquid the space may use")
    missing: dict[str, list[str]] = Field(..., description="robot → the liquids it lacks, 'name (SMILES)'")
    warnings: list[str]


class CampaignOut(DesignSpec):
    """A campaign as stored: its design (the fields of a DesignSpec) and its state."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    id: int
    name: str
    model_version_id: int
    strategy: str
    budget: int
    temperature_tolerance_K: float
    status: CampaignStatus
    created_at: datetime
    counts: dict[str, int] = Field(default_factory=dict)
    domain: DomainOut | None = Field(None, description="the space's applicability-domain report (on create and read)")
    lab: LabReportOut | None = Field(None, description="which robots' declared stocks can make the space")
    best: dict[str, Any] | None = Field(None, description="the best measured experiment so far: its id and κ")


class ExperimentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    composition: dict[str, float]
    recipe: Recipe
    temperature_K: float
    predicted: float
    predicted_std: float
    gradient: dict[str, float]
    model_version_id: int
    source: str | None = Field(None, description="what chose it: exploit (the campaign posterior's best mean), explore "
                               "(its upper confidence bound), prior-free (a GP without DiffMix), space-filling (far from "
                               "every other point), or the strategy's name (gradient, botorch, random); null before "
                               "sources were recorded")
    batch: int
    status: ExperimentStatus
    attempts: int
    max_attempts: int
    lease_expires_at: datetime | None
    failure_reason: str | None

    @computed_field(  # type: ignore[prop-decorator]
        description="the recipe as a chemist reads it: names beside SMILES, solvent mass and mole fractions, cation "
                    "fraction, molality and an estimated mol/L with its assumption")
    @property
    def lab(self) -> dict[str, Any]:
        """Names and lab units of the recipe (model/lab_view.py)."""
        return describe(self.recipe)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lease_expired(self) -> bool:
        """A lease past its expiry, whether or not it has been swept back into the queue yet."""
        return (self.status == ExperimentStatus.leased and self.lease_expires_at is not None
                and self.lease_expires_at < datetime.now(UTC))


class ProposalOut(ExperimentOut):
    """A queued experiment as proposed, with the applicability domain at its composition and temperature."""

    domain: DomainOut


class PosteriorVersionOut(BaseModel):
    version_id: int
    n_measurements: int
    loo_mae: float | None = Field(None, description="leave-one-out residual MAE on its measurements, mS/cm")
    coverage_2sigma: float | None = Field(None, description="share of its measurements inside the leave-one-out ±2σ")
    created_at: datetime


class BatchResidualOut(BaseModel):
    batch: int
    measured: int
    mae: float = Field(..., description="mean |predicted − measured| of the batch's proposals, mS/cm")
    bias: float = Field(..., description="mean predicted − measured, mS/cm")
    mae_at_measured_T: float | None = Field(None, description="the same, re-predicted at the measured temperature")


class PosteriorDiagnosticsOut(BaseModel):
    n: int
    loo_mae: float | None
    loo_bias: float | None
    coverage_2sigma: float | None
    prior_mae: float | None = Field(None, description="the checkpoint's own MAE on the same measurements")
    hyper: dict[str, float]
    free_hyper: dict[str, float] = Field(default_factory=dict, description="the prior-free GP's hyperparameters")


class EvidenceOut(BaseModel):
    """How the campaign's measurements weigh DiffMix against a GP that knows nothing of it
    (model.optimize.posterior.Evidence)."""

    n: int = Field(..., description="measurements weighed")
    prior_weight: float = Field(..., description="DiffMix's share of the campaign posterior (pseudo-BMA of the two "
                                                 "models' leave-one-out predictive densities; 1 with fewer than 3)")
    lpd_diffmix: float | None = Field(None, description="DiffMix posterior's mean leave-one-out log density (nats)")
    lpd_prior_free: float | None = Field(None, description="the prior-free GP's, likewise")
    conflict: float | None = Field(None, description="RMS of DiffMix's standardised residuals at the measurements "
                                                     "(about 1 where its spread covers the lab)")
    disagrees: bool = Field(..., description="the measurements favour the prior-free model (prior_weight < 0.5)")
    summary: str = Field(..., description="the same in words")


class CampaignModelOut(BaseModel):
    """A campaign's current posterior: DiffMix (parent) corrected by the campaign's measurements."""

    campaign_id: int
    version_id: int
    parent_id: int
    strategy: str
    evidence: EvidenceOut
    diagnostics: PosteriorDiagnosticsOut
    history: list[PosteriorVersionOut]
    batches: list[BatchResidualOut]


class LeaseOut(ExperimentOut):
    """A claimed experiment with its lease token: heartbeat, result and fail carry it (header Lease-Token)."""

    lease_token: str = Field(..., description="this claim's; a stale one (an expired or re-claimed lease) gets 409")


# What a robot posts is the contract's Result, validated by the very model the robot builds it with.
ResultIn = Result


class MeasurementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    experiment_id: int
    conductivity_mS_cm: float
    resistance_ohm: float
    method: str
    quality_flags: list[str]
    predicted_at_measured_T: float | None = None
    created_at: datetime


class FailIn(RequestBody):
    reason: Text = Field(..., min_length=1, max_length=4000)
    retryable: bool = Field(False, description="put it back in the queue if attempts remain")
    cause: Literal["measurement", "robot_restart"] = Field(
        "measurement", description="robot_restart: the agent restarted mid-experiment (does not use up an attempt)")


class CalibrationIn(RequestBody):
    cell_id: CellId
    standard_conductivity_mS_cm: Positive = Field(..., description="the standard's conductivity at temperature_K")
    measured_resistance_ohm: Positive
    temperature_K: MeasuredTemperature
    force: bool = Field(False, strict=True, description="store a cell constant further from the cell's last calibration than "
                                           "DIFFMIX_CALIBRATION_MAX_CHANGE allows (a new cell, say); needs a reason")
    reason: Text | None = Field(None, max_length=500, description="why a forced calibration is right (audited)")

    @model_validator(mode="after")
    def _forced_with_reason(self) -> CalibrationIn:
        if self.force and not (self.reason and self.reason.strip()):
            raise ValueError("force needs a reason: say why this cell constant is right (it is audited)")
        return self


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
    role: Role
    name: Text = Field("", max_length=128)


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(..., description="shown once; store it now")


class Summary(BaseModel):
    campaign_id: int
    status: CampaignStatus
    counts: dict[str, int]
    measured: int
    mae: float | None
    best: dict[str, Any] | None
    batches: list[BatchResidualOut] = Field(default_factory=list,
                                            description="the proposals' residuals batch by batch (the loop learning)")


VesselState = Literal["clean", "dirty", "unknown"]


class StockIn(RequestBody):
    """One stock of a robot's lab file: a solvent blend, optionally with a salt dissolved at a molality."""

    name: Text = Field(..., max_length=200, description="the stock's name in the lab file, e.g. 'LiPF6 2.5 m in EC'")
    solvent: dict[Annotated[Text, Field(max_length=500)], Annotated[float, Field(ge=0, le=1)]] = Field(
        ..., min_length=1, max_length=16, description="solvent SMILES → mass fraction of the stock's solvent part")
    salt: Text | None = Field(None, max_length=500, description="the dissolved salt's SMILES (its ions dot-separated)")
    molality: float = Field(0.0, ge=0, le=20, description="mol of salt per kg of the stock's solvent part")

    @model_validator(mode="after")
    def _smiles_parse(self) -> StockIn:
        from model.chem import canonical
        for smi in [*self.solvent, *([self.salt] if self.salt else [])]:
            canonical(smi)  # raises with the SMILES named
        return self


class RobotStatusIn(RequestBody):
    """What a robot says of itself."""

    vessels: dict[Literal["vial", "cell"], VesselState] = Field(default_factory=dict)
    stopped_reason: Text | None = Field(None, max_length=4000, description="set while the robot refuses work")
    instrument_ids: dict[Annotated[Text, Field(max_length=64)], Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=20)
    stocks: list[StockIn] | None = Field(None, max_length=64, description="the stocks the robot's lab file declares "
                                         "(the service refuses campaigns needing a liquid no robot has); omitted: "
                                         "keep what the robot declared before")


class RobotLease(BaseModel):
    experiment_id: int
    campaign_id: int
    attempt: int
    lease_expires_at: datetime | None
    lease_expired: bool


class RobotOut(BaseModel):
    """A robot key and what is known of its robot."""

    key_id: int
    name: str
    revoked: bool
    last_seen_at: datetime | None = Field(..., description="its last claim, heartbeat or status report")
    leases: list[RobotLease]
    vessels: dict[str, str]
    stopped_reason: str | None
    instrument_ids: dict[str, str]
    stocks: list[dict[str, Any]] | None = Field(None, description="the stocks its lab file declares (None: not told)")
