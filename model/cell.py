"""The conductivity cell: κ = K_cell / R, a cell constant from a standard, and the KCl standard's temperature law.

κ is in mS/cm, K_cell in 1/cm and R in ohm, so κ = 1000 · K_cell / R. Every part of the product (the robot's
procedure, the simulated lab, the service's consistency check and calibration) computes these here.
"""

from __future__ import annotations

# Aqueous KCl standards change by about +2 % per kelvin near 25 °C (IEC 60746-3 uses 2.0 %/K for KCl).
KCL_TEMPERATURE_COEFFICIENT_PER_K = 0.02
KCL_REFERENCE_K = 298.15


def conductivity_mS_cm(cell_constant_per_cm: float, resistance_ohm: float) -> float:
    """κ in mS/cm of a liquid whose bulk resistance in a cell of constant K_cell is R."""
    return 1000.0 * cell_constant_per_cm / resistance_ohm


def cell_constant_per_cm(conductivity_mS_cm: float, resistance_ohm: float) -> float:
    """K_cell in 1/cm from a standard of known κ (mS/cm) that reads R ohm in the cell."""
    return conductivity_mS_cm / 1000.0 * resistance_ohm


def resistance_ohm(cell_constant_per_cm: float, conductivity_mS_cm: float) -> float:
    """The bulk resistance a liquid of conductivity κ shows in a cell of constant K_cell."""
    return 1000.0 * cell_constant_per_cm / conductivity_mS_cm


def kcl_standard_mS_cm(at_reference_mS_cm: float, temperature_K: float) -> float:
    """A KCl standard's conductivity at temperature_K, given its value at 25 °C (linear law, +2 %/K)."""
    return at_reference_mS_cm * (1 + KCL_TEMPERATURE_COEFFICIENT_PER_K * (temperature_K - KCL_REFERENCE_K))
