"""The robot contract: what the service asks a robot to make (``Recipe``) and what the robot reports (``Result``).

Both sides import this module: the service serves a ``Recipe`` in every experiment it leases and validates a
posted ``Result`` with these very models; the robot parses the recipe with them and builds its result as one.
The OpenAPI schema of the service therefore documents exactly what a robot receives and sends. Each carries a
``version``; a change that old robots or old stored rows cannot read gets a new version, never a silent
change of meaning. Chemistry a robot needs (ions per formula unit, molality) is computed by
``model.chem.SaltFormula``, not here and not twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)

from model.cell import conductivity_mS_cm
from model.chem import salt_formula, species
from model.mixture import T_MAX_K, T_MIN_K

RECIPE_VERSION: Literal[1] = 1
RESULT_VERSION: Literal[1] = 1
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns on both databases
CONSISTENCY_TOL = 0.01  # a posted κ must equal 1000·K/R of its own K and R within 1 %
COMPOSITION_TOL = 1e-3  # measured mole fractions must sum to 1 within this



def storable(text: str) -> str:
    """Refuse what no database can store in a text or JSON column: NUL characters and lone UTF-16 surrogates."""
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise ValueError("text must not contain unpaired surrogate code points (invalid Unicode)")
    return text


def not_bool(value: Any) -> Any:  # noqa: ANN401 - whatever JSON held; pydantic checks the rest
    """Refuse true and false where a number is asked (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


def iso_datetime(value: Any) -> Any:  # noqa: ANN401 - whatever JSON held
    """A date and time only as ISO 8601 text with its zone (pydantic would read 0, -1 or "0" as Unix time)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("give an ISO 8601 date and time with its zone, e.g. 2026-12-08T10:00:00Z, not a number")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not an ISO 8601 date and time, e.g. 2026-12-08T10:00:00Z") from None
    if parsed.tzinfo is None:
        raise ValueError("give the timezone too, e.g. …Z or …+01:00")
    return parsed


Text = Annotated[str, AfterValidator(storable)]
Version = Annotated[Literal[1], BeforeValidator(not_bool)]
Timestamp = Annotated[AwareDatetime, BeforeValidator(iso_datetime)]
Smiles = Annotated[Text, Field(min_length=1, max_length=1000)]
# JSON numbers only: true, false and "1.5" are refused rather than read as 1.0 and 1.5 (and, in a Message, NaN and
# infinities are refused too)
Number = Annotated[float, Strict()]
Positive = Annotated[float, Strict(), Field(gt=0)]
MeasuredTemperature = Annotated[float, Strict(), Field(ge=T_MIN_K, le=T_MAX_K, description=f"{T_MIN_K:g}–{T_MAX_K:g} K")]


class Message(BaseModel):
    """A message between service and robot: immutable, finite numbers only, and a field the contract does not have
    is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True)
class Limits:
    """What is physically plausible for a conductivity cell and its readings; outside → refused, naming the field.

    The defaults span cells from micro-electrodes to dip cells (K 0.001–100 /cm) and bulk resistances from a
    concentrated aqueous electrolyte in a small cell to a nearly empty one (0.01 Ω–10 MΩ)."""

    cell_constant_per_cm: tuple[float, float] = (1e-3, 100.0)
    resistance_ohm: tuple[float, float] = (1e-2, 1e7)

    def check(self, field: str, value: float) -> str | None:
        """A message when ``value`` of ``field`` is outside its range, else None."""
        lo, hi = getattr(self, field)
        if not lo <= value <= hi:
            return f"{value:.6g} is outside the plausible range [{lo:g}, {hi:g}] (configurable)"
        return None


class Recipe(Message):
    """One electrolyte to make: a salt in a solvent blend, by cation mole fraction (ions counted separately)."""

    version: Version = RECIPE_VERSION
    salt: Smiles = Field(..., description="the salt as one SMILES with all its ions")
    solvents: list[Smiles] = Field(..., min_length=1, max_length=12)
    salt_cation_fraction: float = Field(..., gt=0, lt=1, description="mole fraction of the salt's cation")
    solvent_ratio: list[float] = Field(..., description="how the solvents share the rest, one per solvent, sum 1")
    salt_molality_mol_kg: float = Field(..., gt=0, description="the same salt content as mol per kg of solvent")
    fractions: dict[str, float] = Field(default_factory=dict,
                                        description="target mole fractions for people: salt SMILES → cation fraction")

    @classmethod
    def make(cls, salt: str, solvents: list[str], salt_cation_fraction: float, solvent_ratio: list[float],
             fractions: dict[str, float] | None = None) -> Recipe:
        """A recipe with its molality worked out from the salt's formula and the solvents' molar masses."""
        total = sum(solvent_ratio)
        ratio = [r / total for r in solvent_ratio] if total > 0 else list(solvent_ratio)
        blend_molar_mass = sum(r * species(s).molar_mass for r, s in zip(ratio, solvents))
        molality = salt_formula(salt).molality(salt_cation_fraction, blend_molar_mass)
        return cls(salt=salt, solvents=solvents, salt_cation_fraction=salt_cation_fraction, solvent_ratio=ratio,
                   salt_molality_mol_kg=float(molality), fractions=fractions or {})

    @model_validator(mode="after")
    def _ratio(self) -> Recipe:
        if len(self.solvent_ratio) != len(self.solvents):
            raise ValueError(f"solvent_ratio has {len(self.solvent_ratio)} numbers for {len(self.solvents)} solvents")
        if any(r < 0 for r in self.solvent_ratio) or abs(sum(self.solvent_ratio) - 1) > 1e-6:
            raise ValueError("solvent_ratio must be non-negative and sum to 1")
        return self


class Impedance(Message):
    """Impedance at a list of frequencies: three columns of one length; capacitive reactance is negative."""

    frequency_Hz: list[Positive] = Field(..., min_length=1, max_length=10_000)
    z_real_ohm: list[Number] = Field(..., min_length=1, max_length=10_000)
    z_imag_ohm: list[Number] = Field(..., min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _columns(self) -> Impedance:
        if not len(self.frequency_Hz) == len(self.z_real_ohm) == len(self.z_imag_ohm):
            raise ValueError("columns frequency_Hz, z_real_ohm and z_imag_ohm must have the same length")
        return self


class Sweep(Impedance):
    """A further sweep the robot made for this measurement, and why."""

    purpose: Text = Field(..., max_length=200)


class Spectrum(Impedance):
    """The raw impedance spectrum a result was computed from, with any further sweeps."""

    sweeps: list[Sweep] = Field(default_factory=list, max_length=10,
                                description="further raw sweeps (e.g. the wide sweep of a fit)")


class Result(Message):
    """One measured experiment: the raw spectrum, the bulk resistance and conductivity, and what was made."""

    version: Version = RESULT_VERSION
    spectrum: Spectrum
    resistance_ohm: Positive
    cell_constant_per_cm: Positive
    calibration_id: Annotated[int, Strict(), Field(ge=1, le=MAX_ID)] | None = None
    temperature_K: MeasuredTemperature
    conductivity_mS_cm: Annotated[float, Strict(), Field(ge=0)]
    method: Literal["min-phase", "fit"]
    quality_flags: list[Annotated[Text, Field(max_length=500)]] = Field(default_factory=list, max_length=50)
    measured_composition: dict[Smiles, Annotated[float, Strict(), Field(ge=0, le=1)]] = Field(
        ..., min_length=1, max_length=64, description="species mole fractions of what was weighed in")
    instrument_ids: dict[Annotated[Text, Field(max_length=64)], Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=20)
    started_at: Timestamp | None = Field(None, description="with its time zone (ISO 8601, e.g. …Z); after the claim")
    finished_at: Timestamp | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Result:
        if self.started_at and self.finished_at and self.started_at > self.finished_at:
            raise ValueError(f"started_at {self.started_at.isoformat()} is after finished_at "
                             f"{self.finished_at.isoformat()}")
        expected = conductivity_mS_cm(self.cell_constant_per_cm, self.resistance_ohm)
        if abs(self.conductivity_mS_cm - expected) > CONSISTENCY_TOL * expected:
            raise ValueError(f"conductivity_mS_cm {self.conductivity_mS_cm:.6g} does not equal 1000·K/R = "
                             f"{expected:.6g} (K in 1/cm, R in ohm): check units")
        x = self.measured_composition.values()
        if abs(sum(x) - 1) > COMPOSITION_TOL or any(v < 0 for v in x):
            raise ValueError("measured_composition must be non-negative mole fractions summing to 1")
        return self
