"""A blend between its binary sub-blends: an unlabeled training term for multi-solvent electrolytes.

CALiSol-23 teaches conductivity mostly on binary solvent blends, and an ensemble's members, free to answer
anything for a third solvent, drift apart there with training length (RESULTS.md, "Like pairs"). This term asks
each member, on blends made from its own training rows, what a lab would assume first: a three-solvent blend
conducts no less than the least and no more than the most conductive of its binary sub-blends (every pair of
its solvents in the blend's own proportion, with the same salt content and temperature), the plausibility check of
``model.blends`` used as a loss.

The blends: a training row with a salt and two solvents A, B, and a third solvent C seen with the same salt in
some training row, replacing a share w of the solvent (mole fractions; the ions' fractions are kept). Sub-blends
A:B, A:C, B:C keep the blend's solvent total. The sub-blends' predictions are held fixed (no gradient): the
measured binaries teach them, the blend follows.
"""

from __future__ import annotations

import numpy as np
import torch

from model.data.dataset import Batcher, MixtureTable
from model.splits import neutral_species

SHARE_RANGE = (0.1, 0.6)  # the third solvent's share of the blend's solvent


class BlendConsistency:
    """A pool of blends made from ``table``'s rows ``rows``, each followed by its three binary sub-blends."""

    def __init__(self, table: MixtureTable, rows: np.ndarray, pool: int = 20000, seed: int = 0):
        rng = np.random.default_rng(seed)
        neutral = neutral_species(table)
        binaries: dict[int, tuple[frozenset[int], list[tuple[int, float]]]] = {}  # row → (its ions, its species)
        partners: dict[frozenset[int], set[int]] = {}  # a salt's ions → every solvent seen with it
        for r in rows:
            present = table.present(int(r))
            ions = frozenset(i for i, _ in present if not neutral[i])
            solvents = [i for i, _ in present if neutral[i]]
            if ions:
                partners.setdefault(ions, set()).update(solvents)
                if len(solvents) == 2:
                    binaries[int(r)] = (ions, present)
        thirds = {r: sorted(partners[ions] - {i for i, _ in present}) for r, (ions, present) in binaries.items()}
        candidates = [r for r, t in thirds.items() if t]
        if not candidates:
            raise ValueError("blend consistency needs training rows with a salt in two solvents and a third solvent "
                             "seen with the same salt; these rows have none")
        width = table.width + 1
        n_rows = 4 * pool
        idx = np.full((n_rows, width), -1, dtype=table.idx.dtype)
        x = np.zeros((n_rows, width))
        T, P = np.empty(n_rows), np.empty(n_rows)
        for k, r in enumerate(rng.choice(candidates, size=pool)):
            present = binaries[int(r)][1]
            ions = [(i, v) for i, v in present if not neutral[i]]
            (a, xa), (b, xb) = [(i, v) for i, v in present if neutral[i]]
            c = int(rng.choice(thirds[int(r)]))
            total = xa + xb
            w = rng.uniform(*SHARE_RANGE)
            sa, sb, sc = xa * (1 - w), xb * (1 - w), total * w
            mixes = [[(a, sa), (b, sb), (c, sc)]] + [
                [(p, total * vp / (vp + vq)), (q, total * vq / (vp + vq))]
                for (p, vp), (q, vq) in (((a, sa), (b, sb)), ((a, sa), (c, sc)), ((b, sb), (c, sc)))]
            for j, mix in enumerate(mixes):
                species = ions + mix
                idx[4 * k + j, : len(species)] = [i for i, _ in species]
                x[4 * k + j, : len(species)] = [v for _, v in species]
                T[4 * k + j], P[4 * k + j] = table.T[r], table.P[r]
        self.pool = pool
        self.table = MixtureTable(table.vocab, idx, x, T, P, np.full(n_rows, np.nan))
        self.batcher = Batcher(self.table)

    def loss(self, model, n: int, rng: np.random.Generator) -> torch.Tensor:
        """Mean distance (in ln κ) by which n random blends of the pool leave the band of their sub-blends."""
        picks = rng.integers(0, self.pool, size=n)
        log_k = model.log_forward(*self.batcher.batch((4 * picks[:, None] + np.arange(4)).ravel()).args()).view(n, 4)
        blend, subs = log_k[:, 0], log_k[:, 1:].detach()
        below = torch.relu(subs.min(dim=1).values - blend)
        above = torch.relu(blend - subs.max(dim=1).values)
        return (below + above).mean()
