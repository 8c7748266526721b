"""The closed loop inside the service: each campaign's posterior kept up to date with its measurements.

After every stored result (in the background) and before every proposal (on demand), the campaign's posterior
is refitted on all of its measurements and registered as a model version (parent: the campaign's checkpoint;
its measurement ids, hyperparameters and leave-one-out diagnostics stored with it). Fitted posteriors are
cached per campaign; a version can always be rebuilt from its row (same measurements, same hyperparameters,
no refit), which is how a result is re-predicted by the version that proposed it.

The maths is model/optimize/posterior.py; the rows are db/crud.py; this module only joins them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from sqlalchemy.orm import Session

from db import crud
from db.enums import PENDING
from db.models import Campaign, Experiment, Measurement, ModelVersion
from model.errors import DiffMixInputError
from model.optimize.design import DesignSpec
from model.optimize.loop import posterior_for
from model.optimize.objective import Objective
from model.optimize.posterior import Hyper, Observation, Posterior

if TYPE_CHECKING:
    from service.state import ServiceState

log = logging.getLogger("diffmix.service.learning")


@dataclass
class Fitted:
    """A campaign's posterior and the model version it is registered as."""

    version_id: int
    experiment_ids: list[int]
    posterior: Posterior


K = TypeVar("K")
V = TypeVar("V")

# How many campaigns' posteriors and objectives stay in memory (each holds its measurements' kernel matrix and
# the prior at them, a few MB at most); the least recently used go first and are rebuilt from the database.
CACHED_CAMPAIGNS = 64
CACHED_VERSIONS = 256


class LRU(OrderedDict[K, V]):
    """A dict that keeps at most ``maxsize`` entries, dropping the least recently read or written."""

    def __init__(self, maxsize: int):
        super().__init__()
        self.maxsize = maxsize

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        """The value for ``key`` (now the most recently used), or ``default``."""
        if key not in self:
            return default
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


@dataclass
class Learner:
    """Per-campaign posteriors, cached (bounded, least recently used dropped); thread-safe (the service answers
    from several threads)."""

    cache: LRU[int, Fitted] = field(default_factory=lambda: LRU(CACHED_CAMPAIGNS))
    versions: LRU[int, Posterior] = field(default_factory=lambda: LRU(CACHED_VERSIONS))  # rebuilt posteriors
    objectives: LRU[int, Objective] = field(default_factory=lambda: LRU(CACHED_CAMPAIGNS))  # per campaign
    lock: threading.Lock = field(default_factory=threading.Lock)


def observations(objective: Objective, rows: list[tuple[Experiment, Measurement]]) -> list[Observation]:
    """The measurements as the posterior sees them: the point that was made, the measured T and κ."""
    out = []
    for e, m in rows:
        try:
            z = objective.space.point_of(m.measured_composition)
        except DiffMixInputError:
            z = objective.space.project(np.asarray(e.point, dtype=float))[0]  # a composition outside the space: the planned point
        out.append(Observation(z, float(m.temperature_K), float(m.conductivity_mS_cm)))
    return out


def current(learner: Learner, s: Session, campaign: Campaign, objective: Objective) -> Fitted:
    """The campaign's posterior on every measurement stored now (refitted and registered when there are new ones)."""
    rows = [(e, m) for e, m in crud.measured(s, campaign.id) if m.conductivity_mS_cm > 0]
    ids = [e.id for e, _ in rows]
    with learner.lock:
        cached = learner.cache.get(campaign.id)
    if cached is not None and cached.experiment_ids == ids:
        return cached
    if not ids:
        fitted = Fitted(campaign.model_version_id, [], Posterior(objective, []))
    else:
        start, free_start = ((cached.posterior.hyper, cached.posterior.free_hyper) if cached is not None
                             else _last_hypers(s, campaign.id))
        post = posterior_for(objective, observations(objective, rows), start=start, free_start=free_start)
        diag = post.diagnostics()
        metrics: dict[str, object] = {"hyper": post.hyper.as_dict(), "diagnostics": diag.as_dict()}
        if post.free_hyper is not None:
            metrics["free_hyper"] = post.free_hyper.as_dict()
        row = crud.register_posterior(s, campaign, campaign.model_version_id, ids, diag.loo_mae, diag.coverage_2sigma,
                                      metrics)
        fitted = Fitted(row.id, ids, post)
    with learner.lock:
        learner.cache[campaign.id] = fitted
        learner.versions[fitted.version_id] = fitted.posterior
    return fitted


def _last_hypers(s: Session, campaign_id: int) -> tuple[Hyper | None, Hyper | None]:
    """The last stored version's hyperparameters (DiffMix's, the prior-free GP's): the next fit starts there."""
    versions = crud.posterior_versions(s, campaign_id)
    if not versions:
        return None, None
    m = versions[-1].metrics
    return Hyper.from_dict(m["hyper"]), Hyper.from_dict(m["free_hyper"]) if "free_hyper" in m else None


def posterior_of(learner: Learner, s: Session, version: ModelVersion, objective: Objective) -> Posterior:
    """The posterior a version stands for, rebuilt from its row when it is not cached (no refit)."""
    with learner.lock:
        cached = learner.versions.get(version.id)
    if cached is not None:
        return cached
    if version.kind != "posterior" or version.campaign_id is None:
        post = Posterior(objective, [])
    else:
        ids = set(version.metrics.get("experiment_ids", []))
        rows = [(e, m) for e, m in crud.measured(s, version.campaign_id) if e.id in ids]
        # a version stored before the prior-free GP existed is rebuilt as it was fitted: DiffMix's posterior alone
        free = version.metrics.get("free_hyper")
        post = Posterior(objective, observations(objective, rows), hyper=Hyper.from_dict(version.metrics["hyper"]),
                         fit=False, free_hyper=Hyper.from_dict(free) if free is not None else None,
                         prior_free=free is not None)
    with learner.lock:
        learner.versions[version.id] = post
    return post



def objective_for(state: ServiceState, campaign: Campaign) -> Objective:
    """The campaign's objective on its checkpoint (cached per campaign: a campaign's design never changes)."""
    learner = state.learner
    with learner.lock:
        cached = learner.objectives.get(campaign.id)
    if cached is not None:
        return cached
    ensemble = state.model_by_version(campaign.model_version_id).predictor.ensemble
    obj = DesignSpec.parse(campaign.design).objective_for(ensemble)
    with learner.lock:
        kept = learner.objectives.get(campaign.id)
        if kept is None:
            learner.objectives[campaign.id] = kept = obj
        return kept


def judge_result(state: ServiceState, s: Session, measurement: Measurement) -> Measurement:
    """Re-predict a new result at its measured temperature and composition with the version that proposed it,
    and flag a temperature off the plan by more than the campaign's tolerance."""
    e = measurement.experiment
    c = e.campaign
    obj = objective_for(state, c)
    post = posterior_of(state.learner, s, crud.get_model_version(s, e.model_version_id), obj)
    z = observations(obj, [(e, measurement)])[0].z
    mean, _ = post.predict_numpy(z, measurement.temperature_K)
    flags = []
    off = abs(measurement.temperature_K - e.temperature_K)
    if off > c.temperature_tolerance_K:
        flags.append(f"temperature_off_plan: measured {measurement.temperature_K:.2f} K, planned {e.temperature_K:.2f} K "
                     f"(tolerance {c.temperature_tolerance_K} K); learnt from at its measured temperature")
    return crud.annotate_measurement(s, measurement.id, float(mean[0]), flags)


def update_after_result(state: ServiceState, campaign_id: int) -> None:
    """Refit the campaign's posterior on its measurements (run in the background after a result is stored;
    a failure is logged and the next proposal or GET …/model refits)."""
    try:
        with state.sessions() as s:
            c = crud.get_campaign(s, campaign_id)
            current(state.learner, s, c, objective_for(state, c))
    except Exception:  # noqa: BLE001 - the result is stored; the posterior is rebuilt on demand
        log.exception("updating campaign %s's posterior failed; it is refitted on the next proposal", campaign_id)


def pending_posterior(state: ServiceState, s: Session, campaign: Campaign, made: list[Experiment]) -> tuple[int, Posterior]:
    """The campaign's current posterior (its version id) with its queued and leased experiments as pending points."""
    fitted = current(state.learner, s, campaign, objective_for(state, campaign))
    pending = [e for e in made if e.status in PENDING]
    post = fitted.posterior
    if pending:
        post = post.with_pending(np.array([e.point for e in pending]), np.array([e.temperature_K for e in pending]))
    return fitted.version_id, post


def batch_residuals(rows: list[tuple[Experiment, Measurement]]) -> list[dict[str, float | int | None]]:
    """Per proposal batch: how many were measured, and the MAE and bias of the proposing model's predictions
    (as proposed, and re-made at the measured temperature and composition)."""
    by: dict[int, list[tuple[Experiment, Measurement]]] = {}
    for e, m in rows:
        by.setdefault(e.batch, []).append((e, m))
    out: list[dict[str, float | int | None]] = []
    for b in sorted(by):
        res = np.array([e.predicted - m.conductivity_mS_cm for e, m in by[b]])
        again = [m.predicted_at_measured_T - m.conductivity_mS_cm for _, m in by[b] if m.predicted_at_measured_T is not None]
        out.append({"batch": b, "measured": len(res), "mae": float(np.mean(np.abs(res))), "bias": float(np.mean(res)),
                    "mae_at_measured_T": float(np.mean(np.abs(again))) if again else None})
    return out
