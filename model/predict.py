"""The Python API the service and the optimizer call: load an ensemble once, predict records, get ∂P/∂x."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from model.chem import formal_charge
from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.mixture import Mixture, from_record
from model.properties import check_temperature_for, get_property

SHIPPED = Path(__file__).resolve().parent.parent / "models"


def model_dir(prop: str, models_dir: str | Path | None = None) -> Path:
    """<models_dir>/<property>, by default models/<property> of this checkout (the shipped ensembles)."""
    get_property(prop)
    return Path(models_dir or SHIPPED) / prop


def validate_for(prop: str, mixture: Mixture) -> Mixture:
    """Property-specific checks on a normalised mixture."""
    check_temperature_for(get_property(prop), mixture.temperature_K)
    if prop == "ionic_conductivity":
        if not any(formal_charge(s) != 0 for s in mixture.species):
            raise DiffMixInputError("ionic conductivity needs a salt among the components (e.g. '[Li+].F[P-](F)(F)(F)(F)F')")
        if all(formal_charge(s) != 0 for s in mixture.species):
            raise DiffMixInputError("ionic conductivity needs at least one solvent besides the salt")
    return mixture


class Predictor:
    """A loaded ensemble for one property."""

    def __init__(self, ensemble: Ensemble):
        self.ensemble = ensemble
        self.property = ensemble.property

    @classmethod
    def load(cls, prop: str, directory: str | Path | None = None) -> Predictor:
        """The ensemble saved in ``directory`` (default: the shipped one), checked to predict ``prop``."""
        d = Path(directory) if directory else model_dir(prop)
        ens = Ensemble.load(d)
        if ens.property.name != prop:
            raise DiffMixInputError(f"model in {d} predicts {ens.property.name}, not {prop}")
        return cls(ens)

    def mixtures(self, records: Iterable[Mapping[str, Any]]) -> list[Mixture]:
        """Parse and validate every record first; one bad record fails the whole call, naming its position."""
        out = []
        for i, rec in enumerate(records):
            try:
                out.append(validate_for(self.property.name, from_record(rec)))
            except DiffMixInputError as e:
                raise DiffMixInputError(f"record {i + 1}: {e}") from None
        return out

    def predict_records(self, records: Sequence[Mapping[str, Any]], gradient: bool = False) -> list[dict[str, Any]]:
        """One row per record: prediction, std and unit (and ∂P/∂x with the fractions when gradient is set)."""
        mixtures = self.mixtures(records)
        pred = self.ensemble.predict(mixtures, gradient=gradient)
        out = []
        for i in range(len(mixtures)):
            row = {"prediction": float(pred.mean[i]), "std": float(pred.std[i]), "unit": self.property.unit}
            if gradient:
                row["gradient"] = pred.gradient[i]
                row["fractions"] = mixtures[i].fractions()
            out.append(row)
        return out
