"""Ground truths for the simulated lab's plug-in tests (imported by name from lab files)."""

import math


def linear(solvent_mass_fractions, salt, molality, temperature_K):
    """κ rises with the DMC share: 2 + 10·w(DMC), whatever the salt content."""
    return 2.0 + 10.0 * solvent_mass_fractions.get("COC(=O)OC", 0.0)


def broken(solvent_mass_fractions, salt, molality, temperature_K):
    raise ZeroDivisionError("no κ for this blend")


def not_a_number(solvent_mass_fractions, salt, molality, temperature_K):
    return math.nan


def two_arguments(solvent_mass_fractions, salt):
    return 1.0
