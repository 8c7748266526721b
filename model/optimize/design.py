"""The design problem as one typed, frozen, validated object: a composition space, an objective and temperatures.

The CLI builds a ``DesignSpec`` from its options, the REST API receives one (its request bodies extend it),
campaigns store it as JSON (with ``version``) and the optimiser consumes it through ``objective()``. An option
is added here, once; the CLI's options and the API's fields follow from these declarations.

Field-level rules (types, lengths, ranges, exactly one way to give the salt and the temperature) are checked
when the object is made. What needs chemistry (SMILES, which ions a salt has, whether the bounds leave a
feasible simplex) is checked when the composition space is built, by ``CompositionSpace``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from model.contract import Text
from model.ensemble import Ensemble
from model.errors import DiffMixInputError, InvalidSmilesError
from model.names import resolve
from model.optimize.objective import Objective
from model.optimize.space import MAX_MOLALITY, CompositionSpace, SaltBasis, SolventBasis

DESIGN_VERSION: Literal[1] = 1

PropertyName = Literal["ionic_conductivity", "excess_molar_enthalpy", "excess_molar_volume"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Smiles = Annotated[Text, Field(min_length=1, max_length=1000)]


class Spec(BaseModel):
    """A part of a design: immutable, and a field it does not have is refused rather than ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class SpaceSpec(Spec):
    """Which electrolytes may be made: a salt in a blend of solvents, with bounds."""

    salt: Smiles = Field(..., examples=["[Li+].F[P-](F)(F)(F)(F)F"],
                         description="the salt as one SMILES with all its ions, e.g. '[Li+].F[P-](F)(F)(F)(F)F', "
                                     "or its name (LiPF6)")
    solvents: tuple[Smiles, ...] = Field(..., min_length=1, max_length=12,
                                         examples=[["CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"]],
                                         description="solvent SMILES or names (EC, DMC, …; two to twelve free components)")
    salt_fraction: float | None = Field(None, gt=0, lt=1, examples=[0.08],
                                        description="fixed cation mole fraction (ions counted separately)")
    salt_fraction_range: tuple[float, float] | None = Field(
        None, description="free cation mole fraction: LO HI (ions counted separately)")
    salt_molality: float | None = Field(None, gt=0, le=MAX_MOLALITY,
                                        description="fixed salt molality in mol/kg of solvent blend")
    salt_molality_range: tuple[float, float] | None = Field(
        None, description="free salt molality: LO HI in mol/kg of solvent blend")
    bounds_basis: SolventBasis = Field(
        "mole", description="what lower, upper and solvent_ratio are: shares of the solvent blend by 'mole' "
                            "(mole fractions of the solvents alone) or by 'mass' (weight fractions, as weighed)")
    solvent_ratio: tuple[Fraction, ...] | None = Field(
        None, description="fixed solvent ratio, one number per solvent, by bounds_basis (then only the salt is optimised)")
    lower: tuple[Fraction, ...] | None = Field(
        None, description="per-solvent lower bounds, as fractions of the solvent blend by bounds_basis")
    upper: tuple[Fraction, ...] | None = Field(
        None, description="per-solvent upper bounds, as fractions of the solvent blend by bounds_basis")
    exclude: tuple[Smiles, ...] = Field((), description="solvents forced to zero")

    @model_validator(mode="before")
    @classmethod
    def _names_to_smiles(cls, data: object) -> object:
        """Salt and solvents may be given by name (EC, LiPF6, diglyme): stored and used as their SMILES."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        try:
            if isinstance(out.get("salt"), str):
                out["salt"] = resolve(out["salt"])
            for key in ("solvents", "exclude"):
                if isinstance(out.get(key), list | tuple):
                    out[key] = [resolve(v) if isinstance(v, str) else v for v in out[key]]
        except InvalidSmilesError as e:
            raise ValueError(str(e)) from None
        return out

    @field_validator("salt_fraction", mode="before")
    @classmethod
    def _fraction_not_percent(cls, v: object) -> object:
        if isinstance(v, int | float) and not isinstance(v, bool) and 1 <= v <= 100:
            raise ValueError(f"{v} is not a cation mole fraction: give a fraction between 0 and 1 (8 % is 0.08), "
                             "or the salt as a molality")
        return v

    @field_validator("salt_fraction_range")
    @classmethod
    def _fraction_range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 < v[0] <= v[1] < 1:
            hint = " (a fraction, not a percentage: 8 % is 0.08)" if v[1] >= 1 else ""
            raise ValueError(f"a cation mole fraction range must satisfy 0 < LO ≤ HI < 1, got [{v[0]}, {v[1]}]{hint}")
        return v

    @field_validator("salt_molality_range")
    @classmethod
    def _molality_range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 < v[0] <= v[1] <= MAX_MOLALITY:
            raise ValueError(f"a molality range must satisfy 0 < LO ≤ HI ≤ {MAX_MOLALITY:g} mol/kg of solvent, "
                             f"got [{v[0]}, {v[1]}] mol/kg")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SpaceSpec:
        n = len(self.solvents)
        ways = ("salt_fraction", "salt_fraction_range", "salt_molality", "salt_molality_range")
        if sum(getattr(self, w) is not None for w in ways) != 1:
            raise ValueError("give exactly one of salt_fraction, salt_fraction_range (cation mole fraction), "
                             "salt_molality or salt_molality_range (mol/kg of solvent)")
        for name in ("lower", "upper", "solvent_ratio"):
            v = getattr(self, name)
            if v is not None and len(v) != n:
                raise ValueError(f"give one {name} value per solvent ({n} solvents, {len(v)} given)")
        for ex in self.exclude:
            if ex not in self.solvents:
                raise ValueError(f"excluded component {ex!r} is not among the solvents")
        return self

    def composition_space(self) -> CompositionSpace:
        """The composition space this describes (raises DiffMixInputError on bad chemistry or bounds). Its
        coordinates are in the spec's units: solvent shares by ``bounds_basis``, the salt as a cation fraction
        or a molality, whichever was given."""
        solvents = list(self.solvents)
        n = len(solvents)
        lo = np.zeros(n) if self.lower is None else np.asarray(self.lower, dtype=float)
        hi = np.ones(n) if self.upper is None else np.asarray(self.upper, dtype=float)
        for ex in self.exclude:
            lo[solvents.index(ex)] = hi[solvents.index(ex)] = 0.0
        ratio = None if self.solvent_ratio is None else np.asarray(self.solvent_ratio, dtype=float)
        salt_range: tuple[float, float]
        if self.salt_molality is not None or self.salt_molality_range is not None:
            basis: SaltBasis = "molality"
            salt_range = self.salt_molality_range or (self.salt_molality, self.salt_molality)  # type: ignore[assignment]
        else:
            basis = "fraction"
            salt_range = self.salt_fraction_range or (self.salt_fraction, self.salt_fraction)  # type: ignore[assignment]
        try:
            return CompositionSpace(self.salt, solvents, (float(salt_range[0]), float(salt_range[1])), lo, hi, ratio,
                                    solvent_basis=self.bounds_basis, salt_basis=basis)
        except DiffMixInputError as e:
            raise DiffMixInputError(f"space: {e}") from None


class ObjectiveSpec(Spec):
    """What to optimise the property for."""

    maximize: bool = Field(True, description="maximise the property (false: minimise it)")
    aggregate: Literal["worst", "mean"] = Field(
        "worst", description="over a temperature range: optimise the worst case or the mean")
    beta: float = Field(0.0, ge=0, le=10, description="uncertainty bonus: optimise mean + β·std")


class DesignSpec(Spec):
    """What to design: a property over a composition space, an objective, and one temperature or a range."""

    version: Literal[1] = Field(DESIGN_VERSION, description="version of this specification's layout")
    property: PropertyName = Field("ionic_conductivity", description="the property to optimise")
    space: SpaceSpec
    objective: ObjectiveSpec = ObjectiveSpec()
    temperature_K: float | None = Field(None, gt=0, examples=[303.15], description="one temperature in kelvin")
    temperature_range_K: tuple[float, float] | None = Field(
        None, description="LO HI in kelvin: optimise over the range (see objective.aggregate)")

    @model_validator(mode="after")
    def _one_temperature(self) -> DesignSpec:
        if (self.temperature_K is None) == (self.temperature_range_K is None):
            raise ValueError("give either temperature_K or temperature_range_K")
        return self

    @classmethod
    def parse(cls, data: dict[str, object]) -> DesignSpec:
        """Validate plain data (a CLI's options, a stored campaign) into a spec; errors become DiffMixInputError."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise DiffMixInputError(validation_message(e)) from None

    @classmethod
    def from_options(cls, **options: object) -> DesignSpec:
        """A spec from flat options named like the fields of the spec and its parts (salt=…, beta=…, …)."""
        parts: dict[str, dict[str, object]] = {"space": {}, "objective": {}}
        top: dict[str, object] = {}
        for name, value in options.items():
            if value is None:
                continue
            for part, model in (("space", SpaceSpec), ("objective", ObjectiveSpec)):
                if name in model.model_fields:
                    parts[part][name] = value
                    break
            else:
                top[name] = value
        return cls.parse({**top, **parts})

    @classmethod
    def option_fields(cls) -> dict[str, FieldInfo]:
        """Every flat option ``from_options`` takes, with its pydantic field (for CLIs and forms)."""
        out: dict[str, FieldInfo] = {k: f for k, f in cls.model_fields.items() if k not in ("space", "objective", "version")}
        out |= SpaceSpec.model_fields | ObjectiveSpec.model_fields
        return out

    def temperatures(self) -> tuple[tuple[float, ...], str]:
        """The temperatures the objective evaluates, and how they are aggregated."""
        if self.temperature_K is not None:
            return (float(self.temperature_K),), "single"
        lo, hi = self.temperature_range_K  # type: ignore[misc]  # one of the two is set (validated)
        return Objective.temperature_grid(float(lo), float(hi)), self.objective.aggregate

    def objective_for(self, ensemble: Ensemble) -> Objective:
        """The optimiser's objective for this design, evaluated by ``ensemble``."""
        if ensemble.property.name != "ionic_conductivity":
            raise DiffMixInputError(
                f"electrolyte design optimises ionic conductivity; this model predicts {ensemble.property.name}")
        temps, aggregate = self.temperatures()
        return Objective(ensemble, self.space.composition_space(), temps, aggregate, self.objective.maximize,
                         self.objective.beta)


def validation_message(e: ValidationError) -> str:
    """One readable line per problem, naming the field: 'space.salt_fraction: …'."""
    lines = []
    for err in e.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return "; ".join(lines)
