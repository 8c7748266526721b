"""ThermoML binary excess properties (Open Force Field copies): H^E in kJ/mol → J/mol, V^E in m³/mol → cm³/mol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.chem import canonical
from model.mixture import Mixture


@dataclass(frozen=True)
class ExcessFile:
    file: str
    column: str
    to_report_unit: float  # factor from the file's unit to the unit we report
    unit: str


@dataclass(frozen=True)
class MirroredSeries:
    """A ThermoML series whose "Mole fraction" column holds component 2's fraction, not component 1's."""

    source: str  # the file's `filename` column
    system: str  # its `components` column
    evidence: str


# Corrections found by comparing every pair of sources that measured the same system at the same temperature: a
# series that matches the other only after x1 → 1 − x1 is a candidate, and it is corrected only where an independent
# argument says which of the two is mirrored. Each loaded correction is counted in the load report.
MIRRORED = {
    "eme_bin.csv": (
        MirroredSeries(
            "je060368", "1-pentanol__cyclohexane",
            "As given it differs from j.fluid.2012.01.007 (298.15 K) by 206 J/mol on average, mirrored by 15 J/mol "
            "(3 % of |H^E|). Alcohol + cycloalkane H^E peaks on the alcohol-poor side (breaking the alcohol's "
            "hydrogen bonds costs most per mole at high dilution), as j.fluid.2012.01.007 and this paper's own "
            "cyclohexane + 1-heptanol and + 1-nonanol series do (maxima at x(alcohol) ≈ 0.34 and 0.38); this series "
            "peaks at x(1-pentanol) = 0.6 as given and at 0.4 mirrored: its fractions are cyclohexane's."),
    ),
}

FILES = {
    "excess_molar_enthalpy": ExcessFile("eme_bin.csv", "Excess molar enthalpy (molar enthalpy of mixing), kJ/mol", 1e3, "J/mol"),
    "excess_molar_volume": ExcessFile("emv_bin.csv", "Excess molar volume, m3/mol", 1e6, "cm³/mol"),
}


REQUIRED = ("SMILES1", "SMILES2", "Mole fraction", "Temperature, K")


def load(path: str | Path, prop: str) -> tuple[pd.DataFrame, list[Mixture], dict]:
    """The file's rows as mixtures, with a report: rows read, rows kept, rows dropped for a missing value (per
    column), rows whose mole fraction was mirrored (``MIRRORED``)."""
    spec = FILES[prop]
    raw = pd.read_csv(path, sep=";")
    missing = {*REQUIRED, "Pressure, kPa", "filename", "components", spec.column} - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    needed = [*REQUIRED, spec.column]
    dropped = {f"no {c}": int(n) for c, n in raw[needed].isna().sum().items() if n}
    df = raw.dropna(subset=needed).reset_index(drop=True)
    first = df["Mole fraction"].astype(float).to_numpy().copy()  # component 1's mole fraction, once corrected
    mirrored = 0
    for fix in MIRRORED.get(spec.file, ()):
        rows = ((df["filename"] == fix.source) & (df["components"] == fix.system)).to_numpy()
        first[rows] = 1.0 - first[rows]
        mirrored += int(rows.sum())
    mixtures = []
    for s1, s2, x1, t, p in zip(df["SMILES1"], df["SMILES2"], first, df["Temperature, K"], df["Pressure, kPa"]):
        a, b = canonical(s1), canonical(s2)
        mixtures.append(Mixture((a, b), (float(x1), 1.0 - float(x1)), float(t), float(p)))
    out = pd.DataFrame({
        "target": df[spec.column].astype(float) * spec.to_report_unit,
        "T": df["Temperature, K"].astype(float),
        "doi": df["filename"].astype(str),
        "system": df["components"].astype(str),
    })
    report = {"rows_read": len(raw), "rows_kept": len(df), "rows_dropped": dropped, "rows_mirrored": mirrored}
    return out, mixtures, report
