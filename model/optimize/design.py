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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from model.contract import Text
from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.optimize.objective import Objective
from model.optimize.space import CompositionSpace

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
                         description="the salt as one SMILES with all its ions, e.g. '[Li+].F[P-](F)(F)(F)(F)F'")
    solvents: tuple[Smiles, ...] = Field(..., min_length=1, max_length=12,
                                         examples=[["CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"]],
                                         description="solvent SMILES (two to twelve free components)")
    salt_fraction: float | None = Field(None, gt=0, lt=1, examples=[0.08],
                                        description="fixed cation mole fraction (ions counted separately)")
    salt_fraction_range: tuple[float, float] | None = Field(
        None, description="free cation mole fraction: LO HI (ions counted separately)")
    salt_molality: float | None = Field(None, gt=0, le=20,
                                        description="fixed salt molality in mol/kg of solvent (needs solvent_ratio)")
    solvent_ratio: tuple[Fraction, ...] | None = Field(
        None, description="fixed solvent ratio, one number per solvent (then only the salt is optimised)")
    lower: tuple[Fraction, ...] | None = Field(None, description="per-solvent lower bounds on the solvent ratio")
    upper: tuple[Fraction, ...] | None = Field(None, description="per-solvent upper bounds on the solvent ratio")
    exclude: tuple[Smiles, ...] = Field((), description="solvents forced to zero")

    @model_validator(mode="after")
    def _consistent(self) -> SpaceSpec:
        n = len(self.solvents)
        given = [v is not None for v in (self.salt_fraction, self.salt_fraction_range, self.salt_molality)]
        if sum(given) != 1:
            raise ValueError("give exactly one of salt_fraction, salt_fraction_range or salt_molality")
        if self.salt_fraction_range is not None:
            lo, hi = self.salt_fraction_range
            if not 0 < lo <= hi < 1:
                raise ValueError(f"salt_fraction_range must satisfy 0 < LO ≤ HI < 1, got [{lo}, {hi}]")
        for name in ("lower", "upper", "solvent_ratio"):
            v = getattr(self, name)
            if v is not None and len(v) != n:
                raise ValueError(f"give one {name} value per solvent ({n} solvents, {len(v)} given)")
        if self.salt_molality is not None and self.solvent_ratio is None:
            raise ValueError("a fixed salt_molality needs a fixed solvent_ratio; give a salt fraction instead")
        for ex in self.exclude:
            if ex not in self.solvents:
                raise ValueError(f"excluded component {ex!r} is not among the solvents")
        return self

    def composition_space(self) -> CompositionSpace:
        """The composition space this describes (raises DiffMixInputError on bad chemistry or bounds)."""
        solvents = list(self.solvents)
        n = len(solvents)
        lo = np.zeros(n) if self.lower is None else np.asarray(self.lower, dtype=float)
        hi = np.ones(n) if self.upper is None else np.asarray(self.upper, dtype=float)
        for ex in self.exclude:
            lo[solvents.index(ex)] = hi[solvents.index(ex)] = 0.0
        ratio = None if self.solvent_ratio is None else np.asarray(self.solvent_ratio, dtype=float)
        if self.salt_molality is not None:
            probe = CompositionSpace(self.salt, solvents, (0.01, 0.01), lo, hi, ratio)
            f = probe.fraction_from_molality(self.salt_molality, probe.solvent_ratio)  # type: ignore[arg-type]
            return CompositionSpace(self.salt, solvents, (f, f), lo, hi, probe.solvent_ratio)
        if self.salt_fraction_range is not None:
            frange = self.salt_fraction_range
        else:
            f = float(self.salt_fraction)  # type: ignore[arg-type]  # the validator made sure one of them is set
            frange = (f, f)
        return CompositionSpace(self.salt, solvents, (float(frange[0]), float(frange[1])), lo, hi, ratio)


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
