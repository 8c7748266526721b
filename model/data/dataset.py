"""Mixtures as padded tensors over a vocabulary of unique molecules, and the molecule sets a batch encodes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from torch_geometric.data import Batch

from model.chem import formal_charge
from model.data.tables import permittivity_of, viscosity_of
from model.featurize import DESCRIPTOR_DIM, ecfp, mol_descriptors, mol_graph
from model.mixture import Mixture, pad


class MoleculeSet:
    """A list of unique molecules (canonical SMILES) with their graphs and fingerprints, built on first use."""

    def __init__(self, smiles: list[str]):
        self.smiles = list(smiles)

    def __len__(self) -> int:
        return len(self.smiles)

    @cached_property
    def graphs(self) -> Batch:
        return Batch.from_data_list([mol_graph(s) for s in self.smiles])

    @cached_property
    def descriptors(self) -> torch.Tensor:
        """[V, DESCRIPTOR_DIM] whole-molecule descriptors (model.featurize.MOL_DESCRIPTORS)."""
        return torch.from_numpy(np.stack([mol_descriptors(s) for s in self.smiles])) if self.smiles \
            else torch.zeros((0, DESCRIPTOR_DIM))

    def _per_solvent(self, value_of) -> torch.Tensor:
        """[V] ``value_of(smiles)`` for each neutral molecule (NaN where it is None), 0 for an ion."""
        values = [0.0 if charge else (math.nan if (v := value_of(s)) is None else v)
                  for s, charge in zip(self.smiles, self.charges.tolist())]
        return torch.tensor(values, dtype=torch.float64)

    @cached_property
    def log_viscosity(self) -> torch.Tensor:
        """[V] ln of each solvent's tabulated viscosity in mPa·s (``tables.VISCOSITY_MPA_S``); 0 for an ion, NaN for
        a neutral molecule the table lacks."""
        return self._per_solvent(lambda s: None if (eta := viscosity_of(s)) is None else math.log(eta))

    @cached_property
    def permittivity(self) -> torch.Tensor:
        """[V] each solvent's tabulated relative permittivity (``tables.PERMITTIVITY``); 0 for an ion, NaN for a
        neutral molecule the table lacks."""
        return self._per_solvent(permittivity_of)

    @cached_property
    def fingerprints(self) -> torch.Tensor:
        return torch.from_numpy(np.stack([ecfp(s) for s in self.smiles]))

    @cached_property
    def charges(self) -> torch.Tensor:
        """[V] net formal charge of each molecule (a salt's ions are separate molecules: +1, −1, …)."""
        return torch.tensor([float(formal_charge(s)) for s in self.smiles])

    def subset(self, rows: torch.Tensor) -> MoleculeSet:
        return MoleculeSet([self.smiles[i] for i in rows.tolist()])


@dataclass
class MixtureTable:
    """N mixtures over a vocabulary: idx [N, C] (−1 = empty slot), x [N, C], T, P, y [N] and group labels.

    ``excluded`` [N] marks rows kept only for their row number (a published erratum, ``model.data.errata``): no split
    trains, validates or scores on them. None: every row counts.
    """

    vocab: list[str]
    idx: np.ndarray
    x: np.ndarray
    T: np.ndarray
    P: np.ndarray
    y: np.ndarray
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    excluded: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    @classmethod
    def from_mixtures(cls, mixtures: list[Mixture], y, groups: dict | None = None,
                      excluded: np.ndarray | None = None) -> MixtureTable:
        vocab = sorted({s for m in mixtures for s in m.species})
        idx, x, t, p = pad(mixtures, {s: i for i, s in enumerate(vocab)})
        return cls(vocab, idx, x, t, p, np.asarray(y, dtype=np.float64),
                   {k: np.asarray(v) for k, v in (groups or {}).items()},
                   None if excluded is None else np.asarray(excluded, dtype=bool))

    def usable(self, rows: np.ndarray) -> np.ndarray:
        """``rows`` without the excluded ones, in their order."""
        rows = np.asarray(rows)
        return rows if self.excluded is None else rows[~self.excluded[rows]]

    @property
    def width(self) -> int:
        return self.idx.shape[1]

    def present(self, r: int) -> list[tuple[int, float]]:
        """The species of row r that are there: (vocabulary index, mole fraction), empty slots and zero shares left
        out, in the row's slot order."""
        return [(int(i), float(x)) for i, x in zip(self.idx[r], self.x[r]) if i >= 0 and x > 0]

    def permuted(self, seed: int = 0) -> MixtureTable:
        """The same mixtures with each row's components listed in a random order (for the permutation test).

        Empty slots are permuted too: a model must not care where the gaps are either.
        """
        rng = np.random.default_rng(seed)
        order = np.argsort(rng.random(self.idx.shape), axis=1)
        take = lambda a: np.take_along_axis(a, order, axis=1)
        return MixtureTable(self.vocab, take(self.idx), take(self.x), self.T, self.P, self.y, self.groups, self.excluded)


@dataclass
class TensorBatch:
    mols: MoleculeSet
    idx: torch.Tensor
    x: torch.Tensor
    T: torch.Tensor
    P: torch.Tensor
    y: torch.Tensor

    def args(self):
        return self.mols, self.idx, self.x, self.T, self.P


# Below this vocabulary size, encoding every molecule each step is cheaper than building a sub-batch.
ENCODE_ALL_BELOW = 256


class Batcher:
    """Yields TensorBatches; each batch's unique molecules are encoded once and gathered by index."""

    def __init__(self, table: MixtureTable, dtype=torch.float32):
        self.table = table
        self.all = MoleculeSet(table.vocab)
        self.dtype = dtype
        self.idx = torch.tensor(table.idx)
        self.x = torch.tensor(table.x, dtype=dtype)
        self.T = torch.tensor(table.T, dtype=dtype)
        self.P = torch.tensor(table.P, dtype=dtype)
        self.y = torch.tensor(table.y, dtype=dtype)

    def batch(self, rows: np.ndarray | torch.Tensor) -> TensorBatch:
        rows = torch.as_tensor(rows, dtype=torch.long)
        idx = self.idx[rows]
        if len(self.all) <= ENCODE_ALL_BELOW:
            mols = self.all
        else:
            used, inv = torch.unique(idx.clamp(min=0), return_inverse=True)
            mols = self.all.subset(used)
            idx = torch.where(idx >= 0, inv, idx)
        return TensorBatch(mols, idx, self.x[rows], self.T[rows], self.P[rows], self.y[rows])

    def batches(self, rows: np.ndarray, batch_size: int, rng: np.random.Generator | None = None):
        rows = np.asarray(rows)
        if rng is not None:
            rows = rows[rng.permutation(len(rows))]
        for start in range(0, len(rows), batch_size):
            yield self.batch(rows[start : start + batch_size])
