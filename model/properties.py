"""The mixture properties DiffMix models, their units and the law each is built on."""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import UnknownPropertyError


@dataclass(frozen=True)
class Property:
    name: str
    unit: str
    law: str  # "redlich_kister" or "vft"
    log_scale: bool  # fitted in ln(property + log_offset): positive and spanning orders of magnitude
    excess: bool  # an excess property: zero for every pure component
    min_temperature_K: float = 150.0  # the lowest temperature the model answers for
    log_offset: float = 0.0  # in the property's unit; see KAPPA_FIT_OFFSET
    huber_beta: float = 0.05  # the training loss's Huber β in fit units (see HE_HUBER_BETA)


# The conductivity model's VFT law has its Vogel temperature T0 ≤ VOGEL_T_MAX_K by construction; it answers only
# at least 10 K above that, so T − T0 > 0 always. CALiSol-23's coldest point is 194.15 K; carbonate electrolytes
# have T0 ≈ 150–200 K, and capping T0 lower (say below 150 K) makes even a free per-series VFT fit of the data
# three times worse (benchmarks/RESULTS.md).
VOGEL_T_MAX_K = 183.15
CONDUCTIVITY_MIN_T_K = VOGEL_T_MAX_K + 10.0

# Conductivity is fitted in ln(κ + κ_c), not ln κ. Measurement errors of κ are relative (about 1 %) above an
# absolute floor (about 0.01 mS/cm, the resolution of a typical conductivity cell and meter), so
# σ(κ) ≈ 0.01·κ + 0.01 mS/cm, and ln(κ + κ_c) with κ_c = 0.01/0.01 = 1 mS/cm is the scale in which that noise is
# uniform: relative accuracy over the orders of magnitude where κ is measured well, absolute below. In pure ln κ
# the coldest, least conductive rows weigh as much as the warm ones and steer the VFT curvature: the ensemble's
# conductivity extrapolated from ≤ 20 °C to 60 °C was 0.4 mS/cm worse (benchmarks/RESULTS.md, "The fit scale").
KAPPA_FIT_OFFSET = 1.0

# The training loss is a Huber loss: quadratic for residuals below β (in fit units: ln units for κ, the training
# set's standard deviation for excess properties), absolute above. At β = 0.05 nearly every excess-enthalpy residual
# is in the quadratic part (0.05 of the training standard deviation is several times the typical test error), so the
# fit is a least-squares fit, pulled by the systems whose sources disagree. β = 0.005 (about the median error) makes it
# nearly an absolute-error fit, robust to them, and it lowers the H^E test error; excess volume does not gain, and
# conductivity is fitted in log units, where 0.05 is 5 % of κ, so both keep 0.05. The measurements are in
# benchmarks/RESULTS.md, "The excess-enthalpy loss".
HE_HUBER_BETA = 0.005


PROPERTIES = {
    p.name: p
    for p in [
        Property("ionic_conductivity", "mS/cm", "vft", log_scale=True, excess=False,
                 min_temperature_K=CONDUCTIVITY_MIN_T_K, log_offset=KAPPA_FIT_OFFSET),
        Property("excess_molar_enthalpy", "J/mol", "redlich_kister", log_scale=False, excess=True,
                 huber_beta=HE_HUBER_BETA),
        Property("excess_molar_volume", "cm³/mol", "redlich_kister", log_scale=False, excess=True),
    ]
}


def check_temperature_for(prop: Property, t: float) -> float:
    from model.errors import DiffMixInputError

    if t < prop.min_temperature_K:
        raise DiffMixInputError(
            f"temperature_K = {t} is below {prop.min_temperature_K:.2f} K ({prop.min_temperature_K - 273.15:.0f} °C), "
            f"the lowest temperature the {prop.name} model answers for (its VFT law diverges near T0)")
    return t


def get_property(name: str) -> Property:
    if name not in PROPERTIES:
        raise UnknownPropertyError(f"unknown property {name!r}; choose one of {', '.join(PROPERTIES)}")
    return PROPERTIES[name]
