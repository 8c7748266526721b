"""Whether a robot's result can be believed before it is stored: a result is refused (the service answers 422 naming
the field) rather than stored as good when

- its bulk resistance cannot be recomputed from its own spectrum by the project's EIS analysis (model/eis.py, the
  method the result names) within ``Plausibility.resistance_tolerance``;
- an impedance or a frequency lies outside what a conductivity cell and a potentiostat produce;
- it carries ``fit_poor``, which the robot's own procedure refuses (the equivalent circuit does not describe the
  spectrum, so its resistance means nothing);
- what was weighed in is not what was planned: other species, or a fraction further than ``composition_tolerance``
  (absolute mole fraction) from the recipe's;
- it started before its experiment was claimed, or started or finished in the future, beyond ``clock_skew_s``.

Strict types (``"version": true``, a number for a date) are the contract's own (model/contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from model import eis
from model.chem import canonical
from model.contract import Impedance, Result

REFUSED_FLAGS = {"fit_poor": "the robot refuses fit_poor itself: the equivalent circuit does not describe the spectrum"}


@dataclass(frozen=True)
class Problem:
    """One reason a result is implausible: the field (a path into the body) and what is wrong with it."""

    loc: tuple[str | int, ...]
    message: str


@dataclass(frozen=True)
class Plausibility:
    """The tolerances and ranges of the checks (settings: DIFFMIX_RESULT_*)."""

    resistance_tolerance: float = 0.05  # relative
    impedance_ohm: float = 1e10  # |Re Z| and |Im Z| at most (a cell with no liquid reads ~1e9–1e10 Ω)
    frequency_Hz: tuple[float, float] = (1e-3, 1e7)  # potentiostats sweep ~10 mHz–1 MHz
    composition_tolerance: float = 0.02  # absolute, per species mole fraction
    clock_skew_s: float = 300.0


def spectrum_problems(result: Result, limits: Plausibility) -> list[Problem]:
    """Impedances and frequencies outside physical ranges, in the spectrum and each further sweep."""
    out: list[Problem] = []
    sweeps: list[tuple[tuple[str | int, ...], Impedance]] = [(("spectrum",), result.spectrum)]
    sweeps += [(("spectrum", "sweeps", i), sw) for i, sw in enumerate(result.spectrum.sweeps)]
    lo, hi = limits.frequency_Hz
    for loc, sp in sweeps:
        f = np.asarray(sp.frequency_Hz)
        if f.min() < lo or f.max() > hi:
            out.append(Problem((*loc, "frequency_Hz"), f"frequencies must lie within {lo:g}–{hi:g} Hz "
                                                       f"(got {f.min():.3g}–{f.max():.3g})"))
        zr, zi = np.asarray(sp.z_real_ohm), np.asarray(sp.z_imag_ohm)
        if zr.min() <= 0:
            out.append(Problem((*loc, "z_real_ohm"), f"a cell's resistance is positive (got {zr.min():.3g} Ω)"))
        if np.abs(zr).max() > limits.impedance_ohm or np.abs(zi).max() > limits.impedance_ohm:
            out.append(Problem(loc, f"impedances must stay within ±{limits.impedance_ohm:g} Ω"))
    return out


def resistance_problem(result: Result, limits: Plausibility) -> Problem | None:
    """The posted resistance against the one the named method gives on the posted spectrum (``fit`` on the spectrum
    or any further sweep, as the robot fits its wide sweep)."""
    sp = result.spectrum
    candidates = [sp] if result.method == "min-phase" else [sp, *sp.sweeps]
    recomputed: list[float] = []
    for c in candidates:
        try:
            r = (eis.min_phase if result.method == "min-phase" else eis.fit)(c.frequency_Hz, c.z_real_ohm, c.z_imag_ohm)
        except ValueError:  # a fit needs three frequencies: this sweep cannot give the resistance
            continue
        recomputed.append(r.resistance_ohm)
        if abs(r.resistance_ohm - result.resistance_ohm) <= limits.resistance_tolerance * result.resistance_ohm:
            return None
    if not recomputed:
        return Problem(("spectrum",), f"the {result.method} method cannot recompute a resistance from this spectrum")
    nearest = min(recomputed, key=lambda r: abs(r - result.resistance_ohm))
    return Problem(("resistance_ohm",), f"{result.resistance_ohm:.6g} Ω is not what the spectrum gives by "
                                        f"{result.method} ({nearest:.6g} Ω; tolerance {limits.resistance_tolerance:.0%})")


def composition_problem(planned: dict[str, float], measured: dict[str, float], limits: Plausibility) -> Problem | None:
    """What was weighed in against the plan: the same species (canonical SMILES), each within the tolerance."""
    try:
        posted = {canonical(k): k for k in measured}  # canonical → as the robot wrote it (messages name that)
    except ValueError as e:
        return Problem(("measured_composition",), str(e))
    have = {c: measured[k] for c, k in posted.items()}
    want = {canonical(k): v for k, v in planned.items()}
    other = sorted(posted[c] for c in set(have) - set(want))
    if other:
        return Problem(("measured_composition",), f"holds species the experiment did not plan: {', '.join(other)} "
                                                   f"(planned {', '.join(sorted(planned))})")
    off = {k: (have.get(k, 0.0), v) for k, v in want.items() if abs(have.get(k, 0.0) - v) > limits.composition_tolerance}
    if off:
        worst = max(off, key=lambda k: abs(off[k][0] - off[k][1]))
        got, plan = off[worst]
        return Problem(("measured_composition", posted.get(worst, worst)), f"mole fraction {got:.4f} is {abs(got - plan):.4f} from the "
                                                        f"planned {plan:.4f} (tolerance {limits.composition_tolerance:g})")
    return None


def time_problems(result: Result, claimed_at: datetime | None, now: datetime, limits: Plausibility) -> list[Problem]:
    """Start and finish after the claim and not in the future, beyond the clock skew."""
    skew = timedelta(seconds=limits.clock_skew_s)
    out: list[Problem] = []
    for name in ("started_at", "finished_at"):
        t = getattr(result, name)
        if t is None:
            continue
        if claimed_at is not None and t < claimed_at - skew:
            out.append(Problem((name,), f"{t.isoformat()} is before the experiment was claimed "
                                        f"({claimed_at.isoformat()}; clock skew allowed {limits.clock_skew_s:g} s)"))
        elif t > now + skew:
            out.append(Problem((name,), f"{t.isoformat()} is in the future (now {now.isoformat()}; clock skew allowed "
                                        f"{limits.clock_skew_s:g} s)"))
    return out


def problems(result: Result, planned_composition: dict[str, float], claimed_at: datetime | None, now: datetime,
             limits: Plausibility) -> list[Problem]:
    """Every reason to refuse the result (none: it may be stored)."""
    out = spectrum_problems(result, limits)
    out += [Problem(("quality_flags",), f"{flag}: {why}") for flag, why in REFUSED_FLAGS.items()
            if flag in result.quality_flags]
    if not out:  # a resistance is recomputed only from a physical spectrum
        r = resistance_problem(result, limits)
        out += [r] if r else []
    c = composition_problem(planned_composition, result.measured_composition, limits)
    out += [c] if c else []
    return out + time_problems(result, claimed_at, now, limits)
