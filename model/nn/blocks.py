"""Small pieces the mixture heads share: gathering per-molecule rows into mixture slots, telling ions from solvents."""

from __future__ import annotations

import torch

MIN_FRACTION = 1e-12  # a floor for sums of mole fractions that may be zero (no ions, no solvent)


def gather(emb: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """[V, H] embeddings, [B, C] indices (−1 = empty) → [B, C, H] (empty slots get a zero vector)."""
    h = emb[idx.clamp(min=0)]
    return h * (idx >= 0).unsqueeze(-1).to(h.dtype)


def ion_and_solvent_slots(charged: torch.Tensor, idx: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """[V, 1] charge flags (1 for an ion), [B, C] indices → which slots hold an ion and which a solvent, [B, C] each
    (empty slots are neither)."""
    ion = gather(charged, idx).squeeze(-1).to(dtype)
    return ion, (idx >= 0).to(dtype) * (1.0 - ion)
