"""The simulated lab's ground truth, chosen in the lab file's ``[truth]`` table.

    [truth]
    model = "builtin"                 # robot/sim/electrolyte.py (the default)
    pairing_scale = 1.2               # ion association 20 % stronger than calibrated
    viscosity_scale = { "COC(=O)OC" = 1.3 }   # DMC 30 % more viscous
    instrument_bias = 0.9             # the cell reads 10 % low (a cell constant off, say)
    noise = 0.005                     # each reading's relative repeatability (1 σ)
    outlier_rate = 0.05               # a share of readings spoiled (a bubble in the cell) ...
    outlier_factor = 0.7              # ... which read this factor × κ

    [truth.feature]                   # optional: a feature the model does not know about, on top of the truth
    kind = "relocate"                 # κ × (1 + height · bell): the optimum moved where the model does not expect it
    # kind = "bump"                   # floor_mS_cm + (peak_mS_cm − floor_mS_cm) · bell: a narrow peak on a flat floor
    center = { "O=C1OCCO1" = 0.7, "COC(=O)OC" = 0.3 }   # solvent mass fractions of the feature's centre
    molality = 1.8                    # mol/kg at its centre
    width = 0.2                       # the bell's σ in mass fraction (molality counts in units of 1 mol/kg)
    height = 0.8                      # relocate: the relative rise at the centre
    # peak_mS_cm = 12, floor_mS_cm = 4  (bump)

or any importable function

    [truth]
    function = "package.module:attr"  # f(solvent_mass_fractions, salt, molality, temperature_K) -> κ in mS/cm

where ``solvent_mass_fractions`` is keyed by the solvents' SMILES as the lab file writes them and sums to 1, ``salt``
is the salt's SMILES and ``molality`` is mol per kg of solvent. An import error or a wrong signature is refused
when the lab is loaded; an exception or a non-finite or negative value for one composition is a ``TruthError`` for
that composition (the experiment fails with the reason; no value is made up).
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robot.errors import RecipeError
from robot.sim.electrolyte import CALIBRATION, conductivity_mS_cm, salt_molar_mass

TruthFunction = Callable[[dict[str, float], str, float, float], float]
SIGNATURE = "f(solvent_mass_fractions: dict[str, float], salt: str, molality: float, temperature_K: float) -> float"


class TruthError(Exception):
    """The ground truth has no value for a composition (the plug-in raised or returned nonsense)."""


@dataclass(frozen=True)
class Truth:
    """κ as the world has it, and how the lab's instrument reads it."""

    function: TruthFunction
    description: str
    instrument_bias: float = 1.0  # the instrument reads bias × κ
    noise: float = 0.0  # relative 1σ of each reading
    perturbation: dict[str, Any] = field(default_factory=dict)
    outlier_rate: float = 0.0  # the share of readings spoiled (a bubble in the cell) ...
    outlier_factor: float = 1.0  # ... which read this factor × κ

    def reading_factor(self, rng: np.random.Generator) -> float:
        """One reading's multiplier on the true κ: the instrument's bias, its noise, and now and then an outlier."""
        factor = self.instrument_bias * (1.0 + self.noise * float(rng.standard_normal()))
        if self.outlier_rate > 0 and float(rng.random()) < self.outlier_rate:
            factor *= self.outlier_factor
        return factor

    def kappa(self, solvent_mass_fractions: Mapping[str, float], salt: str, molality: float, temperature_K: float) -> float:
        """The noise-free κ in mS/cm (TruthError when the truth has none)."""
        try:
            v = self.function(dict(solvent_mass_fractions), salt, float(molality), float(temperature_K))
            v = float(v)
        except Exception as e:  # noqa: BLE001 - a plug-in may raise anything; it becomes this composition's failure
            raise TruthError(f"the lab's truth {self.description} failed: {type(e).__name__}: {e}") from None
        if not math.isfinite(v) or v < 0:
            raise TruthError(f"the lab's truth {self.description} returned {v!r} mS/cm (not a finite κ ≥ 0)")
        return v


def builtin(pairing_scale: float = 1.0, viscosity_scale: Mapping[str, float] | None = None) -> TruthFunction:
    """The builtin physics (robot/sim/electrolyte.py), optionally perturbed."""
    scales = dict(viscosity_scale or {})

    def kappa(solvent_mass_fractions: dict[str, float], salt: str, molality: float, temperature_K: float) -> float:
        return float(conductivity_mS_cm(solvent_mass_fractions, molality, temperature_K,
                                        salt_molar_mass=salt_molar_mass(salt), cal=CALIBRATION,
                                        pairing_scale=pairing_scale, viscosity_scale=scales))

    return kappa


def load_function(ref: str) -> TruthFunction:
    """Import ``package.module:attr`` and check it can be called as the truth (four positional arguments)."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise RecipeError(f"[truth] function = {ref!r}: write it as \"package.module:attr\"")
    try:
        fn = importlib.import_module(module)
        for part in attr.split("."):
            fn = getattr(fn, part)
    except (ImportError, AttributeError) as e:
        raise RecipeError(f"[truth] function = {ref!r} cannot be imported: {e}") from None
    if not callable(fn):
        raise RecipeError(f"[truth] function = {ref!r} is not callable")
    try:
        inspect.signature(fn).bind({}, "", 1.0, 298.15)
    except TypeError as e:
        raise RecipeError(f"[truth] function = {ref!r} cannot be called as {SIGNATURE}: {e}") from None
    except ValueError:  # a builtin without a signature: trust it
        pass
    return fn  # type: ignore[return-value]


KEYS = {"model", "function", "pairing_scale", "viscosity_scale", "instrument_bias", "noise", "outlier_rate",
        "outlier_factor", "feature"}
FEATURE_KINDS = ("relocate", "bump")
MOLALITY_UNIT = 1.0  # mol/kg: a feature's bell counts this much molality as one unit of mass fraction


@dataclass(frozen=True)
class Feature:
    """A smooth bell over (solvent mass fractions, molality) centred where the model does not expect it: the loop
    benchmark's relocated-optimum and bump worlds (benchmarks/loop_worlds.py)."""

    kind: str
    center: dict[str, float]
    molality: float
    width: float
    height: float = 0.0  # relocate
    peak_mS_cm: float = 0.0  # bump
    floor_mS_cm: float = 0.0  # bump

    def bell(self, solvent_mass_fractions: Mapping[str, float], molality: float) -> float:
        """exp(−d²/2w²), d the distance to the centre in mass fraction (and molality / MOLALITY_UNIT)."""
        keys = set(self.center) | set(solvent_mass_fractions)
        d2 = sum((solvent_mass_fractions.get(k, 0.0) - self.center.get(k, 0.0)) ** 2 for k in keys)
        d2 += ((molality - self.molality) / MOLALITY_UNIT) ** 2
        return math.exp(-0.5 * d2 / self.width ** 2)

    def wrap(self, base: TruthFunction) -> TruthFunction:
        """The truth with this feature on top of ``base``."""
        def kappa(solvent_mass_fractions: dict[str, float], salt: str, molality: float, temperature_K: float) -> float:
            bell = self.bell(solvent_mass_fractions, molality)
            if self.kind == "bump":
                return self.floor_mS_cm + (self.peak_mS_cm - self.floor_mS_cm) * bell
            return base(solvent_mass_fractions, salt, molality, temperature_K) * (1.0 + self.height * bell)

        return kappa


def feature_from(table: Mapping[str, Any]) -> Feature:
    """The ``[truth.feature]`` table, checked."""
    t = dict(table)
    kind = t.get("kind")
    if kind not in FEATURE_KINDS:
        raise RecipeError(f"[truth.feature] kind = {kind!r}: choose one of {', '.join(FEATURE_KINDS)}")
    allowed = {"kind", "center", "molality", "width"} | ({"height"} if kind == "relocate" else {"peak_mS_cm", "floor_mS_cm"})
    unknown = sorted(set(t) - allowed)
    if unknown:
        raise RecipeError(f"[truth.feature] kind = {kind!r} has unknown keys {unknown}; known: {sorted(allowed)}")
    missing = sorted(allowed - {"kind"} - set(t))
    if missing:
        raise RecipeError(f"[truth.feature] kind = {kind!r} needs {', '.join(missing)}")
    try:
        center = {str(k): float(v) for k, v in dict(t["center"]).items()}
        f = Feature(str(kind), center, float(t["molality"]), float(t["width"]), float(t.get("height", 0.0)),
                    float(t.get("peak_mS_cm", 0.0)), float(t.get("floor_mS_cm", 0.0)))
    except (TypeError, ValueError) as e:
        raise RecipeError(f"[truth.feature] center must map SMILES to mass fractions and the rest be numbers: {e}") from None
    values = [*center.values(), f.molality, f.width, f.height, f.peak_mS_cm, f.floor_mS_cm]
    if not all(math.isfinite(v) for v in values) or any(v < 0 for v in center.values()) or abs(sum(center.values()) - 1) > 1e-6:
        raise RecipeError("[truth.feature] center's mass fractions must be ≥ 0 and sum to 1")
    if not (0 < f.width <= 2) or f.molality < 0:
        raise RecipeError(f"[truth.feature] width = {f.width} must lie in (0, 2] and molality = {f.molality} be ≥ 0")
    if kind == "relocate" and not 0 < f.height <= 10:
        raise RecipeError(f"[truth.feature] height = {f.height} must lie in (0, 10]")
    if kind == "bump" and not 0 <= f.floor_mS_cm < f.peak_mS_cm:
        raise RecipeError(f"[truth.feature] needs 0 ≤ floor_mS_cm < peak_mS_cm (got {f.floor_mS_cm}, {f.peak_mS_cm})")
    return f


def from_table(table: Mapping[str, Any] | None) -> Truth:
    """The truth a lab file's ``[truth]`` table describes (the builtin physics when there is none)."""
    t = dict(table or {})
    unknown = sorted(set(t) - KEYS)
    if unknown:
        raise RecipeError(f"[truth] has unknown keys {unknown}; known: {sorted(KEYS)}")
    bias, noise = float(t.get("instrument_bias", 1.0)), float(t.get("noise", 0.0))
    if not (0.2 <= bias <= 5.0) or not (0.0 <= noise <= 0.5):
        raise RecipeError(f"[truth] instrument_bias = {bias} must be within 0.2–5 and noise = {noise} within 0–0.5")
    rate, factor = float(t.get("outlier_rate", 0.0)), float(t.get("outlier_factor", 1.0))
    if not (0.0 <= rate <= 0.5) or not (0.05 <= factor <= 20.0):
        raise RecipeError(f"[truth] outlier_rate = {rate} must be within 0–0.5 and outlier_factor = {factor} within 0.05–20")
    feature = feature_from(t["feature"]) if "feature" in t else None
    readings = {"instrument_bias": bias, "noise": noise, "outlier_rate": rate, "outlier_factor": factor}
    if "function" in t:
        if "model" in t or "pairing_scale" in t or "viscosity_scale" in t:
            raise RecipeError("[truth] give either function = \"package.module:attr\" or model = \"builtin\" "
                              "with its perturbations, not both")
        fn = load_function(str(t["function"]))
        return Truth(feature.wrap(fn) if feature else fn, f"function {t['function']}" + _with(feature), **readings)
    model = t.get("model", "builtin")
    if model != "builtin":
        raise RecipeError(f"[truth] model = {model!r}: the only model is \"builtin\" (or give function = …)")
    pairing = float(t.get("pairing_scale", 1.0))
    visc = {str(k): float(v) for k, v in dict(t.get("viscosity_scale", {})).items()}
    if not 0.2 <= pairing <= 5 or any(not 0.2 <= v <= 5 for v in visc.values()):
        raise RecipeError("[truth] pairing_scale and every viscosity_scale must lie within 0.2–5")
    perturbation = {"pairing_scale": pairing, "viscosity_scale": visc}
    changed = pairing != 1.0 or any(v != 1.0 for v in visc.values())
    fn = builtin(pairing, visc)
    return Truth(feature.wrap(fn) if feature else fn, ("builtin (perturbed)" if changed else "builtin") + _with(feature),
                 perturbation=perturbation, **readings)


def _with(feature: Feature | None) -> str:
    return f" with a {feature.kind} feature" if feature else ""
