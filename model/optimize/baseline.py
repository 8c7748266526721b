"""The baseline a lab would otherwise pick: a standard BoTorch loop with no physics.

A SingleTaskGP (BoTorch's defaults: Matérn-5/2 with ARD, inputs normalised, outputs standardised) on the
campaign's measurements over the decision variables alone, batch q-LogEI (Ament et al., NeurIPS 2023) with the
pending experiments as ``X_pending``, maximised by ``optimize_acqf`` under the space's simplex equality and bounds.
Until two measurements exist the batch is drawn at random over the space (the usual space-filling start).
The DiffMix prior is used nowhere here; that is the point of the baseline.
"""

from __future__ import annotations

import numpy as np
import torch

from model.optimize.objective import Objective


def _variables(objective: Objective) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Which coordinates of z move (free solvent shares, the cation fraction if free) and their bounds."""
    space = objective.space
    n = len(space.solvents)
    idx: list[int] = []
    if space.solvents_free:
        idx += [i for i in range(n) if space.solvent_upper[i] > space.solvent_lower[i]]
    if space.salt_free:
        idx.append(n)
    lo = np.array([space.solvent_lower[i] if i < n else space.salt_range[0] for i in idx])
    hi = np.array([space.solvent_upper[i] if i < n else space.salt_range[1] for i in idx])
    return idx, lo, hi


def botorch_batch(objective: Objective, q: int, seed: int) -> np.ndarray:
    """q points [q, dim] for the robot from the measurements (and pending points) on ``objective.posterior``."""
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.optim.optimize import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood  # type: ignore[import-untyped]

    space = objective.space
    post = objective.posterior
    obs = post.observations if post is not None else []
    pending = post.pending_z if post is not None else []
    rng = np.random.default_rng(seed)
    if len(obs) < 2:
        return space.random_points(q, rng)
    torch.manual_seed(seed)
    idx, lo, hi = _variables(objective)
    base = space.project(np.array([o.z for o in obs]))
    X = torch.as_tensor(base[:, idx], dtype=torch.float64)
    y = np.array([o.measured for o in obs]) * (1.0 if objective.maximize else -1.0)
    Y = torch.as_tensor(y, dtype=torch.float64)[:, None]
    bounds = torch.as_tensor(np.vstack([lo, hi]), dtype=torch.float64)
    gp = SingleTaskGP(X, Y, input_transform=Normalize(len(idx), bounds=bounds), outcome_transform=Standardize(1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    X_pending = torch.as_tensor(np.array(pending)[:, idx], dtype=torch.float64) if len(pending) else None
    acq = qLogExpectedImprovement(gp, best_f=Y.max(), X_pending=X_pending)
    n = len(space.solvents)
    shares = [j for j, i in enumerate(idx) if i < n]
    equality = None
    if space.solvents_free:  # the free shares sum to 1 minus the fixed ones' (lower == upper) shares
        fixed = sum(float(space.solvent_lower[i]) for i in range(n) if i not in idx)
        equality = [(torch.as_tensor(shares), torch.ones(len(shares), dtype=torch.float64), 1.0 - fixed)]
    cand, _ = optimize_acqf(acq, bounds, q=q, num_restarts=4, raw_samples=128, equality_constraints=equality,
                            options={"maxiter": 100, "seed": int(seed)})
    z = np.repeat(space.project(base[:1]), q, axis=0)
    z[:, idx] = cand.detach().numpy()
    return space.project(z)
