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


FILES = {
    "excess_molar_enthalpy": ExcessFile("eme_bin.csv", "Excess molar enthalpy (molar enthalpy of mixing), kJ/mol", 1e3, "J/mol"),
    "excess_molar_volume": ExcessFile("emv_bin.csv", "Excess molar volume, m3/mol", 1e6, "cm³/mol"),
}


def load(path: str | Path, prop: str) -> tuple[pd.DataFrame, list[Mixture]]:
    spec = FILES[prop]
    raw = pd.read_csv(path, sep=";")
    missing = {"SMILES1", "SMILES2", "Mole fraction", "Temperature, K", "Pressure, kPa", spec.column} - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    df = raw.dropna(subset=["SMILES1", "SMILES2", "Mole fraction", "Temperature, K", spec.column]).reset_index(drop=True)
    mixtures = []
    for s1, s2, x1, t, p in zip(df["SMILES1"], df["SMILES2"], df["Mole fraction"], df["Temperature, K"], df["Pressure, kPa"]):
        a, b = canonical(s1), canonical(s2)
        mixtures.append(Mixture((a, b), (float(x1), 1.0 - float(x1)), float(t), float(p)))
    out = pd.DataFrame({
        "target": df[spec.column].astype(float) * spec.to_report_unit,
        "T": df["Temperature, K"].astype(float),
        "doi": df["filename"].astype(str),
        "system": df["components"].astype(str),
    })
    return out, mixtures
