"""Composition spaces for electrolyte design: a salt in a blend of solvents.

The decision variables are z = (s, c): s the solvent blend's shares on the (bounded) simplex and c the amount of
salt. Each of them is either free or fixed, and each is written in the lab's units:
- ``solvent_basis`` "mole" (the paper's: mole shares of the solvent blend) or "mass" (weight fractions of the
  blend, as a lab weighs it); bounds and a fixed ratio are in the same basis;
- ``salt_basis`` "fraction" (the salt's cation mole fraction with ions counted separately, the paper's
  "lithium-ion mole fraction") or "molality" (mol of salt per kg of solvent blend).
A point maps to species mole fractions (differentiably, so gradients are with respect to the lab's units): the
solvents' mole shares x_i ∝ w_i/M_i, the cation fraction f from the molality and the blend's mean molar mass,
each ion j of the salt gets f·n_j/n_cation, and the solvents share the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from model.chem import canonical, formal_charge, salt_formula, species
from model.contract import Recipe
from model.errors import DiffMixInputError
from model.optimize.simplex import check_bounds, project

SolventBasis = Literal["mole", "mass"]
SaltBasis = Literal["fraction", "molality"]
SOLVENT_BASES: tuple[str, ...] = ("mole", "mass")
SALT_BASES: tuple[str, ...] = ("fraction", "molality")
MAX_MOLALITY = 20.0  # mol/kg: beyond any electrolyte a lab makes (water-in-salt LiTFSI is 21 m; no data there)


@dataclass
class CompositionSpace:
    salt: str  # the salt as the user wrote it (its SMILES keys the cation fraction in outputs)
    solvents: list[str]
    salt_range: tuple[float, float]  # (lo, hi) of the salt's coordinate in ``salt_basis``; lo == hi → fixed
    solvent_lower: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None → 0 (set in __post_init__)
    solvent_upper: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None → 1
    solvent_ratio: np.ndarray | None = None  # fixed solvent ratio in ``solvent_basis`` (None → the solvents are free)
    solvent_basis: SolventBasis = "mole"
    salt_basis: SaltBasis = "fraction"

    def __post_init__(self) -> None:
        if len(self.solvents) < 1:
            raise DiffMixInputError("give at least one solvent")
        canon = [canonical(s) for s in self.solvents]
        if len(set(canon)) != len(canon):
            i = next(i for i in range(len(canon)) if canon[i] in canon[:i])
            first = self.solvents[canon.index(canon[i])]
            same = "" if first == self.solvents[i] else f" (the same molecule as {first!r})"
            raise DiffMixInputError(f"solvent {self.solvents[i]!r} is listed twice{same}")
        for s in self.solvents:
            if formal_charge(s) != 0 or species(s).is_salt:
                raise DiffMixInputError(f"solvent {s!r} is charged or a salt; give salts with --salt")
        if not species(self.salt).is_salt:
            raise DiffMixInputError(f"--salt {self.salt!r} is not a salt: write it with its ions, e.g. '[Li+].F[P-](F)(F)(F)(F)F'")
        self.formula = salt_formula(self.salt)
        self.ions = list(self.formula.ions)
        self.cation = self.formula.cation
        self.ion_per_cation = np.array(self.formula.ions_per_cation)
        self.solvent_keys = canon
        if self.solvent_basis not in SOLVENT_BASES:
            raise DiffMixInputError(f"solvent basis {self.solvent_basis!r} is not one of {', '.join(SOLVENT_BASES)}")
        if self.salt_basis not in SALT_BASES:
            raise DiffMixInputError(f"salt basis {self.salt_basis!r} is not one of {', '.join(SALT_BASES)}")
        self.solvent_molar_mass = np.array([species(s).molar_mass for s in self.solvents])  # g/mol
        n = len(self.solvents)
        self.solvent_lower = np.zeros(n) if self.solvent_lower is None else np.asarray(self.solvent_lower, float)
        self.solvent_upper = np.ones(n) if self.solvent_upper is None else np.asarray(self.solvent_upper, float)
        check_bounds(self.solvent_lower, self.solvent_upper, 1.0, self.solvents, f"{self.solvent_basis} fraction of the solvent blend")
        lo, hi = self.salt_range
        if self.salt_basis == "molality":
            if not (0 < lo <= hi <= MAX_MOLALITY):
                raise DiffMixInputError(
                    f"salt molality range [{lo}, {hi}] mol/kg must satisfy 0 < LO ≤ HI ≤ {MAX_MOLALITY:g} mol/kg")
        else:
            ion_total = float(self.ion_per_cation.sum())
            if not (0 < lo <= hi) or hi * ion_total >= 1:
                raise DiffMixInputError(
                    f"salt fraction range [{lo}, {hi}] must be positive and leave room for solvent "
                    f"(all ions together must stay below 1; here at most {1 / ion_total:.3f} for the cation)")
        if self.solvent_ratio is not None:
            r = np.asarray(self.solvent_ratio, float)
            if r.shape != (n,) or np.any(r < 0) or r.sum() <= 0:
                raise DiffMixInputError(f"a fixed solvent ratio (by {self.solvent_basis}) needs one non-negative number per solvent")
            self.solvent_ratio = r / r.sum()
        if self.n_free < 1:
            raise DiffMixInputError("nothing to optimise: both the solvent ratio and the salt fraction are fixed")
        if self.solvents_free:
            free = int(np.sum(self.solvent_upper > self.solvent_lower))
            if free < 2:
                raise DiffMixInputError(
                    f"only {free} solvent can vary within its bounds: at least two free components are needed")

    # ------------------------------------------------------------------ shape of the space
    @property
    def solvents_free(self) -> bool:
        """Whether the solvent ratio is a decision variable."""
        return self.solvent_ratio is None

    @property
    def salt_free(self) -> bool:
        """Whether the amount of salt is a decision variable."""
        return self.salt_range[1] > self.salt_range[0]

    @property
    def salt_variable(self) -> str:
        """The name of the salt's coordinate: 'salt_fraction' or 'salt_molality' (keys gradients in outputs)."""
        return "salt_molality" if self.salt_basis == "molality" else "salt_fraction"

    @property
    def salt_unit(self) -> str:
        """The unit of the salt's coordinate, for people."""
        return "mol/kg" if self.salt_basis == "molality" else "cation mole fraction"

    def describe_salt(self, value: float) -> str:
        """The salt's coordinate for a title: 'x(Li⁺) = 0.080' or '1.00 mol/kg'."""
        return f"{value:.2f} mol/kg" if self.salt_basis == "molality" else f"x(cation) = {value:.3f}"

    @property
    def n_free(self) -> int:
        """How many of the two parts (solvent ratio, salt fraction) are free."""
        return int(self.solvents_free) + int(self.salt_free)

    @property
    def dim(self) -> int:
        """Length of a point z: one share per solvent, then the cation fraction."""
        return len(self.solvents) + 1  # z = (s_1..s_n, f); fixed parts simply never move

    @property
    def species(self) -> list[str]:
        """Canonical SMILES of every species (ions separately), sorted: the order of species_fractions."""
        return sorted(set(self.ions) | set(self.solvent_keys))

    # ------------------------------------------------------------------ feasibility
    def project(self, z: np.ndarray) -> np.ndarray:
        """The nearest feasible point to each row of z (fixed parts set, the simplex and bounds enforced)."""
        z = np.array(np.atleast_2d(np.asarray(z, dtype=np.float64)))
        n = len(self.solvents)
        if self.solvents_free:
            z[:, :n] = project(z[:, :n], self.solvent_lower, self.solvent_upper)
        else:
            z[:, :n] = self.solvent_ratio
        z[:, n] = np.clip(z[:, n], *self.salt_range)
        return z

    def is_feasible(self, z: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """Whether each row of z lies in the space (within ``tol``)."""
        z = np.atleast_2d(z)
        n = len(self.solvents)
        s, f = z[:, :n], z[:, n]
        ok = (np.abs(s.sum(1) - 1) <= tol) & np.all(s >= self.solvent_lower - tol, 1) & np.all(s <= self.solvent_upper + tol, 1)
        feasible: np.ndarray = ok & (f >= self.salt_range[0] - tol) & (f <= self.salt_range[1] + tol)
        return feasible

    def random_points(self, k: int, rng: np.random.Generator, among: Sequence[int] | None = None) -> np.ndarray:
        """k points drawn uniformly over the simplex and the salt range, projected onto the bounds. ``among``: only
        these solvents (by index) may be present, so the points lie on that edge or face of the simplex."""
        n = len(self.solvents)
        idx = list(range(n)) if among is None else list(among)
        z = np.zeros((k, n + 1))
        z[:, idx] = rng.dirichlet(np.ones(len(idx)), size=k)
        z[:, n] = rng.uniform(*self.salt_range, size=k)
        return self.project(z)

    def spread_points(self, k: int) -> np.ndarray:
        """Deterministic starts spread over the space: near the simplex vertices, then its centre."""
        n = len(self.solvents)
        z = np.zeros((k, n + 1))
        for i in range(k):
            if i < n:
                z[i, :n] = 0.1 / max(n - 1, 1)
                z[i, i] = 0.9
            else:
                z[i, :n] = 1.0 / n
            z[i, n] = np.interp((i + 0.5) / k, [0, 1], self.salt_range)
        return self.project(z)

    # ------------------------------------------------------------------ z ↔ mole fractions
    def solvent_mole_shares(self, z: torch.Tensor) -> torch.Tensor:
        """[S, dim] → [S, n] the solvents' mole shares of the blend (differentiable)."""
        s = z[:, : len(self.solvents)]
        if self.solvent_basis == "mole":
            return s
        moles = s / torch.as_tensor(self.solvent_molar_mass, dtype=z.dtype)
        return moles / moles.sum(1, keepdim=True)

    def cation_fraction(self, z: torch.Tensor) -> torch.Tensor:
        """[S, dim] → [S, 1] the salt's cation mole fraction, ions counted separately (differentiable)."""
        c = z[:, len(self.solvents) :][:, :1]
        if self.salt_basis == "fraction":
            return c
        mean_mm = self.solvent_mole_shares(z) @ torch.as_tensor(self.solvent_molar_mass, dtype=z.dtype)
        return self.formula.cation_fraction(c, mean_mm[:, None])

    def species_fractions(self, z: torch.Tensor) -> torch.Tensor:
        """[S, dim] → [S, len(species)] mole fractions in the order of ``self.species`` (differentiable)."""
        x, f = self.solvent_mole_shares(z), self.cation_fraction(z)
        ions = f * torch.as_tensor(self.ion_per_cation, dtype=z.dtype)
        solvent_share = 1.0 - ions.sum(1, keepdim=True)
        cols = {k: ions[:, i] for i, k in enumerate(self.ions)}
        for j, k in enumerate(self.solvent_keys):
            cols[k] = solvent_share[:, 0] * x[:, j]
        return torch.stack([cols[k] for k in self.species], dim=1)

    def _numpy(self, z: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.atleast_2d(np.asarray(z, dtype=np.float64)))

    def species_dict(self, z: np.ndarray) -> dict[str, float]:
        """Species (canonical SMILES, ions separately) → mole fraction at one point."""
        x = self.species_fractions(self._numpy(z))[0].numpy()
        return {k: float(v) for k, v in zip(self.species, x)}

    def mass_fractions(self, z: np.ndarray) -> np.ndarray:
        """[S, n] the solvents' mass fractions of the blend at each point."""
        x = self.solvent_mole_shares(self._numpy(z)).numpy() * self.solvent_molar_mass
        w: np.ndarray = x / x.sum(1, keepdims=True)
        return w

    def to_basis(self, mole_shares: np.ndarray, cation_fraction: float) -> np.ndarray:
        """The point z of the solvents' mole shares and the cation fraction (the inverse of the two maps above)."""
        x = np.asarray(mole_shares, dtype=np.float64)
        x = x / x.sum()
        shares = x if self.solvent_basis == "mole" else x * self.solvent_molar_mass / float(x @ self.solvent_molar_mass)
        c = cation_fraction
        if self.salt_basis == "molality":
            c = float(self.formula.molality(cation_fraction, float(x @ self.solvent_molar_mass)))
        return np.append(shares, c)

    def point_of(self, composition: dict[str, float]) -> np.ndarray:
        """The point z of a species composition (SMILES → mole fraction, ions separately; e.g. what the balance
        says was made), in the space's bases. Species outside the space are an error, not ignored."""
        x = {canonical(k): float(v) for k, v in composition.items()}
        unknown = sorted(set(x) - set(self.species))
        if unknown:
            raise DiffMixInputError(f"composition has species outside this space: {', '.join(unknown)}")
        shares = np.array([x.get(k, 0.0) for k in self.solvent_keys])
        if shares.sum() <= 0:
            raise DiffMixInputError("composition has no solvent")
        return self.to_basis(shares, x.get(self.cation, 0.0))

    def recipe(self, z: np.ndarray) -> Recipe:
        """What a robot needs to make the point: salt, solvents, their mole ratio, the cation fraction and molality.
        The optimiser's coordinates z stay with the service; the robot gets chemistry only."""
        t = self._numpy(np.asarray(z, dtype=np.float64).reshape(-1))
        ratio = self.solvent_mole_shares(t)[0].numpy()
        return Recipe.make(self.salt, list(self.solvents), float(self.cation_fraction(t)[0, 0]),
                           [float(v) for v in ratio], self.report_fractions(z))

    def report_fractions(self, z: np.ndarray) -> dict[str, float]:
        """Fractions keyed for people: the salt's SMILES → its cation's fraction; anions and solvents by SMILES."""
        x = self.species_fractions(self._numpy(z))[0].numpy()
        out = {}
        for k, v in zip(self.species, x):
            if k == self.cation:
                out[self.salt] = float(v)
            elif k in self.solvent_keys:
                out[self.solvents[self.solvent_keys.index(k)]] = float(v)
            else:
                out[k] = float(v)
        return out

    def molality(self, z: np.ndarray) -> np.ndarray:
        """Salt molality (mol per kg of solvent blend) at each point."""
        z = np.atleast_2d(z)
        if self.salt_basis == "molality":
            return np.asarray(z[:, len(self.solvents)], dtype=np.float64)
        t = self._numpy(z)
        mean_mm = (self.solvent_mole_shares(t).numpy() @ self.solvent_molar_mass)
        return self.formula.molality(z[:, len(self.solvents)], mean_mm)
