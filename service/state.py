"""What the running service holds: settings, the database, and the models loaded once at start-up."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from db import crud
from diffmix.settings import Settings
from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.optimize.design import DesignSpec
from model.predict import Predictor, model_dir
from model.properties import PROPERTIES, get_property
from service.learning import Learner
from service.metrics import Metrics


def checkpoint_hash(directory: Path) -> str:
    """sha256 over a model directory's weights and config: the model version's identity."""
    h = hashlib.sha256()
    for p in sorted(directory.iterdir()):
        if p.is_file() and (p.suffix in (".safetensors", ".json")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@dataclass
class LoadedModel:
    predictor: Predictor
    version_id: int
    name: str
    checkpoint_hash: str


@dataclass
class ServiceState:
    settings: Settings
    sessions: sessionmaker[Session]
    models: dict[str, LoadedModel] = field(default_factory=dict)
    extra: dict[int, LoadedModel] = field(default_factory=dict)  # version id → an extra checkpoint
    metrics: Metrics = field(default_factory=Metrics.create)
    learner: Learner = field(default_factory=Learner)

    @property
    def _domain_thresholds(self) -> tuple[int, int]:
        """What the applicability domain calls rarely seen and rarely together (DIFFMIX_DOMAIN_MIN_ROWS, …_PAIR_ROWS)."""
        return self.settings.domain_min_rows, self.settings.domain_min_pair_rows

    def load_models(self) -> None:
        """Load every property's ensemble once and register its version in the database; then the extra
        checkpoints (selectable by version id, never a property's default)."""
        for prop in PROPERTIES:
            d = model_dir(prop, self.settings.models_dir)
            if (d / "config.json").exists():
                predictor = Predictor(Predictor.load(prop, d).ensemble, *self._domain_thresholds)
                self.models[prop] = self._register(predictor, d)
        for d in self.settings.extra_models:
            cfg = Ensemble.load(d)  # a clear error at start-up for a directory that is not a model
            loaded = self._register(Predictor(cfg, *self._domain_thresholds), Path(d))
            self.extra[loaded.version_id] = loaded

    def _register(self, predictor: Predictor, d: Path) -> LoadedModel:
        prop = predictor.property.name
        digest = checkpoint_hash(d)
        with self.sessions() as s:
            mv = crud.register_model_version(s, prop, f"{prop}/{predictor.ensemble.kind}@{digest[:12]}", digest,
                                             str(d), predictor.ensemble.info.get("test_metrics", {}))
            return LoadedModel(predictor, mv.id, mv.name, digest)

    def model_for(self, prop: str) -> LoadedModel:
        """The loaded model of a property (422 when the service has none)."""
        get_property(prop)  # unknown property → a clear 422
        if prop not in self.models:
            raise DiffMixInputError(f"no model for {prop} is loaded in this service")
        return self.models[prop]

    def model_for_design(self, design: DesignSpec, version_id: int | None = None) -> LoadedModel:
        """The model a design asks for: the given version, else the loaded model of its property."""
        loaded = self.model_by_version(version_id) if version_id else self.model_for(design.property)
        if loaded.predictor.property.name != design.property:
            raise DiffMixInputError(f"model version {loaded.version_id} predicts {loaded.predictor.property.name}, "
                                    f"not {design.property}")
        return loaded

    def model_by_version(self, version_id: int) -> LoadedModel:
        """The loaded model with this version id (422 when it is not loaded here)."""
        for m in [*self.models.values(), *self.extra.values()]:
            if m.version_id == version_id:
                return m
        loaded = sorted(m.version_id for m in [*self.models.values(), *self.extra.values()])
        raise DiffMixInputError(f"model version {version_id} is not loaded in this service (loaded: {loaded})")
