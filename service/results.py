"""Measured results for people: names and lab units beside each row, and the CSV a spreadsheet opens with one
column per component (names in the first header row, SMILES in the second)."""

from __future__ import annotations

import csv
import io
from typing import Any

from model.contract import Recipe
from model.lab_view import describe_composition
from model.mixture import KELVIN_OFFSET

LEADING = ["experiment_id", "campaign_id", "campaign", "temperature_C"]
TRAILING = ["predicted", "predicted_std", "measured", "residual", "method", "quality_flags", "model_version", "error"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula (OWASP)


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet shows as text: one starting with = + - @ tab or CR gets a leading apostrophe
    (OWASP's advice against CSV injection). Numbers are written by this module and never start so, but −0.5."""
    return "'" + text if text.startswith(FORMULA_START) else text


def with_lab_view(row: dict[str, Any]) -> dict[str, Any]:
    """A results row with ``lab`` (what the balance says was made, by name and in lab units) and °C. A stored row
    that cannot be presented (a composition its recipe cannot describe) keeps ``lab`` None and says why in
    ``error``: one bad row never breaks the export of the others."""
    out = {**row, "temperature_C": row["temperature_K"] - KELVIN_OFFSET, "lab": None, "error": None}
    try:
        recipe = Recipe.model_validate(row["recipe"])
        out["lab"] = describe_composition(row["measured_composition"], recipe.salt, list(recipe.solvents))
    except ValueError as e:
        out["error"] = f"cannot present what was made: {e}".splitlines()[0][:300]
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The rows (``with_lab_view``) as CSV: each solvent's mass fraction of the solvent blend in its own column,
    each salt's molality, estimated mol/L and cation mole fraction; row 2 gives the SMILES of each component column."""
    solvents: dict[str, str] = {}  # name → SMILES, in order of first appearance
    salts: dict[str, str] = {}
    for r in rows:
        if r["lab"] is None:
            continue
        for s in r["lab"]["solvents"]:
            solvents.setdefault(s["name"], s["smiles"])
        salts.setdefault(r["lab"]["salt"]["name"], r["lab"]["salt"]["smiles"])
    comp_cols = [(f"{n} mass fraction", smi) for n, smi in solvents.items()]
    for n, smi in salts.items():
        comp_cols += [(f"{n} molality (mol/kg)", smi), (f"{n} mol/L (estimated)", smi), (f"{n} cation mole fraction", smi)]
    header = LEADING + [c for c, _ in comp_cols] + TRAILING
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerow(["SMILES" if i == 0 else "" for i in range(len(LEADING))] + [smi for _, smi in comp_cols] + [""] * len(TRAILING))
    for r in rows:
        lab = r["lab"]
        by_col: dict[str, str] = {}
        if lab is not None:
            by_col = {f"{s['name']} mass fraction": f"{s['mass_fraction']:.5f}" for s in lab["solvents"]}
            salt = lab["salt"]
            by_col[f"{salt['name']} molality (mol/kg)"] = f"{salt['molality_mol_kg']:.4f}"
            by_col[f"{salt['name']} mol/L (estimated)"] = "" if salt["molarity_mol_L"] is None else f"{salt['molarity_mol_L']:.4f}"
            by_col[f"{salt['name']} cation mole fraction"] = f"{salt['cation_fraction']:.5f}"
        blank = "0" if lab is not None else ""
        w.writerow([r["experiment_id"], r["campaign_id"], spreadsheet_safe(r["campaign"]), f"{r['temperature_C']:.2f}"]
                   + [by_col.get(c, blank if c.endswith("mass fraction") else "") for c, _ in comp_cols]
                   + [f"{r['predicted']:.4f}", f"{r['predicted_std']:.4f}", f"{r['measured']:.4f}", f"{r['residual']:.4f}",
                      spreadsheet_safe(r["method"]), spreadsheet_safe(";".join(r["quality_flags"])),
                      spreadsheet_safe(str(r["model_version"])), spreadsheet_safe(r["error"] or "")])
    return buf.getvalue()
