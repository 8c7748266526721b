"""One step of a closed-loop campaign, the same wherever it runs (the service, `diffmix campaign simulate`, the
loop benchmark): given the campaign's measurements and pending points, the next batch of a strategy.

- ``learning`` (the default): batch upper confidence bound on the campaign posterior (model/optimize/posterior.py),
  points at least ``LEARNING_MIN_DISTANCE`` apart;
- ``gradient``: DiffMix alone (open loop), batched gradient ascent;
- ``botorch``: a plain BoTorch GP loop on the measurements (model/optimize/baseline.py);
- ``random``: feasible points drawn uniformly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from model.optimize.objective import Objective
from model.optimize.posterior import Hyper, Observation, Posterior
from model.optimize.proposals import STRATEGIES, Proposal, propose

LEARNS = ("learning", "botorch")  # the strategies whose proposals depend on the measurements
LEARNING_MIN_DISTANCE = 0.05  # a learning batch's points differ by ≥ 5 % in some share or the cation fraction
DEFAULT_MIN_DISTANCE = 0.01


SURROGATES = ("gp", "finetune")  # the two posterior designs; gp is the default (benchmarks/RESULTS.md, issue 15)


def posterior_for(objective: Objective, measured: list[Observation], pending_z: np.ndarray | None = None,
                  pending_T: np.ndarray | None = None, start: Hyper | None = None, surrogate: str = "gp",
                  seed: int = 0, free_start: Hyper | None = None) -> Posterior:
    """The campaign's posterior on its measurements, with its pending points (queued or leased experiments) as
    fantasies: ``gp``, a GP on the residuals averaged with a prior-free GP by the measurements' evidence
    (hyperparameters searched from ``start`` and ``free_start``), or ``finetune``, the members fine-tuned on bootstraps
    of the measurements (model/optimize/finetune.py)."""
    if surrogate == "gp":
        post = Posterior(objective, measured, hyper=start, free_hyper=free_start)
    elif surrogate == "finetune":
        from model.optimize.finetune import finetuned_posterior

        post = finetuned_posterior(objective, measured, seed=seed)
    else:
        raise ValueError(f"unknown surrogate {surrogate!r}; choose one of {', '.join(SURROGATES)}")
    if pending_z is not None and len(pending_z):
        post = post.with_pending(pending_z, pending_T if pending_T is not None else float(np.mean(objective.temperatures_K)))
    return post


def next_batch(objective: Objective, posterior: Posterior, strategy: str, n: int, seed: int,
               avoid: list[np.ndarray] | None = None) -> tuple[list[Proposal], Objective]:
    """The strategy's next n proposals, and the objective that valued them (with the posterior when it learns)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    obj = replace(objective, posterior=posterior) if strategy in LEARNS else objective
    distance = LEARNING_MIN_DISTANCE if strategy == "learning" else DEFAULT_MIN_DISTANCE
    return propose(obj, n, seed=seed, strategy=strategy, avoid=avoid, min_distance=distance), obj
