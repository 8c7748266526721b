"""The mixture record — components with amounts, a basis and conditions — normalised to species mole fractions.

Record format (one JSON object, as read by ``diffmix predict`` and ``POST /v1/predict``)::

    {"components": [{"smiles": "O=C1OCCO1", "amount": 1.506},
                    {"smiles": "[Li+].F[P-](F)(F)(F)(F)F", "amount": 0.3006}],
     "basis": "mass", "temperature_K": 298.15, "pressure_kPa": 101.325}

A component's ``smiles`` may also be a name or abbreviation from the species table (``"EC"``, ``"LiPF6"``;
``model/names.py``). Instead of ``components`` and ``basis`` a record may give ``"formulation": "1.2 M LiPF6 in
EC:EMC 3:7 (w/w)"`` (``model/formulation.py``), and instead of ``temperature_K`` ``temperature_C`` (never both).

``basis`` (required: there is no default) is ``mole`` (moles or mole fractions of each component's formula unit),
``mass`` (grams or mass fractions), or the strict ``mole_fraction`` / ``mass_fraction``, whose amounts must sum
to 1 (within 1e-6).
Other keys are allowed (``diffmix predict`` echoes them), except ones that look like a misspelt field.
Salts split into their ions; every ion counts as its own species, so LiPF6 at 0.08 mol per mol of
mixture contributes x(Li+) = x(PF6-) = 0.08 after normalisation.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.chem import species
from model.errors import DiffMixInputError
from model.names import resolve

T_MIN_K = 150.0
T_MAX_K = 500.0
KELVIN_OFFSET = 273.15  # 0 °C in kelvin
P_DEFAULT_KPA = 101.325
BASES = ("mole", "mass", "mole_fraction", "mass_fraction")
FRACTION_TOL = 1e-6


@dataclass(frozen=True)
class Mixture:
    """Normalised mixture: species (canonical SMILES of ions and neutral molecules) and their mole fractions."""

    species: tuple[str, ...]
    x: tuple[float, ...]
    temperature_K: float
    pressure_kPa: float = P_DEFAULT_KPA

    @property
    def n(self) -> int:
        return len(self.species)

    def fractions(self) -> dict[str, float]:
        return dict(zip(self.species, self.x))


def check_temperature(t: Any) -> float:
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise DiffMixInputError(f"temperature_K must be a number in kelvin, got {t!r}") from None
    if not math.isfinite(t) or not (T_MIN_K <= t <= T_MAX_K):
        raise DiffMixInputError(
            f"temperature_K = {t} is outside the supported range {T_MIN_K:g}–{T_MAX_K:g} K "
            "(give kelvin, not °C: 25 °C = 298.15 K)"
        )
    return t


def _amount(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise DiffMixInputError(f"{where}: amount must be a number, got {value!r}")
    try:
        a = float(value)
    except (TypeError, ValueError):
        raise DiffMixInputError(f"{where}: amount must be a number, got {value!r}") from None
    if not math.isfinite(a):
        raise DiffMixInputError(f"{where}: amount is {a}; amounts must be finite")
    if a < 0:
        raise DiffMixInputError(f"{where}: amount is negative ({a}); amounts must be ≥ 0")
    return a


def from_amounts(
    components: Iterable[tuple[str, float]],
    basis: str,
    temperature_K: float,
    pressure_kPa: float = P_DEFAULT_KPA,
    min_species: int = 2,
) -> Mixture:
    """Normalise (SMILES, amount) pairs in a basis to species mole fractions; validates everything."""
    if basis not in BASES:
        raise DiffMixInputError(f"basis {basis!r} is not one of {', '.join(BASES)}")
    comps = list(components)
    if not comps:
        raise DiffMixInputError("the mixture has no components: give at least two, each with 'smiles' and 'amount'")
    t = check_temperature(temperature_K)
    try:
        p = float(pressure_kPa)
    except (TypeError, ValueError):
        raise DiffMixInputError(f"pressure_kPa must be a number, got {pressure_kPa!r}") from None
    if not math.isfinite(p) or p <= 0 or p > 1e6:
        raise DiffMixInputError(f"pressure_kPa = {p} must be positive and below 1e6 kPa")
    amounts = [_amount(a, f"component {i + 1} ({s!r})") for i, (s, a) in enumerate(comps)]
    if basis.endswith("_fraction") and abs(sum(amounts) - 1.0) > FRACTION_TOL:
        raise DiffMixInputError(
            f"basis {basis!r} needs amounts that sum to 1 (they sum to {sum(amounts):.9g}); "
            f"use basis {basis.split('_')[0]!r} to have them normalised"
        )
    moles: dict[str, float] = {}
    for (smi, _), a in zip(comps, amounts):
        sp = species(resolve(smi))  # a name from the species table, or a SMILES; else InvalidSmilesError
        n_units = a / sp.molar_mass if basis.startswith("mass") else a
        for part, count in sp.parts:
            moles[part] = moles.get(part, 0.0) + n_units * count
    total = sum(moles.values())
    if total <= 0:
        raise DiffMixInputError("all amounts are zero: at least one component needs a positive amount")
    present = sorted(k for k, v in moles.items() if v > 0)
    if len(present) < min_species:
        raise DiffMixInputError(
            f"the mixture has {len(present)} species with a positive amount; at least {min_species} are needed"
        )
    return Mixture(tuple(present), tuple(moles[k] / total for k in present), t, p)


RECORD_FIELDS = ("components", "formulation", "basis", "temperature_K", "temperature_C", "pressure_kPa")
COMPONENT_FIELDS = ("smiles", "amount")


def _misspelt(keys: Iterable[str], fields: tuple[str, ...], where: str) -> None:
    """Other keys ride along (``diffmix predict`` echoes them, so a record can carry its own id), but one that looks
    like a field name misspelt would leave that field at its default, silently: it is refused instead."""
    lowered = {f.lower(): f for f in fields}
    for key in keys:
        if key in fields or not isinstance(key, str):
            continue
        close = difflib.get_close_matches(key.lower(), lowered, n=1, cutoff=0.75)
        if close:
            field = lowered[close[0]]
            case = " (field names are case-sensitive)" if key.lower() == field.lower() else ""
            raise DiffMixInputError(f"{where}: unknown field {key!r}; did you mean {field!r}?{case}")


def record_temperature(record: Mapping[str, Any]) -> float:
    """The record's temperature in kelvin: ``temperature_K`` or ``temperature_C``, exactly one of them."""
    given = [k for k in ("temperature_K", "temperature_C") if k in record]
    if len(given) != 1:
        raise DiffMixInputError("give the temperature as 'temperature_K' (kelvin) or 'temperature_C' (°C), one of them"
                                + (", not both" if len(given) == 2 else ""))
    if given[0] == "temperature_K":
        return record["temperature_K"]  # type: ignore[no-any-return]  # checked by check_temperature
    c = record["temperature_C"]
    if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
        raise DiffMixInputError(f"temperature_C must be a number in °C, got {c!r}")
    return float(c) + KELVIN_OFFSET


def from_record(record: Mapping[str, Any], min_species: int = 2) -> Mixture:
    """Parse one JSON record (see the module docstring)."""
    if not isinstance(record, Mapping):
        raise DiffMixInputError("a record must be a JSON object with 'components', 'basis' and 'temperature_K'")
    _misspelt(record, RECORD_FIELDS, "record")
    if "formulation" in record:
        from model.formulation import parse

        if "components" in record or "basis" in record:
            raise DiffMixInputError("give either 'formulation' or 'components' with 'basis', not both "
                                    "(a formulation says its own amounts and basis)")
        return from_amounts(parse(record["formulation"]).components(), "mass", record_temperature(record),
                            record.get("pressure_kPa", P_DEFAULT_KPA), min_species)
    comps = record.get("components")
    if not isinstance(comps, list) or not comps:
        raise DiffMixInputError("'components' must be a non-empty list of {\"smiles\": ..., \"amount\": ...}")
    pairs = []
    for i, c in enumerate(comps):
        if not isinstance(c, Mapping) or "smiles" not in c or "amount" not in c:
            raise DiffMixInputError(f"component {i + 1} must be an object with 'smiles' and 'amount'")
        _misspelt(c, COMPONENT_FIELDS, f"component {i + 1}")
        pairs.append((c["smiles"], c["amount"]))
    temperature = record_temperature(record)
    if "basis" not in record:  # no default: grams read as moles would be a wrong answer, not an error
        raise DiffMixInputError(f"'basis' is required: say what the amounts are, one of {', '.join(BASES)} "
                                "(grams: 'mass'; moles: 'mole')")
    return from_amounts(
        pairs,
        basis=record["basis"],
        temperature_K=temperature,
        pressure_kPa=record.get("pressure_kPa", P_DEFAULT_KPA),
        min_species=min_species,
    )


def pad(mixtures: list[Mixture], vocab: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Padded arrays: species index [B, C] (-1 = empty slot), fractions [B, C], T [B], P [B]."""
    width = max(m.n for m in mixtures)
    idx = np.full((len(mixtures), width), -1, dtype=np.int64)
    x = np.zeros((len(mixtures), width), dtype=np.float64)
    for r, m in enumerate(mixtures):
        idx[r, : m.n] = [vocab[s] for s in m.species]
        x[r, : m.n] = m.x
    t = np.array([m.temperature_K for m in mixtures], dtype=np.float64)
    p = np.array([m.pressure_kPa for m in mixtures], dtype=np.float64)
    return idx, x, t, p
