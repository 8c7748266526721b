"""The second posterior design: the ensemble members fine-tuned on the campaign's measurements (model/finetune.py).

Each member on its own bootstrap resample, with a penalty toward its pretrained weights. The fine-tuned ensemble
then serves as the prior of a data-free posterior (model/optimize/posterior.py), which keeps the campaign-wide
offset τ, the fine-tuned members' own spread as the std, the pending points as fantasies and the exact gradients; the
learning strategy uses it unchanged. Which design a campaign uses is ``surrogate`` in model/optimize/loop.py;
benchmarks/bench_loop.py measures both.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from model.ensemble import Ensemble
from model.finetune import finetune
from model.mixture import Mixture
from model.optimize.objective import Objective
from model.optimize.posterior import Hyper, Observation, Posterior

SPREAD_METHOD = "the bootstrap spread of members fine-tuned on the campaign's measurements, unscaled"


def finetuned_ensemble(objective: Objective, observations: list[Observation], seed: int = 0) -> Ensemble:
    """The objective's ensemble fine-tuned on bootstraps of the measurements."""
    space = objective.space
    mixtures = [Mixture(tuple(space.species), tuple(space.species_dict(o.z).values()), o.temperature_K,
                        objective.pressure_kPa) for o in observations]
    return finetune(objective.ensemble, mixtures, np.array([o.measured for o in observations]), seed=seed)


def finetuned_posterior(objective: Objective, observations: list[Observation], hyper: Hyper | None = None,
                        seed: int = 0) -> Posterior:
    """The fine-tuned ensemble as a data-free posterior's prior (the same interface as the GP design). It keeps
    the measurements (for the baseline's data and the diagnostics) without a GP on them."""
    if not observations:
        return Posterior(objective, [])
    ensemble = finetuned_ensemble(objective, observations, seed)
    # the spread of members fitted to bootstraps of this campaign's measurements is a std of its own: the base's
    # factor, calibrated for members that never saw the publication they predict, made it about nine times too wide
    # (loop benchmark, batches 2–6: ±2σ covered all but one of 1,200 points, |error| / std 0.23 at the 95th
    # percentile; benchmarks/RESULTS.md, session 14)
    ensemble.info = dict(ensemble.info) | {"std_calibration": {"std_scale": 1.0, "method": SPREAD_METHOD}}
    tuned = replace(objective, ensemble=ensemble)
    post = Posterior(tuned, [], hyper=hyper or Hyper(offset=0.02), prior_free=False)
    post.observations = list(observations)
    return post
