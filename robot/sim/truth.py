"""The simulated lab's ground truth, chosen in the lab file's ``[truth]`` table.

    [truth]
    model = "builtin"                 # robot/sim/electrolyte.py (the default)
    pairing_scale = 1.2               # ion association 20 % stronger than calibrated
    viscosity_scale = { "COC(=O)OC" = 1.3 }   # DMC 30 % more viscous
    instrument_bias = 0.9             # the cell reads 10 % low (a cell constant off, say)
    noise = 0.005                     # each reading's relative repeatability (1 σ)

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


KEYS = {"model", "function", "pairing_scale", "viscosity_scale", "instrument_bias", "noise"}


def from_table(table: Mapping[str, Any] | None) -> Truth:
    """The truth a lab file's ``[truth]`` table describes (the builtin physics when there is none)."""
    t = dict(table or {})
    unknown = sorted(set(t) - KEYS)
    if unknown:
        raise RecipeError(f"[truth] has unknown keys {unknown}; known: {sorted(KEYS)}")
    bias, noise = float(t.get("instrument_bias", 1.0)), float(t.get("noise", 0.0))
    if not (0.2 <= bias <= 5.0) or not (0.0 <= noise <= 0.5):
        raise RecipeError(f"[truth] instrument_bias = {bias} must be within 0.2–5 and noise = {noise} within 0–0.5")
    if "function" in t:
        if "model" in t or "pairing_scale" in t or "viscosity_scale" in t:
            raise RecipeError("[truth] give either function = \"package.module:attr\" or model = \"builtin\" "
                              "with its perturbations, not both")
        return Truth(load_function(str(t["function"])), f"function {t['function']}", bias, noise)
    model = t.get("model", "builtin")
    if model != "builtin":
        raise RecipeError(f"[truth] model = {model!r}: the only model is \"builtin\" (or give function = …)")
    pairing = float(t.get("pairing_scale", 1.0))
    visc = {str(k): float(v) for k, v in dict(t.get("viscosity_scale", {})).items()}
    if not 0.2 <= pairing <= 5 or any(not 0.2 <= v <= 5 for v in visc.values()):
        raise RecipeError("[truth] pairing_scale and every viscosity_scale must lie within 0.2–5")
    perturbation = {"pairing_scale": pairing, "viscosity_scale": visc}
    changed = pairing != 1.0 or any(v != 1.0 for v in visc.values())
    return Truth(builtin(pairing, visc), "builtin (perturbed)" if changed else "builtin", bias, noise, perturbation)
