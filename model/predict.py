"""The Python API the service and the optimizer call: load an ensemble once, predict records, get ∂P/∂x."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from model.chem import formal_charge
from model.domain import Report, mixture_report
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

    def __init__(self, ensemble: Ensemble, domain_min_rows: int | None = None, domain_min_pair_rows: int | None = None):
        self.ensemble = ensemble
        self.property = ensemble.property
        if ensemble.domain is not None:  # "rarely seen" below this many training rows; a pair "rarely together" likewise
            ensemble.domain = ensemble.domain.with_thresholds(min_rows=domain_min_rows, min_pair_rows=domain_min_pair_rows)

    @classmethod
    def load(cls, prop: str, directory: str | Path | None = None) -> Predictor:
        """The ensemble saved in ``directory`` (default: the shipped one), checked to predict ``prop``."""
        d = Path(directory) if directory else model_dir(prop)
        ens = Ensemble.load(d)
        if ens.property.name != prop:
            raise DiffMixInputError(f"model in {d} predicts {ens.property.name}, not {prop}")
        return cls(ens)

    def parse(self, record: Mapping[str, Any]) -> Mixture:
        """One record, normalised and checked for this property (raises DiffMixInputError). A pure liquid is a
        valid record for an excess property (its value is 0 by definition); a pressure outside the trained range
        is refused."""
        mixture = validate_for(self.property.name, from_record(record, min_species=1 if self.property.excess else 2))
        if self.ensemble.domain is not None:
            self.ensemble.domain.check_pressure(mixture.pressure_kPa, self.property.name)
        return mixture

    def mixtures(self, records: Iterable[Mapping[str, Any]]) -> list[Mixture]:
        """Parse and validate every record first; one bad record fails the whole call, naming its position."""
        out = []
        for i, rec in enumerate(records):
            try:
                out.append(self.parse(rec))
            except DiffMixInputError as e:
                raise DiffMixInputError(f"record {i + 1}: {e}") from None
        return out

    def predict_records(self, records: Sequence[Mapping[str, Any]], gradient: bool = False) -> list[dict[str, Any]]:
        """One row per record: prediction, std, unit and the applicability domain (and ∂P/∂x with the fractions
        when gradient is set). One bad record fails the call, naming its position."""
        return self.predict_mixtures(self.mixtures(records), gradient)

    def predict_mixtures(self, mixtures: list[Mixture], gradient: bool = False) -> list[dict[str, Any]]:
        """``predict_records`` for mixtures already parsed. An excess property of a pure liquid is exactly 0 with
        std 0 (the definition; ThermoML series include their end points) and is not sent through the model."""
        pure = [self.property.excess and m.n == 1 for m in mixtures]
        mixed = [m for m, p in zip(mixtures, pure) if not p]
        pred = self.ensemble.predict(mixed, gradient=gradient)
        out, j = [], 0
        for m, p in zip(mixtures, pure):
            if p:  # no other species to exchange with: the derivative along the mixture's own simplex is 0 as well
                row: dict[str, Any] = {"prediction": 0.0, "std": 0.0, "unit": self.property.unit}
                grad = {m.species[0]: 0.0}
                # the definition holds for any liquid, seen in training or not: the model is not asked, so nothing
                # is outside its domain (a report naming an unseen molecule would cast doubt on an exact 0)
                domain = Report(True, [])
            else:
                row = {"prediction": float(pred.mean[j]), "std": float(pred.std[j]), "unit": self.property.unit}
                grad = pred.gradient[j] if gradient else {}
                domain = mixture_report(self.ensemble.domain, m)
                j += 1
            row["domain"] = domain.json()
            if gradient:
                row["gradient"] = grad
                row["fractions"] = m.fractions()
            out.append(row)
        return out
