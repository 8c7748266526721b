"""A campaign's posterior: the DiffMix ensemble is the prior, a Gaussian process learns the lab's correction.

Conductivity is positive and a lab's instrument is off by a factor rather than by an amount, so the correction
lives in ln κ:

    ln κ_lab(u) = ln μ(u) + g(u),   g ~ GP(0, k),   u = (solvent shares, salt cation fraction, temperature)
    k(u, u') = (σ² a(u) a(u') + ρ²) M(u, u') + τ² + λ² (f − ½)(f' − ½)

- μ(u) is the ensemble mean and a(u) its calibrated spread in ln κ (√ln(1 + r²) for the relative spread
  r = std · std_scale / μ, the log-normal's; ≈ r where r is small): the correction may be
  as large as DiffMix is unsure, which is large in blends it never saw and small in the binaries it knows; ρ is a
  floor for where the ensemble is confident and still wrong (its members agree on a salt optimum the lab does
  not have, say).
- M is a Matérn-5/2 kernel over the decision variables (shares as they are, the salt variable scaled to its
  range) and the temperature (in units of ``T_SCALE_K``), with one length scale for the solvent shares, one for
  the salt (κ's rise and fall with salt content has a scale of its own) and one for T.
- τ² is one offset shared by all of the campaign's measurements: the log of a multiplicative instrument bias
  (a lab's cell reads a few to 20 % off the literature).
- λ is a campaign-wide linear trend of ln κ along the salt variable f (in units of its range, centred; absent when
  the salt is fixed). κ rises and falls with salt content, so a tilt in ln κ moves the salt optimum; a lab whose ions
  pair more or less than DiffMix's training data has exactly that, everywhere in the space. Without the term the
  tilt is learned only within a length scale of the measurements, and the loop walked toward the lab's salt optimum
  by 0.1 mol/kg a batch (benchmarks/RESULTS.md, "A salt trend in the posterior").
- each measurement has noise σ_n² (the spread of repeated measurements; a few 0.1 % to 2 %).

The hyperparameters (σ, ρ, the three length scales, τ, λ, σ_n) are the maximum a posteriori of the marginal likelihood
under weak log-normal priors centred on the values above (``Hyper``). With no data the posterior is the prior:
the ensemble mean, and the calibrated ensemble spread combined with the priors of the offset τ and the trend λ.
Everything is torch, so mean, std and ∂/∂z are exact and differentiable; leave-one-out residuals and coverage are
closed-form (Rasmussen & Williams, Gaussian Processes for Machine Learning, 2006, §5.4.2).

That GP is ``ResidualGP``. Where DiffMix is confident and wrong, its correction is small (a and ρ are small there),
so by itself it never looks there and never learns that it should. A campaign's ``Posterior`` therefore weighs it
against ``PriorFreeGP``, the same GP with DiffMix left out (a flat mean and an amplitude of its own), by how well
each predicts the measurements it has not seen (leave-one-out predictive densities, pseudo-BMA): it mixes the two in
ln κ with that weight, and ``Evidence`` says how the lab and DiffMix stand, in numbers and in words. Where the lab
agrees with DiffMix the posterior is DiffMix's; where it contradicts it the prior-free GP takes over, anywhere in the
space. The acquisition keeps a prior-free and a space-filling share of every batch (model/optimize/proposals.py), so
that a region DiffMix is sure of gets measured at all (docs/decisions/2026-12-08-a-loop-its-prior-cannot-trap.md).

Points still being measured (queued or leased experiments) enter as fantasies: observations at the posterior's
own mean there (the "kriging believer"), which leaves the mean unchanged and removes the variance the pending
measurements will remove, so a batch does not propose what is already in the queue.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self

import numpy as np
import torch

from model.errors import DiffMixInputError

if TYPE_CHECKING:
    from model.optimize.objective import Objective

log = logging.getLogger(__name__)
T_SCALE_K = 20.0  # temperature feature unit
MIN_VAR = 1e-10
FANTASY_VAR = 1e-6  # variance of a pending point's fantasy observation (in ln κ)


@dataclass(frozen=True)
class Hyper:
    """The GP's hyperparameters (all positive; priors are log-normal around the defaults)."""

    signal: float = 1.0  # σ: multiplies the calibrated ensemble spread a(u)
    floor: float = 0.05  # ρ: a correction DiffMix's spread does not foresee, in ln κ (5 % prior scale)
    length_composition: float = 0.3  # in share units
    length_salt: float = 0.3  # in units of the salt variable's range
    length_temperature: float = 1.5  # in units of T_SCALE_K
    offset: float = 0.15  # τ: a campaign-wide offset in ln κ (15 %: a lab reads a few to 20 % off the literature)
    salt_trend: float = 0.3  # λ: a campaign-wide slope of ln κ along the salt variable, per its range
    noise: float = 0.01  # σ_n: measurement noise in ln κ (1 %)

    def as_dict(self) -> dict[str, float]:
        """The values by name (stored with a model version)."""
        return {k: float(getattr(self, k)) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> Hyper:
        """The hyperparameters stored by ``as_dict``; a term stored before it existed is absent (a version is
        rebuilt as it was fitted)."""
        return cls(**(SAVED_BEFORE_TERM | {k: float(v) for k, v in d.items() if k in cls.__dataclass_fields__}))


SAVED_BEFORE_TERM = {"salt_trend": 0.0}  # posteriors stored before the salt trend (2026-12-03) had none


PRIOR = Hyper()
PRIOR_LOG_SD = {"signal": 1.0, "floor": 1.2, "length_composition": 0.7, "length_salt": 0.7, "length_temperature": 0.7,
                "offset": 1.2, "salt_trend": 1.2, "noise": 1.0}
FLOOR = {"signal": 0.05, "floor": 1e-3, "length_composition": 0.03, "length_salt": 0.03, "length_temperature": 0.1,
         "offset": 1e-3, "salt_trend": 1e-3, "noise": 1e-3}


@dataclass
class Observation:
    """One measurement: the point z (decision variables), the temperature it was measured at, and κ."""

    z: np.ndarray
    temperature_K: float
    measured: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.measured) and self.measured > 0):
            raise DiffMixInputError(f"a measured conductivity must be positive and finite, got {self.measured}")


@dataclass
class Prior:
    """The ensemble's prediction at some points: ln μ and the calibrated spread a in ln κ, both [S]."""

    log_mean: torch.Tensor
    rel_std: torch.Tensor


@dataclass
class Cached:
    """The prior and the kernel's features at a fixed set of points (see Posterior.at)."""

    prior: Prior
    features: torch.Tensor

    def join(self, other: Cached) -> Cached:
        """These points followed by the other's (the prior is never evaluated twice for the same point)."""
        return Cached(Prior(torch.cat([self.prior.log_mean, other.prior.log_mean]),
                            torch.cat([self.prior.rel_std, other.prior.rel_std])),
                      torch.cat([self.features, other.features]))


@dataclass
class Diagnostics:
    """How well the posterior explains the campaign's measurements (leave-one-out)."""

    n: int
    loo_mae: float | None  # mS/cm
    loo_bias: float | None  # mean of LOO prediction − measured, mS/cm
    coverage_2sigma: float | None  # share of measurements inside the LOO ±2σ
    prior_mae: float | None  # the ensemble's own MAE on the same points
    hyper: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, object] = field(default_factory=dict)  # Evidence.as_dict(): DiffMix against the lab
    free_hyper: dict[str, float] = field(default_factory=dict)  # the prior-free GP's hyperparameters

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON."""
        return {"n": self.n, "loo_mae": self.loo_mae, "loo_bias": self.loo_bias,
                "coverage_2sigma": self.coverage_2sigma, "prior_mae": self.prior_mae, "hyper": self.hyper,
                "evidence": self.evidence, "free_hyper": self.free_hyper}


def _matern52(d: torch.Tensor) -> torch.Tensor:
    s5 = math.sqrt(5.0) * d
    return (1.0 + s5 + s5 * s5 / 3.0) * torch.exp(-s5)


def _cholesky(K: torch.Tensor) -> torch.Tensor:
    """The Cholesky factor of a Gram matrix, with jitter added (relative to its mean variance, growing tenfold up to
    1e-4) where rounding leaves it not quite positive definite: near-duplicate points (a refined incumbent) with a
    small noise do that, and a hyperparameter search must not fall back to the prior for it."""
    L: torch.Tensor
    L, info = torch.linalg.cholesky_ex(K)
    scale = torch.diagonal(K).mean().detach()
    jitter = 1e-8
    while int(info) != 0 and jitter <= 1e-4:
        L, info = torch.linalg.cholesky_ex(K + jitter * scale * torch.eye(len(K), dtype=K.dtype))
        jitter *= 10
    if int(info) != 0:
        raise torch.linalg.LinAlgError("the posterior's Gram matrix is not positive definite")  # type: ignore[attr-defined]
    return L


def log_normal_sd(rel: torch.Tensor) -> torch.Tensor:
    """The std of ln κ of a log-normal whose relative std is ``rel``: √ln(1 + rel²), which is rel where DiffMix is
    sure but grows only like √(2 ln rel) where it is not, so a correction learned where DiffMix is sure is not
    multiplied by the ratio of two spreads (20 where the members disagree wildly) where it is not. Written as
    rel · √(ln(1 + x)/x), x = rel², so that its derivative stays finite (1) where the members agree exactly."""
    x = rel * rel
    ratio = torch.where(x > 1e-8, torch.log1p(x) / x.clamp_min(1e-8), 1.0 - 0.5 * x)
    return rel * torch.sqrt(ratio)


def _distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    diff2 = (a[:, None, :] - b[None, :, :]).pow(2).sum(-1)
    return torch.sqrt(diff2 + 1e-12)  # the jitter keeps ∂d/∂u finite where u = u'


class ResidualGP:
    """DiffMix prior × residual GP for one campaign's composition space (see the module docstring)."""

    HYPER_PRIOR: Hyper = PRIOR  # the hyperparameters' prior medians ...
    HYPER_LOG_SD: dict[str, float] = PRIOR_LOG_SD  # ... and their log-normal spreads

    def __init__(self, objective: Objective, observations: list[Observation] | None = None,
                 hyper: Hyper | None = None, fit: bool = True):
        self.objective = objective
        self.space = objective.space
        self.observations = list(observations or [])
        self.hyper = hyper or self.HYPER_PRIOR
        self._fantasies = 0  # the last `_fantasies` rows of the training set are pending points, not measurements
        self.pending_z: list[np.ndarray] = []  # the pending points themselves
        lo, hi = self.space.salt_range
        self._f_lo, self._f_span = lo, (hi - lo) if hi > lo else 1.0
        self._T0 = float(np.mean(objective.temperatures_K))
        self._set_data()
        if fit and len(self.observations) >= 3:
            self.fit()
        self._factorise()

    # ------------------------------------------------------------------ features and prior
    def features(self, z: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """u = (shares / ℓ_c, scaled cation fraction / ℓ_c, (T − T0) / T_SCALE_K / ℓ_T): the kernel's inputs
        before length scales are applied (they are applied in ``_kernel``)."""
        n = len(self.space.solvents)
        f = (z[:, n:n + 1] - self._f_lo) / self._f_span
        t = ((T - self._T0) / T_SCALE_K).reshape(-1, 1)
        return torch.cat([z[:, :n], f, t.to(z.dtype)], dim=1)

    def prior(self, z: torch.Tensor, T: torch.Tensor) -> Prior:
        """The ensemble at points z [S, dim], each at its own temperature T [S] (differentiable in z)."""
        members = self.objective.members_at(z, T)  # [K, S]
        mean = members.mean(0).double().clamp_min(1e-6)
        std = members.std(0).double() if members.shape[0] > 1 else torch.zeros_like(mean)
        return Prior(torch.log(mean), log_normal_sd(std * self.objective.std_scale / mean))

    def _set_data(self) -> None:
        obs = self.observations
        if obs:
            z = torch.as_tensor(np.array([o.z for o in obs]), dtype=torch.float64)
            T = torch.as_tensor([o.temperature_K for o in obs], dtype=torch.float64)
            with torch.no_grad():
                pr = self.prior(z, T)
            self._U = self.features(z, T)
            self._a = pr.rel_std
            self._log_mu = pr.log_mean
            self._y = torch.log(torch.as_tensor([o.measured for o in obs], dtype=torch.float64)) - pr.log_mean
        else:
            self._U = torch.zeros((0, self.space.dim + 1), dtype=torch.float64)
            self._a = self._log_mu = self._y = torch.zeros(0, dtype=torch.float64)

    # ------------------------------------------------------------------ the GP
    def _kernel(self, h: dict[str, torch.Tensor], U1: torch.Tensor, a1: torch.Tensor, U2: torch.Tensor,
                a2: torch.Tensor) -> torch.Tensor:
        one = torch.ones(U1.shape[1] - 2, dtype=U1.dtype)
        scale = torch.cat([one / h["length_composition"], (1.0 / h["length_salt"]).reshape(1),
                           (1.0 / h["length_temperature"]).reshape(1)])
        d = _distance(U1 * scale, U2 * scale)
        amplitude = h["signal"] ** 2 * a1[:, None] * a2[None, :] + h["floor"] ** 2
        s1, s2 = self._salt_centred(U1), self._salt_centred(U2)
        return amplitude * _matern52(d) + h["offset"] ** 2 + h["salt_trend"] ** 2 * s1[:, None] * s2[None, :]

    def _salt_centred(self, U: torch.Tensor) -> torch.Tensor:
        """The salt variable in units of its range, centred on the range's middle (0 where the salt is fixed)."""
        if not self.space.salt_free:
            return torch.zeros(len(U), dtype=U.dtype)
        return U[:, -2] - 0.5

    def _gram(self, h: dict[str, torch.Tensor]) -> torch.Tensor:
        n = len(self._y)
        noise = torch.full((n,), 1.0, dtype=torch.float64) * h["noise"] ** 2
        if self._fantasies:
            noise[n - self._fantasies:] = FANTASY_VAR  # a fantasy is the mean itself, without measurement noise
        return self._kernel(h, self._U, self._a, self._U, self._a) + torch.diag(noise + MIN_VAR)

    def _tensors(self, hyper: Hyper) -> dict[str, torch.Tensor]:
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in hyper.as_dict().items()}

    def fit(self, steps: int = 60) -> Hyper:
        """MAP hyperparameters for the current measurements (fantasies excluded); returns and keeps them."""
        if self._fantasies:
            raise RuntimeError("fit the posterior before adding pending points")
        names = list(PRIOR.as_dict())
        start = torch.tensor([math.log(max(getattr(self.hyper, k), FLOOR[k] * 1.01) - FLOOR[k]) for k in names],
                             dtype=torch.float64)
        raw = start.clone().requires_grad_(True)
        prior_mu = torch.tensor([math.log(getattr(self.HYPER_PRIOR, k)) for k in names], dtype=torch.float64)
        prior_sd = torch.tensor([self.HYPER_LOG_SD[k] for k in names], dtype=torch.float64)
        floor = torch.tensor([FLOOR[k] for k in names], dtype=torch.float64)
        opt = torch.optim.LBFGS([raw], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")
        y = self._y

        def loss() -> torch.Tensor:
            opt.zero_grad()
            vals = torch.exp(raw) + floor
            h = dict(zip(names, vals))
            K = self._gram(h)
            L = _cholesky(K)
            alpha = torch.cholesky_solve(y[:, None], L)[:, 0]
            nll = 0.5 * (y @ alpha) + torch.log(torch.diagonal(L)).sum()
            nlp = 0.5 * (((torch.log(vals) - prior_mu) / prior_sd) ** 2).sum()
            total = nll + nlp
            total.backward()  # type: ignore[no-untyped-call]
            return total

        try:
            opt.step(loss)  # type: ignore[no-untyped-call]
            vals = (torch.exp(raw) + floor).detach()
            if not torch.isfinite(vals).all():
                raise FloatingPointError
            self.hyper = Hyper(**{k: float(v) for k, v in zip(names, vals)})
        except (torch.linalg.LinAlgError, FloatingPointError) as e:  # type: ignore[attr-defined]
            # keep the prior's hyperparameters, and say so: a campaign then learns less from its measurements
            log.warning("the posterior's hyperparameter fit failed on %d measurements (%s); it keeps the prior's "
                        "hyperparameters", len(self._y), type(e).__name__)
            self.hyper = self.HYPER_PRIOR
        self._factorise()
        return self.hyper

    def _factorise(self) -> None:
        h = self._tensors(self.hyper)
        self._h = h
        if len(self._y):
            K = self._gram(h)
            self._L = _cholesky(K)
            self._alpha = torch.cholesky_solve(self._y[:, None], self._L)[:, 0]
        else:
            self._L = self._alpha = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ prediction
    def correction(self, U: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The GP's mean and variance of g (in ln κ) at features U [S, d] with prior spreads a [S]."""
        h = self._h
        prior_var = h["signal"] ** 2 * a * a + h["floor"] ** 2 + h["offset"] ** 2 \
            + h["salt_trend"] ** 2 * self._salt_centred(U) ** 2
        if self._L is None:
            return torch.zeros_like(a), prior_var
        ks = self._kernel(h, U, a, self._U, self._a)  # [S, n]
        mean = ks @ self._alpha
        v = torch.cholesky_solve(ks.T, self._L)  # [n, S]
        var = (prior_var - (ks * v.T).sum(1)).clamp_min(MIN_VAR)
        return mean, var

    def at(self, z: np.ndarray, T: np.ndarray) -> Cached:
        """The prior and features at fixed points, computed once; the campaign posterior's ``predict_cached`` then
        costs only the GP."""
        zt, Tt = torch.as_tensor(np.asarray(z, dtype=float)), torch.as_tensor(np.asarray(T, dtype=float))
        with torch.no_grad():
            return Cached(self.prior(zt, Tt), self.features(zt, Tt))

    # ------------------------------------------------------------------ pending points and diagnostics
    def with_pending(self, z: np.ndarray, T: np.ndarray | float, log_kappa: torch.Tensor | None = None) -> Self:
        """A copy that also knows the pending points, observed without noise at its own mean there or at
        ``log_kappa`` [S] (ln κ; the averaged posterior's mean, so that both of its models agree on them)."""
        z2 = np.atleast_2d(np.asarray(z, dtype=float))
        if len(z2) == 0:
            return self
        T_arr = np.broadcast_to(np.asarray(T, dtype=float), (len(z2),)).copy()
        zt, Tt = torch.as_tensor(z2), torch.as_tensor(T_arr)
        with torch.no_grad():
            pr = self.prior(zt, Tt)
            U = self.features(zt, Tt)
            g = self.correction(U, pr.rel_std)[0] if log_kappa is None else log_kappa - pr.log_mean
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._U = torch.cat([self._U, U])
        new._a = torch.cat([self._a, pr.rel_std])
        new._log_mu = torch.cat([self._log_mu, pr.log_mean])
        new._y = torch.cat([self._y, g])
        new._fantasies = self._fantasies + len(z2)
        new.pending_z = self.pending_z + list(z2)
        new._factorise()
        return new

    def loo(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Leave-one-out predictions of the measurements' ln κ and their std (closed form, noise included), or None
        without two measurements (or with pending points)."""
        n = len(self.observations)
        if n < 2 or self._fantasies or len(self._y) != n:
            return None
        d = torch.diagonal(torch.cholesky_inverse(self._L))
        g_loo = (self._y - self._alpha / d).numpy()
        return self._log_mu.numpy() + g_loo, torch.sqrt(1.0 / d).numpy()

    def diagnostics(self) -> Diagnostics:
        """Leave-one-out residuals and ±2σ coverage of the measurements (closed form), and the prior's MAE."""
        n = len(self.observations)
        if n == 0 or self._fantasies or len(self._y) != n:  # pending points, or a posterior without the GP on them
            return Diagnostics(n, None, None, None, None, self.hyper.as_dict())
        measured = np.array([o.measured for o in self.observations])
        prior_mae = float(np.mean(np.abs(torch.exp(self._log_mu).numpy() - measured)))
        loo = self.loo()
        if loo is None:
            return Diagnostics(n, None, None, None, prior_mae, self.hyper.as_dict())
        return _loo_diagnostics(measured, *loo, prior_mae, self.hyper.as_dict())


def _loo_diagnostics(measured: np.ndarray, log_pred: np.ndarray, sd: np.ndarray, prior_mae: float | None,
                     hyper: dict[str, float]) -> Diagnostics:
    pred = np.exp(log_pred)
    inside = np.abs(np.log(measured) - log_pred) <= 2 * sd
    return Diagnostics(len(measured), float(np.mean(np.abs(pred - measured))), float(np.mean(pred - measured)),
                       float(np.mean(inside)), prior_mae, hyper)


FREE_PRIOR = Hyper(signal=1.0, floor=0.3, offset=0.1)  # ρ: the variation of ln κ over the space, 30 % a priori
FREE_LOG_SD = PRIOR_LOG_SD | {"floor": 1.0}


class PriorFreeGP(ResidualGP):
    """The same GP on ln κ with DiffMix left out: a constant mean (the measurements' mean ln κ) in place of the
    ensemble, no ensemble spread, and a stationary amplitude ρ of its own (prior median 30 %). It is what a plain
    Bayesian optimiser knows, and the reference the lab's evidence is weighed against (``Posterior``)."""

    HYPER_PRIOR = FREE_PRIOR
    HYPER_LOG_SD = FREE_LOG_SD

    def __init__(self, objective: Objective, observations: list[Observation] | None = None,
                 hyper: Hyper | None = None, fit: bool = True):
        obs = list(observations or [])
        self.level = float(np.mean([math.log(o.measured) for o in obs])) if obs else 0.0
        super().__init__(objective, obs, hyper, fit)

    def prior(self, z: torch.Tensor, T: torch.Tensor) -> Prior:
        """A flat prior: the measurements' mean ln κ everywhere, no spread (the GP's own amplitude ρ is the prior's
        uncertainty)."""
        zeros = (z[:, 0] * 0.0).double()  # keeps the graph (and dtype) of z
        return Prior(zeros + self.level, zeros)


@dataclass(frozen=True)
class Evidence:
    """How the lab's measurements weigh DiffMix against a prior-free GP.

    ``prior_weight`` is the share of the campaign's prediction given to the DiffMix posterior, by the two models'
    leave-one-out predictive densities of the measurements (pseudo Bayesian model averaging, Yao et al., Bayesian
    Analysis 2018): w = 1 / (1 + exp(Σ lpd_free − Σ lpd_DiffMix)). ``conflict`` is the root mean square of DiffMix's
    standardised residuals at the measurements, (ln κ_measured − ln μ) / √(a² + ρ₀² + τ₀² + σ_n₀²) with the prior's
    ρ₀, τ₀, σ_n₀: about 1 where DiffMix's calibrated spread covers the lab, ≫ 1 where it is confidently wrong."""

    n: int
    prior_weight: float
    lpd_diffmix: float | None = None  # mean leave-one-out log predictive density per measurement (nats)
    lpd_prior_free: float | None = None
    conflict: float | None = None

    @property
    def disagrees(self) -> bool:
        """The measurements favour the prior-free model: proposals rely on them rather than on DiffMix."""
        return self.prior_weight < 0.5

    @property
    def summary(self) -> str:
        """One sentence for people (the campaign page, ``diffmix campaign show``)."""
        if self.n < MIN_EVIDENCE:
            return f"too few measurements ({self.n}) to weigh DiffMix against the lab; proposals follow DiffMix's prior"
        if self.conflict is None:
            return "this posterior is DiffMix's alone (no prior-free model to weigh it against)"
        stat = (f"DiffMix's weight {self.prior_weight:.2f}, standardised residual {self.conflict:.1f} "
                f"over {self.n} measurements")
        if self.disagrees:
            return f"the lab disagrees with DiffMix here; proposals now rely on the measurements ({stat})"
        return f"the lab agrees with DiffMix so far ({stat})"

    def as_dict(self) -> dict[str, object]:
        """Plain values for JSON."""
        return {"n": self.n, "prior_weight": self.prior_weight, "lpd_diffmix": self.lpd_diffmix,
                "lpd_prior_free": self.lpd_prior_free, "conflict": self.conflict, "disagrees": self.disagrees,
                "summary": self.summary}


MIN_EVIDENCE = 3  # measurements before the two models are weighed (the hyperparameters are fitted from 3 on)


def weigh(physics: ResidualGP, free: ResidualGP) -> Evidence:
    """The evidence of the measurements both GPs hold (see ``Evidence``)."""
    n = len(physics.observations)
    if n < MIN_EVIDENCE:
        return Evidence(n, 1.0)
    lp, lf = physics.loo(), free.loo()
    assert lp is not None and lf is not None
    y = np.log([o.measured for o in physics.observations])

    def lpd(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
        out: np.ndarray = -0.5 * ((y - mean) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)
        return out

    s_phys, s_free = float(lpd(*lp).sum()), float(lpd(*lf).sum())
    weight = 1.0 / (1.0 + math.exp(min(max(s_free - s_phys, -700.0), 700.0)))
    base = PRIOR
    spread = physics._a.numpy()
    z = (y - physics._log_mu.numpy()) / np.sqrt(spread ** 2 + base.floor ** 2 + base.offset ** 2 + base.noise ** 2)
    return Evidence(n, weight, s_phys / n, s_free / n, float(np.sqrt(np.mean(z ** 2))))


@dataclass
class CachedPair:
    """``Posterior.at``: the fixed points' prior and features for both GPs."""

    physics: Cached
    free: Cached

    def join(self, other: CachedPair) -> CachedPair:
        """These points followed by the other's."""
        return CachedPair(self.physics.join(other.physics), self.free.join(other.free))


def _mixture(w: float, m1: torch.Tensor, v1: torch.Tensor, m2: torch.Tensor, v2: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the mixture w·N(m1, v1) + (1 − w)·N(m2, v2)."""
    mean = w * m1 + (1.0 - w) * m2
    return mean, w * v1 + (1.0 - w) * v2 + w * (1.0 - w) * (m1 - m2) ** 2


class Posterior:
    """A campaign's posterior: the DiffMix posterior (``ResidualGP``) and a prior-free GP on the same measurements,
    averaged in ln κ with the weight the measurements give each (``Evidence``). With no or few measurements it is
    DiffMix's; where the lab contradicts DiffMix the prior-free GP takes over, anywhere in the space, so a prior that
    is confidently wrong cannot hold a campaign (benchmarks/RESULTS.md, the loop benchmark). ``prior_free=False``
    keeps DiffMix's posterior alone (the fine-tuned design)."""

    def __init__(self, objective: Objective, observations: list[Observation] | None = None,
                 hyper: Hyper | None = None, fit: bool = True, free_hyper: Hyper | None = None,
                 prior_free: bool = True):
        self.objective = objective
        self.space = objective.space
        self.physics = ResidualGP(objective, observations, hyper, fit)
        self.free: ResidualGP | None = PriorFreeGP(objective, observations, free_hyper, fit) if prior_free else None
        self.evidence = weigh(self.physics, self.free) if self.free is not None else Evidence(
            len(self.physics.observations), 1.0)
        self.weight = self.evidence.prior_weight

    # the DiffMix posterior's state, as callers have always read it
    @property
    def observations(self) -> list[Observation]:
        """The measurements."""
        return self.physics.observations

    @observations.setter
    def observations(self, value: list[Observation]) -> None:
        self.physics.observations = list(value)

    @property
    def hyper(self) -> Hyper:
        """The DiffMix posterior's hyperparameters."""
        return self.physics.hyper

    @property
    def free_hyper(self) -> Hyper | None:
        """The prior-free GP's hyperparameters (None without it)."""
        return self.free.hyper if self.free is not None else None

    @property
    def pending_z(self) -> list[np.ndarray]:
        """The pending points (queued or leased experiments, and a batch's points chosen so far)."""
        return self.physics.pending_z

    @property
    def noise(self) -> float:
        """The measurements' relative noise, as the two models weigh it."""
        free = self.free.hyper.noise if self.free is not None else 0.0
        return self.weight * self.physics.hyper.noise + (1.0 - self.weight) * free

    def _uses_free(self) -> bool:
        return self.free is not None and self.weight < 1.0 - 1e-9

    def prior(self, z: torch.Tensor, T: torch.Tensor) -> Prior:
        """DiffMix's prior at the points (see ``ResidualGP.prior``)."""
        return self.physics.prior(z, T)

    def predict(self, z: torch.Tensor, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior κ (median of the log-normal) and its std at points z [S, dim], each at its own temperature
        T [S]; differentiable in z. The two models are mixed in ln κ."""
        z = z.double()
        T = torch.as_tensor(T, dtype=torch.float64)
        m, v = self._log_moments(self.physics, z, T)
        if self._uses_free():
            assert self.free is not None
            m, v = _mixture(self.weight, m, v, *self._log_moments(self.free, z, T))
        kappa = torch.exp(m)
        return kappa, kappa * torch.sqrt(v)

    @staticmethod
    def _log_moments(gp: ResidualGP, z: torch.Tensor, T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pr = gp.prior(z, T)
        g, var = gp.correction(gp.features(z, T), pr.rel_std)
        return pr.log_mean + g, var

    def at(self, z: np.ndarray, T: np.ndarray) -> CachedPair:
        """The priors and features at fixed points, computed once; ``predict_cached`` then costs only the GPs."""
        physics = self.physics.at(z, T)
        free = self.free.at(z, T) if self.free is not None else physics
        return CachedPair(physics, free)

    def predict_cached(self, cached: CachedPair) -> tuple[np.ndarray, np.ndarray]:
        """``predict`` at the points of ``at`` (no gradients)."""
        with torch.no_grad():
            g, v = self.physics.correction(cached.physics.features, cached.physics.prior.rel_std)
            m = cached.physics.prior.log_mean + g
            if self._uses_free():
                assert self.free is not None
                gf, vf = self.free.correction(cached.free.features, cached.free.prior.rel_std)
                m, v = _mixture(self.weight, m, v, cached.free.prior.log_mean + gf, vf)
            kappa = torch.exp(m)
            return kappa.numpy(), (kappa * torch.sqrt(v)).numpy()

    def measurement_std(self, kappa: np.ndarray, std: np.ndarray) -> np.ndarray:
        """The std of a measurement at points whose posterior κ and std are given: the latent std and the
        instrument's noise (σ_n, relative) together. ``predict`` gives the latent one (what the acquisition
        weighs); this one is what a proposal's ±2σ should cover when the robot measures it."""
        out: np.ndarray = np.sqrt(np.square(std) + np.square(np.asarray(kappa) * self.noise))
        return out

    def predict_numpy(self, z: np.ndarray, T: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """``predict`` on plain arrays, without gradients."""
        z2 = np.atleast_2d(np.asarray(z, dtype=float))
        T_arr = np.broadcast_to(np.asarray(T, dtype=float), (len(z2),))
        with torch.no_grad():
            m, s = self.predict(torch.as_tensor(z2), torch.as_tensor(T_arr.copy()))
        return m.numpy(), s.numpy()

    def with_pending(self, z: np.ndarray, T: np.ndarray | float) -> Posterior:
        """A copy whose models also know the pending points, both observing them at the averaged mean there (the
        "kriging believer": the mean stays, the variance a measurement will remove goes, the models' disagreement
        there included); the weight stays the measurements'."""
        z2 = np.atleast_2d(np.asarray(z, dtype=float))
        if len(z2) == 0:
            return self
        T_arr = np.broadcast_to(np.asarray(T, dtype=float), (len(z2),)).copy()
        kappa, _ = self.predict_numpy(z2, T_arr)
        target = torch.log(torch.as_tensor(kappa, dtype=torch.float64))
        new = object.__new__(Posterior)
        new.__dict__.update(self.__dict__)
        new.physics = self.physics.with_pending(z2, T_arr, target)
        new.free = self.free.with_pending(z2, T_arr, target) if self.free is not None else None
        return new

    def prior_free_only(self) -> Posterior:
        """The same posterior with all the weight on the prior-free GP (the acquisition's prior-free share); itself
        without one."""
        if self.free is None:
            return self
        new = object.__new__(Posterior)
        new.__dict__.update(self.__dict__)
        new.weight = 0.0
        return new

    def fit(self) -> Hyper:
        """Refit both models' hyperparameters on the measurements; returns DiffMix's."""
        if self.free is not None:
            self.free.fit()
        hyper = self.physics.fit()
        if self.free is not None:
            self.evidence = weigh(self.physics, self.free)
            self.weight = self.evidence.prior_weight
        return hyper

    def diagnostics(self) -> Diagnostics:
        """Leave-one-out residuals and ±2σ coverage of the averaged model (closed form, each model's own LOO
        mixed with the weight), the prior's MAE, and the evidence."""
        d = self.physics.diagnostics()
        loo_p = self.physics.loo()
        if self._uses_free() and loo_p is not None:
            assert self.free is not None
            loo_f = self.free.loo()
            assert loo_f is not None
            m, v = _mixture(self.weight, *(torch.as_tensor(a) for a in (loo_p[0], loo_p[1] ** 2, loo_f[0], loo_f[1] ** 2)))
            measured = np.array([o.measured for o in self.observations])
            d = _loo_diagnostics(measured, m.numpy(), np.sqrt(v.numpy()), d.prior_mae, d.hyper)
        d.evidence = self.evidence.as_dict()
        if self.free is not None:
            d.free_hyper = self.free.hyper.as_dict()
        return d
