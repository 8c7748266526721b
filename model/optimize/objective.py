"""Objectives over a composition space: a property at one temperature, or its worst case / mean over a
temperature range; maximise or minimise; optional uncertainty bonus (mean + β·std over the ensemble)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import torch

from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.mixture import check_temperature
from model.optimize.space import CompositionSpace
from model.properties import check_temperature_for

if TYPE_CHECKING:
    from model.optimize.posterior import Posterior

AGGREGATES = ("single", "worst", "mean")


@dataclass
class Objective:
    ensemble: Ensemble
    space: CompositionSpace
    temperatures_K: tuple[float, ...]
    aggregate: str = "single"  # "single" | "worst" | "mean"
    maximize: bool = True
    beta: float = 0.0  # uncertainty bonus: value = mean + β·std (in the direction of improvement)
    pressure_kPa: float = 101.325
    posterior: Posterior | None = None  # a campaign's learned correction on top of the ensemble (None: the prior)

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise DiffMixInputError(f"aggregate {self.aggregate!r} is not one of {', '.join(AGGREGATES)}")
        self.temperatures_K = tuple(check_temperature_for(self.ensemble.property, check_temperature(t))
                                    for t in self.temperatures_K)
        if not self.temperatures_K:
            raise DiffMixInputError("give at least one temperature")
        self.calls = 0  # mixtures evaluated by the model (each temperature counts)
        species = self.space.species
        self._vocab = species
        self._T = np.asarray(self.temperatures_K)

    @staticmethod
    def temperature_grid(t_lo: float, t_hi: float, step: float = 10.0) -> tuple[float, ...]:
        """Temperatures from t_lo to t_hi (inclusive), about ``step`` K apart."""
        if t_hi < t_lo:
            raise DiffMixInputError(f"temperature range [{t_lo}, {t_hi}] is empty")
        n = max(2, int(round((t_hi - t_lo) / step)) + 1)
        return tuple(np.linspace(t_lo, t_hi, n))

    @property
    def std_scale(self) -> float:
        """The factor that calibrates the members' spread into a std (see Ensemble.std_scale)."""
        return self.ensemble.std_scale

    def members_at(self, z: torch.Tensor, T: torch.Tensor | np.ndarray) -> torch.Tensor:
        """[K, S] predictions of every member at points z [S, dim], each at its own temperature T [S]."""
        x = self.space.species_fractions(z)  # [S, C]
        S, C = x.shape
        idx = np.tile(np.arange(C), (S, 1))
        T_np = T.detach().numpy() if isinstance(T, torch.Tensor) else np.asarray(T, dtype=float)
        self.calls += S
        return self.ensemble.member_values(self._vocab, idx, x.to(self.ensemble.dtype), T_np,
                                           np.full(S, self.pressure_kPa))

    def _members(self, z: torch.Tensor) -> torch.Tensor:
        """[K, S, nT] predictions of every member at every point and temperature."""
        S, nT = z.shape[0], len(self._T)
        vals = self.members_at(z.repeat_interleave(nT, dim=0), np.tile(self._T, S))  # [K, S*nT]
        return vals.reshape(vals.shape[0], S, nT)

    def _aggregate(self, per_t: torch.Tensor) -> torch.Tensor:
        if self.aggregate == "single" or per_t.shape[-1] == 1:
            return per_t[..., 0] if per_t.shape[-1] == 1 else per_t.mean(-1)
        if self.aggregate == "mean":
            return per_t.mean(-1)
        # worst case: the minimum when maximising, the maximum when minimising
        return per_t.min(-1).values if self.maximize else per_t.max(-1).values

    @overload
    def evaluate(self, z: np.ndarray, gradient: Literal[True] = ...) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        ...

    @overload
    def evaluate(self, z: np.ndarray, gradient: Literal[False]) -> tuple[np.ndarray, np.ndarray, np.ndarray, None]:
        ...

    def evaluate(self, z: np.ndarray, gradient: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Returns (score [S] to be maximised, value [S], std [S], ∂score/∂z [S, dim] or None).

        Without a posterior the value is the ensemble mean and the std its calibrated spread; with one
        (``self.posterior``, a campaign's learned correction) both come from the posterior."""
        zt = torch.as_tensor(np.atleast_2d(z), dtype=self.ensemble.dtype).clone().requires_grad_(gradient)
        with torch.set_grad_enabled(gradient):
            if self.posterior is None:
                members = self._aggregate(self._members(zt))  # [K, S]
                mean = members.mean(0)
                std = members.std(0) * self.std_scale if members.shape[0] > 1 else torch.zeros_like(mean)
            else:
                mean, std = self._posterior_values(zt)
            sign = 1.0 if self.maximize else -1.0
            score = sign * mean + self.beta * std
            grad = torch.autograd.grad(score.sum(), zt)[0].double().numpy() if gradient else None
        return score.detach().double().numpy(), mean.detach().double().numpy(), std.detach().double().numpy(), grad

    def _posterior_values(self, zt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and std [S], aggregated over the temperatures (the std is the one at the temperature
        the aggregate picks, or the mean std for the mean)."""
        assert self.posterior is not None
        S, nT = zt.shape[0], len(self._T)
        mean, std = self.posterior.predict(zt.repeat_interleave(nT, dim=0).double(), torch.as_tensor(np.tile(self._T, S)))
        mean, std = mean.reshape(S, nT), std.reshape(S, nT)
        if nT == 1:
            return mean[:, 0], std[:, 0]
        if self.aggregate in ("single", "mean"):
            return mean.mean(-1), std.mean(-1)
        pick = (mean.argmin(-1) if self.maximize else mean.argmax(-1))[:, None]
        return mean.gather(1, pick)[:, 0], std.gather(1, pick)[:, 0]
