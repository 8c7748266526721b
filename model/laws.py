"""The mixing laws of DiffMix as pure, differentiable tensor functions (the DiffMix paper, Eqs. 5 and 6).

Neither function knows anything about neural networks: they take the physical coefficients (however they
were obtained) and return the property, so they can be tested against hand-worked answers.
"""

from __future__ import annotations

import torch


def rk_parity(k: int) -> int:
    """(−1)^k: the sign a Redlich–Kister coefficient of order k takes when the pair (i, j) is swapped."""
    return -1 if k % 2 else 1


def redlich_kister(x: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Multicomponent Redlich–Kister excess: Σ_{i<j} x_i x_j Σ_k A^k_ij (x_i − x_j)^k.

    x: [B, C] mole fractions (zero in padded slots). coeffs: [B, C, C, K] with A^k_ij for the ordered
    pair (i, j); they must satisfy A^k_ji = (−1)^k A^k_ij (each unordered pair's term is then the same read
    either way), which ``symmetrise_pair_coefficients`` guarantees. Returns [B].
    """
    diff = x.unsqueeze(2) - x.unsqueeze(1)  # [B, C, C]: x_i − x_j
    k = coeffs.shape[-1]
    powers = diff.unsqueeze(-1) ** torch.arange(k, device=x.device, dtype=x.dtype)  # [B, C, C, K]
    poly = (coeffs * powers).sum(-1)  # [B, C, C]
    pair = x.unsqueeze(2) * x.unsqueeze(1) * poly
    # Sum over i < j. The term is symmetric in (i, j), so this is half the off-diagonal sum.
    off_diag = 1.0 - torch.eye(x.shape[1], device=x.device, dtype=x.dtype)
    return 0.5 * (pair * off_diag).sum(dim=(1, 2))


def symmetrise_pair_coefficients(raw: torch.Tensor) -> torch.Tensor:
    """From an ordered-pair network's raw outputs f^k(i, j) [B, C, C, K], build A^k_ij = ½(f^k(i,j) + (−1)^k f^k(j,i)).

    Then A^k_ji = (−1)^k A^k_ij exactly, whatever the network computes: the physics' symmetry holds by construction.
    """
    sign = torch.tensor([rk_parity(k) for k in range(raw.shape[-1])], dtype=raw.dtype, device=raw.device)
    return 0.5 * (raw + sign * raw.transpose(1, 2))


def linear_mixing(x: torch.Tensor, pure: torch.Tensor) -> torch.Tensor:
    """Σ_i x_i P_i. x, pure: [B, C] → [B]."""
    return (x * pure).sum(-1)


def vft(temperature: torch.Tensor, prefactor: torch.Tensor, pseudo_activation_K: torch.Tensor,
        vogel_temperature_K: torch.Tensor) -> torch.Tensor:
    """Vogel–Fulcher–Tammann: κ = A exp(−B / (T − T0)); requires A > 0, B > 0, T0 < T."""
    return prefactor * torch.exp(-pseudo_activation_K / (temperature - vogel_temperature_K))


def log_vft(temperature: torch.Tensor, log_prefactor: torch.Tensor, pseudo_activation_K: torch.Tensor,
            vogel_temperature_K: torch.Tensor) -> torch.Tensor:
    """ln κ of the VFT law: κ spans four orders of magnitude, so the model works in ln κ (and is fitted in ln(κ + κ_c),
    model.properties)."""
    return log_prefactor - pseudo_activation_K / (temperature - vogel_temperature_K)


def redlich_kister_blend(shares: torch.Tensor, pure: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
    """A blend's coefficients from its solvents': c = Σ_j s_j c_j + Σ_{j<k} s_j s_k Σ_n d^n_jk (s_j − s_k)^n.

    The composition law of the VFT coefficients of a multi-solvent electrolyte: pure-solvent terms c_j (the
    salt in solvent j alone) mixed by the solvent shares s (mole fractions of the solvent blend, Σ s = 1, zero
    for ions and empty slots), plus Redlich–Kister pair corrections, so a ternary's coefficients are built from
    the terms its binaries determine. shares [B, C], pure [B, C, D], pair [B, C, C, D, N] (pair coefficients
    with d^n_kj = (−1)^n d^n_jk, see ``symmetrise_pair_coefficients``) → [B, D].
    """
    out = (shares.unsqueeze(-1) * pure).sum(1)
    excess = torch.stack([redlich_kister(shares, pair[..., d, :]) for d in range(pair.shape[-2])], dim=-1)
    return out + excess



def blend_from_binaries(shares: torch.Tensor, pairs: torch.Tensor, binary: torch.Tensor) -> torch.Tensor:
    """A multi-solvent blend's coefficients as the mean of its binary sub-blends': c = Σ_{j<k} w_jk c_jk with
    w_jk = s_j s_k / Σ_{l<m} s_l s_m.

    c_jk are the coefficients of the binary sub-blend of solvents j and k (the same salt content, j and k in the
    proportion s_j : s_k). A weighting by pair products, as in Muggianu's geometric extrapolation of ternary
    properties from binaries (CALPHAD practice): a ternary whose third solvent vanishes goes continuously to its
    binary (the weights of every pair holding the vanishing solvent go to 0), and every term of a blend is a binary
    its training data can teach, so the blend lies within its binaries' range coefficient by coefficient.
    shares [B, C] (solvent mole fractions; 0 for ions and empty slots), pairs [P, 2] slot pairs j < k,
    binary [B, P, D] → [B, D]. Blends with fewer than two solvents have no pair: their weights are all 0.
    """
    w = shares[:, pairs[:, 0]] * shares[:, pairs[:, 1]]  # [B, P]
    w = w / w.sum(1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    return (w.unsqueeze(-1) * binary).sum(1)
