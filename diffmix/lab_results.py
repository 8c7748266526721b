"""A lab's measured results, from its database or from an exported results file, as mixtures and κ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from model.chem import canonical
from model.errors import DiffMixInputError
from model.mixture import Mixture


def read(source: str) -> list[dict[str, Any]]:
    """Every measured result: from a DATABASE_URL (sqlite:///…, postgresql://…) or a JSON file of GET /v1/results."""
    if "://" in source:
        from sqlalchemy.exc import OperationalError

        from db import crud
        from db.session import make_engine, make_sessionmaker

        engine = make_engine(source)
        try:
            with make_sessionmaker(engine)() as s:
                return crud.results(s)
        except OperationalError as e:
            raise DiffMixInputError(f"cannot read results from {source.split('@')[-1]}: {e.orig}") from None
        finally:
            engine.dispose()
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"results file {path} not found")
    try:
        rows = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DiffMixInputError(f"{path} is not a JSON results file (GET /v1/results): {e}") from None
    if not isinstance(rows, list):
        raise DiffMixInputError(f"{path}: expected a list of results (GET /v1/results)")
    return rows


def mixtures_and_values(rows: list[dict[str, Any]]) -> tuple[list[Mixture], np.ndarray]:
    """The mixtures that were made (measured composition, measured temperature) and their κ; rows with κ ≤ 0
    cannot enter a fit in ln κ and are an error, not skipped."""
    mixtures, values = [], []
    for i, r in enumerate(rows):
        try:
            comp = {canonical(k): float(v) for k, v in r["measured_composition"].items() if float(v) > 0}
            kappa = float(r["measured"])
            mixtures.append(Mixture(tuple(comp), tuple(comp.values()), float(r["temperature_K"])))
        except (KeyError, TypeError, ValueError) as e:
            raise DiffMixInputError(f"result {i + 1}: needs measured_composition, temperature_K and measured ({e})") from None
        if not kappa > 0:
            raise DiffMixInputError(f"result {i + 1} (experiment {r.get('experiment_id')}): κ = {kappa} cannot be fitted")
        values.append(kappa)
    if not mixtures:
        raise DiffMixInputError("no measured results to fine-tune on")
    return mixtures, np.array(values)
