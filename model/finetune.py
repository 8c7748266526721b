"""Fine-tuning an ensemble on a lab's own measurements, with a penalty toward the pretrained weights.

Each member's mixture head (the molecule encoders stay as trained: their embeddings are cached) takes Adam
steps on a bootstrap resample of the measurements (or on all of them with ``bootstrap=False``), minimising the
mean squared error in ln κ plus ``penalty`` · ‖θ − θ₀‖² toward its pretrained weights θ₀: a few measurements move
a member only as far as they justify, and members on different resamples still disagree where the data say
little. Used by a campaign's fine-tuned posterior (model/optimize/finetune.py) and by
``diffmix train --lab-results`` (every measured result of a lab; a new checkpoint in the shipped format).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.mixture import Mixture

STEPS = 60
LR = 3e-3
# weight of ‖θ − θ₀‖² (summed over the head's parameters) against the mean squared ln-residual. 30 was set for
# the ln A head; against the anchored, bounded head (whose soft bound damps a step on the level) it held the members
# near the prior: the loop benchmark's fine-tuned posterior predicted the next batch to 2.67 mS/cm, with 0.1 to 0.45,
# and with no pull at all 4 measurements of a lab moved the members too far (benchmarks/RESULTS.md, session 14)
PENALTY = 0.1


def check_pull(penalty: float) -> float:
    """The pull toward the pretrained weights as a float, refused unless it is a finite weight ≥ 0."""
    value = float(penalty)
    if not (np.isfinite(value) and value >= 0):
        raise DiffMixInputError(f"the pull toward the pretrained weights is a weight ≥ 0; got {value}")
    return value


def finetune(ensemble: Ensemble, mixtures: list[Mixture], measured: np.ndarray, seed: int = 0, steps: int = STEPS,
             lr: float = LR, penalty: float | None = None, bootstrap: bool = True) -> Ensemble:
    """A copy of ``ensemble`` whose members' heads are fitted to the measurements (κ > 0, one per mixture);
    ``penalty`` None is the module's PENALTY, read at the call (benchmarks set it per process)."""
    penalty = check_pull(PENALTY if penalty is None else penalty)
    y_np = np.asarray(measured, dtype=float)
    if len(mixtures) == 0 or len(mixtures) != len(y_np):
        raise DiffMixInputError(f"give one measurement per mixture ({len(mixtures)} mixtures, {len(y_np)} values)")
    if not (np.isfinite(y_np).all() and (y_np > 0).all()):
        raise DiffMixInputError("every measurement must be positive and finite to be fitted in ln κ")
    vocab, idx, x, t, p = ensemble._arrays(mixtures)
    dt = ensemble.dtype
    idx_t, x_t = torch.as_tensor(idx), torch.as_tensor(x, dtype=dt)
    T, P = torch.as_tensor(t, dtype=dt), torch.as_tensor(p, dtype=dt)
    y = torch.log(torch.as_tensor(y_np, dtype=dt))
    emb = ensemble.embeddings(list(vocab))  # [K, V, H], fixed
    rng = np.random.default_rng(seed)
    members = []
    for k, member in enumerate(ensemble.members):
        m = copy.deepcopy(member).train()
        params = [q for q in m.parameters() if q.requires_grad]
        start = [q.detach().clone() for q in params]
        rows = torch.as_tensor(rng.integers(0, len(y), len(y)) if bootstrap else np.arange(len(y)))
        opt = torch.optim.Adam(params, lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            pred = torch.log(m.mix(emb[k], idx_t[rows], x_t[rows], T[rows], P[rows]).clamp_min(1e-9))
            loss = ((pred - y[rows]) ** 2).mean() + penalty * sum(((q - q0) ** 2).sum() for q, q0 in zip(params, start))
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        members.append(m.eval())
    info = dict(ensemble.info) | {"finetuned": {"measurements": len(y), "steps": steps, "lr": lr, "penalty": penalty,
                                                "bootstrap": bootstrap, "seed": seed}}
    tuned = Ensemble(members, ensemble.property, ensemble.kind, ensemble.hyper, info)
    tuned.domain = ensemble.domain  # the lab's results are in the base's domain or flagged by it; it is not widened
    return tuned
