"""Which campaigns the lab can make: a campaign's space against the stocks the robots' lab files declare.

A robot can make a campaign when its stocks hold every solvent the space may use and its salt (in any stock:
a salt stock's solvent counts as that solvent). The service learns the stocks from each robot's status report.
"""

from __future__ import annotations

from typing import Any

from model.chem import canonical
from model.data.tables import name_of


def label(smiles: str) -> str:
    """'EC (O=C1OCCO1)' for a species in the table, the SMILES alone otherwise."""
    name = name_of(smiles)
    return smiles if name == smiles else f"{name} ({smiles})"


def needed_liquids(space: dict[str, Any]) -> list[str]:
    """Canonical SMILES of what a stored campaign space may put in a vial: its salt, then every solvent it does not
    force to zero (excluded, upper bound 0, or 0 in a fixed ratio)."""
    solvents = [canonical(s) for s in space["solvents"]]
    zero = {canonical(s) for s in space.get("exclude") or ()}
    for bound in ("upper", "solvent_ratio"):
        if space.get(bound) is not None:
            zero |= {s for s, v in zip(solvents, space[bound]) if v <= 0}
    return [canonical(space["salt"]), *[s for s in solvents if s not in zero]]


def held(stocks: list[dict[str, Any]]) -> set[str]:
    """Canonical SMILES of every solvent and salt in these stocks."""
    out: set[str] = set()
    for st in stocks:
        out |= {canonical(s) for s, w in st["solvent"].items() if w > 0}
        if st.get("salt") and st.get("molality", 0) > 0:
            out.add(canonical(st["salt"]))
    return out


def lab_report(space: dict[str, Any], declared: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Which declared robots can make the space, and what each of the others lacks (names beside SMILES)."""
    need = needed_liquids(space)
    can, missing = [], {}
    for robot, stocks in declared.items():
        have = held(stocks)
        lacks = [label(s) for s in need if s not in have]
        if lacks:
            missing[robot] = lacks
        else:
            can.append(robot)
    warnings = [] if declared else ["no robot has declared its stocks yet: the service cannot check that the lab "
                                    "can make this campaign (a robot declares them when it starts)"]
    return {"declared": bool(declared), "can_make": can, "missing": missing, "warnings": warnings}


def refusal(report: dict[str, Any]) -> str | None:
    """Why a campaign cannot be made by any declared robot (None when one can, or none has declared)."""
    if not report["declared"] or report["can_make"]:
        return None
    lacks = "; ".join(f"robot {r!r} has no stock with {', '.join(m)}" for r, m in report["missing"].items())
    return (f"space: no robot can make this campaign: {lacks}. Add a stock with the liquid to a robot's lab file "
            "(and restart its agent), or leave it out of the space")
