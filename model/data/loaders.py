"""Find the public data and turn each property's file into a MixtureTable."""

from __future__ import annotations

from pathlib import Path

from model.data import calisol, thermoml
from model.data.dataset import MixtureTable
from model.data.errata import excluded_rows
from model.properties import get_property

ENV_VAR = "DIFFMIX_DATA_DIR"  # where users configure it (diffmix.settings reads it; this module never does)


def data_dir(configured: str | Path | None = None) -> Path:
    """The configured folder, else ../shared/data beside the project, else ./data."""
    if configured:
        return Path(configured)
    root = Path(__file__).resolve().parents[2]
    for cand in (root.parent / "shared" / "data", root / "data"):
        if cand.exists():
            return cand
    return root.parent / "shared" / "data"


def file_for(prop: str) -> str:
    get_property(prop)
    return calisol.FILE if prop == "ionic_conductivity" else thermoml.FILES[prop].file


def load_table(prop: str, directory: str | Path | None = None, errata: bool = True) -> tuple[MixtureTable, dict]:
    """The property's data as a table, and a dict describing what was read (file, rows, drops, errata).

    The rows of a publication in ``model.data.errata`` stay in the table, marked ``excluded`` (no split uses them);
    ``errata=False`` counts them like any other row (to reproduce a run from before the erratum was listed)."""
    d = data_dir(directory)
    path = d / file_for(prop)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: set {ENV_VAR} to the folder holding {file_for(prop)}, or run `diffmix data fetch`"
        )
    if prop == "ionic_conductivity":
        df, mixtures, rep = calisol.load(path)
        y, info = df["kappa"], rep.as_dict()
    else:
        df, mixtures, info = thermoml.load(path, prop)
        y = df["target"]
    excluded, listed = excluded_rows(path.name, df["doi"].to_numpy()) if errata else (None, {})
    table = MixtureTable.from_mixtures(mixtures, y, {"doi": df["doi"], "system": df["system"]}, excluded)
    return table, {"file": path.name, **info, "errata": listed}
