"""What the solvents' tabulated bulk properties say about a conductivity, as terms of ln κ (study options).

- **Walden's rule** (``walden=α``): molar conductivity × viscosity ≈ constant, so κ ∝ η_blend^−α, with the blend's
  viscosity mixed ideally in ln η by the solvents' mole shares (Arrhenius / Grunberg–Nissan without interaction):
  ln κ −= α Σ_j s_j ln η_j.
  With ``walden_learned=True`` the exponent starts at ``walden`` and is learned (the fractional Walden rule).
- **Ion pairing** (``permittivity=True``): Bjerrum and Fuoss: the association constant of an ion pair grows as
  exp(z² e² / (4π ε₀ ε_r a k T)), so fewer ions are free in a solvent of low permittivity; ln κ −= β / ε_blend, with
  ε_blend = Σ_j s_j ε_j and β > 0 learned (it holds the ion size a and the exponent of the free fraction; a start of
  β = 10 halves κ near ε = 14).
- **The salt's own permittivity** (``salt_dielectric=True``, with ion pairing): in a solvent of low permittivity the
  salt's contact ion pairs are strong dipoles and raise the solution's static permittivity as the salt content grows,
  which frees ions again (Self, Wood, Rajput and Persson, J. Phys. Chem. C 122 (2018) 1990, LiPF6 and LiAsF6 in DMC).
  The pairing term then reads ε_solution = ε_blend + γ r, r the moles of salt per mole of solvent (half the ions'
  mole fraction over the solvents'), γ > 0 learned. Without it, −β / ε_blend takes a factor of about ten off a
  salt in a linear carbonate alone (ε ≈ 3) at any content, where no training row says so.
- **Ion association by mass action** (``ion_association=True``, with ion pairing): instead of a term linear in 1 / ε,
  the free-ion fraction α of the pair equilibrium M⁺ + X⁻ ⇌ MX, K r α² = 1 − α (Ostwald's dilution law with r the
  moles of salt per mole of solvent), ln κ += ln α = ln 2 − ln(1 + √(1 + 4 K r)), and the association constant
  follows Fuoss: K = K₀ exp(β / ε), K₀ and β > 0 learned. Where ε is high (EC, PC and their blends) K r ≪ 1 and
  nearly every ion is free, whatever else is in the blend; where ε is low the free fraction falls as 1 / √(K r). The
  linear form cannot say both: it takes the same share of ln κ off at ε = 40 as the difference between ε = 20 and
  40. Starting values from Fuoss's K₀ = 4π N_A a³ / 3 for a contact distance a ≈ 5 Å (0.3 L/mol; about 4 per mole
  fraction unit in a carbonate of 12 mol/L) and β = e² / (4π ε₀ a k T) ≈ 560 Å / a at 25 °C (≈ 110 for 5 Å),
  started lower, at 30, so that the carbonate blends most rows hold start with most of their ions free (Fuoss, J. Am.
  Chem. Soc. 80 (1958) 5059).

Both carry what a molecular graph sees only indirectly (an ester is more fluid than a carbonate of its size; an ether
barely dissociates a salt on its own but does beside EC) to solvents and solvent pairs no training row holds. The
values are ``model.data.tables.VISCOSITY_MPA_S`` and ``PERMITTIVITY``; a solvent without one gets the tabulated
solvents' median, and the domain report names it (``model.domain``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from model.data.tables import TYPICAL_PERMITTIVITY, TYPICAL_VISCOSITY_MPA_S
from model.nn.blocks import MIN_FRACTION, gather, ion_and_solvent_slots

PAIRING_START = 10.0  # β at initialisation (see the module docstring)
ASSOCIATION_BETA_START = 30.0  # β of the mass-action form at initialisation (see the module docstring)
ASSOCIATION_LOG_K0_START = math.log(4.0)  # ln K₀ per (mol salt / mol solvent) at initialisation
SALT_DIELECTRIC_START = 30.0  # γ at initialisation: 1 mol/kg LiPF6 in DMC (r ≈ 0.09) starts at ε ≈ 3.1 + 2.7
N_COLUMNS = 3  # charge flag, ln η (mPa·s), ε_r


def check_options(walden: float = 0.0, permittivity: bool = False, salt_dielectric: bool = False,
                  ion_association: bool = False, walden_learned: bool = False) -> None:
    """A ValueError naming the first option that cannot be taken: a negative exponent, or a refinement without the
    term it refines. The model checks on construction, the training config before any training starts."""
    if not (math.isfinite(walden) and walden >= 0):
        raise ValueError(f"walden is the exponent of the viscosity in the prefactor, ≥ 0; got {walden}")
    if salt_dielectric and not permittivity:
        raise ValueError("salt_dielectric raises the permittivity the ion-pairing term reads; set permittivity too")
    if walden_learned and not walden > 0:
        raise ValueError("walden_learned learns the viscosity's exponent from its starting value; set walden > 0 too")
    if ion_association and not permittivity:
        raise ValueError("ion_association is a form of the ion-pairing term (it reads the permittivity); set permittivity too")


class SolventLaws(nn.Module):
    def __init__(self, walden: float = 0.0, permittivity: bool = False, salt_dielectric: bool = False,
                 ion_association: bool = False, walden_learned: bool = False):
        super().__init__()
        check_options(walden, permittivity, salt_dielectric, ion_association, walden_learned)
        self.walden = float(walden)
        self.permittivity = bool(permittivity)
        self.salt_dielectric = bool(salt_dielectric)
        self.ion_association = bool(ion_association)
        # β = PAIRING_START · exp(p) (ASSOCIATION_BETA_START · exp(p) in the mass-action form),
        # γ = SALT_DIELECTRIC_START · exp(q): positive by construction
        self.pairing = nn.Parameter(torch.zeros(())) if self.permittivity else None
        self.log_k0 = nn.Parameter(torch.tensor(ASSOCIATION_LOG_K0_START)) if self.ion_association else None
        # the fractional Walden rule: α = walden · exp(w), learned (many electrolytes follow Λ η^α = const with
        # α < 1); None: α fixed at walden
        self.walden_log_factor = nn.Parameter(torch.zeros(())) if walden_learned else None
        self.salt_increment = nn.Parameter(torch.zeros(())) if self.salt_dielectric else None

    @property
    def active(self) -> bool:
        return self.walden > 0 or self.permittivity

    @property
    def reads(self) -> tuple[str, ...]:
        """The solvents' tabulated properties these terms read (the domain report names a solvent that lacks one)."""
        return tuple(what for what, used in (("viscosity", self.walden > 0), ("relative permittivity", self.permittivity))
                     if used)

    def columns(self, mols, dtype: torch.dtype) -> torch.Tensor:
        """[V, N_COLUMNS] each molecule's charge flag (1 for an ion), ln viscosity and permittivity (0 for ions and
        for a property this model does not read). A solvent the tables lack gets the tabulated solvents' median
        (``tables.TYPICAL_*``), and the domain report says so."""
        charged = (mols.charges != 0).to(dtype)
        cols = [charged]
        for what, values, stand_in in (("viscosity", mols.log_viscosity, math.log(TYPICAL_VISCOSITY_MPA_S)),
                                       ("relative permittivity", mols.permittivity, TYPICAL_PERMITTIVITY)):
            values = values.to(dtype)
            cols.append(torch.nan_to_num(values, nan=stand_in) if what in self.reads else torch.zeros_like(values))
        return torch.stack(cols, dim=-1)

    def forward(self, cols: torch.Tensor, idx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The terms' sum in ln κ for each mixture, [B]: [V, N_COLUMNS] ``columns``, [B, C] indices and fractions."""
        ion, solvent = ion_and_solvent_slots(cols[:, :1], idx, x.dtype)
        xs = x * solvent
        shares = xs / xs.sum(1, keepdim=True).clamp_min(MIN_FRACTION)
        blend = (shares.unsqueeze(-1) * gather(cols[:, 1:], idx)).sum(1)  # [B, 2]: ln η_blend, ε_blend
        out = torch.zeros_like(blend[:, 0])
        if self.walden > 0:
            alpha = self.walden if self.walden_log_factor is None else self.walden * torch.exp(self.walden_log_factor)
            out = out - alpha * blend[:, 0]
        if self.pairing is not None:
            eps = blend[:, 1]
            salt_per_solvent = 0.5 * (x * ion).sum(1) / xs.sum(1).clamp_min(MIN_FRACTION)
            if self.salt_increment is not None:
                eps = eps + SALT_DIELECTRIC_START * torch.exp(self.salt_increment) * salt_per_solvent
            eps = eps.clamp_min(1.0)
            if self.log_k0 is None:
                out = out - PAIRING_START * torch.exp(self.pairing) / eps
            else:
                out = out + free_ion_log_fraction(
                    self.log_k0 + ASSOCIATION_BETA_START * torch.exp(self.pairing) / eps, salt_per_solvent)
        return out


def free_ion_log_fraction(log_k: torch.Tensor, salt: torch.Tensor) -> torch.Tensor:
    """ln α, the free ions' share of a salt at ``salt`` mol per mol solvent with association constant exp(``log_k``):
    the root in (0, 1] of K r α² + α − 1 = 0, α = 2 / (1 + √(1 + 4 K r)), evaluated in logarithms so that a constant
    of e^100 (an ether without salt to raise its permittivity) neither overflows nor loses its gradient; 0 without
    salt."""
    u = math.log(4.0) + log_k + torch.log(salt.clamp_min(1e-30))  # ln(4 K r)
    log_alpha = math.log(2.0) - torch.nn.functional.softplus(0.5 * torch.nn.functional.softplus(u))
    return torch.where(salt > 0, log_alpha, torch.zeros_like(log_alpha))
