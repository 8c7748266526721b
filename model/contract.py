"""The robot contract: what the service asks a robot to make (``Recipe``) and what the robot reports (``Result``).

Both sides import this module: the service serves a ``Recipe`` in every experiment it leases and validates a
posted ``Result`` with these very models; the robot parses the recipe with them and builds its result as one.
The OpenAPI schema of the service therefore documents exactly what a robot receives and sends. Each carries a
``version``; a change that old robots or old stored rows cannot read gets a new version, never a silent
change of meaning. Chemistry a robot needs (ions per formula unit, molality) is computed by
``model.chem.SaltFormula``, not here and not twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.cell import conductivity_mS_cm
from model.chem import salt_formula, species
from model.mixture import T_MAX_K, T_MIN_K

RECIPE_VERSION = 1
RESULT_VERSION = 1
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns on both databases
CONSISTENCY_TOL = 0.01  # a posted κ must equal 1000·K/R of its own K and R within 1 %
COMPOSITION_TOL = 1e-3  # measured mole fractions must sum to 1 within this

Smiles = Annotated[str, Field(min_length=1, max_length=1000)]
MeasuredTemperature = Annotated[float, Field(ge=T_MIN_K, le=T_MAX_K, description=f"{T_MIN_K:g}–{T_MAX_K:g} K")]


class Message(BaseModel):
    """A message between service and robot: immutable, and a field the contract does not have is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Recipe(Message):
    """One electrolyte to make: a salt in a solvent blend, by cation mole fraction (ions counted separately)."""

    version: Literal[1] = 1  # RECIPE_VERSION
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


class Spectrum(Message):
    """A raw impedance spectrum; capacitive reactance is negative."""

    frequency_Hz: list[float] = Field(..., min_length=1, max_length=10_000)
    z_real_ohm: list[float] = Field(..., min_length=1, max_length=10_000)
    z_imag_ohm: list[float] = Field(..., min_length=1, max_length=10_000)
    sweeps: list[dict[str, Any]] = Field(default_factory=list,
                                         description="further raw sweeps (e.g. the wide sweep of a fit)")

    @model_validator(mode="after")
    def _columns(self) -> Spectrum:
        if not len(self.frequency_Hz) == len(self.z_real_ohm) == len(self.z_imag_ohm):
            raise ValueError("spectrum columns frequency_Hz, z_real_ohm and z_imag_ohm must have the same length")
        return self


class Result(Message):
    """One measured experiment: the raw spectrum, the bulk resistance and conductivity, and what was made."""

    version: Literal[1] = 1  # RESULT_VERSION
    spectrum: Spectrum
    resistance_ohm: float = Field(..., gt=0)
    cell_constant_per_cm: float = Field(..., gt=0)
    calibration_id: int | None = Field(None, ge=1, le=MAX_ID)
    temperature_K: MeasuredTemperature
    conductivity_mS_cm: float = Field(..., ge=0)
    method: Literal["min-phase", "fit"]
    quality_flags: list[str] = Field(default_factory=list, max_length=50)
    measured_composition: dict[str, float] = Field(..., min_length=1,
                                                   description="species mole fractions of what was weighed in")
    instrument_ids: dict[str, str] = Field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Result:
        expected = conductivity_mS_cm(self.cell_constant_per_cm, self.resistance_ohm)
        if abs(self.conductivity_mS_cm - expected) > CONSISTENCY_TOL * expected:
            raise ValueError(f"conductivity_mS_cm {self.conductivity_mS_cm:.6g} does not equal 1000·K/R = "
                             f"{expected:.6g} (K in 1/cm, R in ohm): check units")
        x = self.measured_composition.values()
        if abs(sum(x) - 1) > COMPOSITION_TOL or any(v < 0 for v in x):
            raise ValueError("measured_composition must be non-negative mole fractions summing to 1")
        return self
