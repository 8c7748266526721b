"""An ensemble of trained members: load once, predict batches, and give ∂P/∂x by autograd.

Molecule embeddings are cached per SMILES (a molecule is encoded once per member for the life of the
process), so predicting a batch costs only the mixture heads. The ensemble mean is the prediction and the
spread (sample standard deviation across members) its uncertainty.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.func import functional_call, stack_module_state, vmap

from model.data.dataset import MoleculeSet
from model.domain import Domain
from model.errors import CheckpointError
from model.mixture import Mixture, pad
from model.nn.models import MixtureModel, build
from model.properties import Property, get_property

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
VECTORISED_MAX_BATCH = 128  # up to this many mixtures, members run together under vmap (see member_values)


class _Head(torch.nn.Module):
    """A member seen as its mixture head alone: forward(emb, idx, x, T, P) = member.mix(...)."""

    def __init__(self, member: MixtureModel):
        super().__init__()
        self.member = member

    def forward(self, emb, idx, x, T, P):
        return self.member.mix(emb, idx, x, T, P)


@dataclass
class Prediction:
    mean: np.ndarray  # [B]
    std: np.ndarray  # [B]
    members: np.ndarray  # [K, B]
    gradient: list[dict[str, float]] | None = None  # ∂mean/∂x_species for each mixture


class Ensemble:
    def __init__(self, members: list[MixtureModel], prop: Property, kind: str, hyper: dict, info: dict | None = None):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = [m.eval() for m in members]
        self.property = prop
        self.kind = kind
        self.hyper = dict(hyper)
        self.info = dict(info or {})
        self._domain: Domain | None = None
        self._cache: dict[str, torch.Tensor] = {}  # smiles → [K, H]
        self._stacked = None  # members' weights stacked for the vectorised small-batch path, built on first use
        self._per_thread = threading.local()
        self.dtype = next(iter(members[0].parameters())).dtype

    @property
    def domain(self) -> Domain | None:
        """What the training rows held (model/domain.py), saved beside the weights, judged for what this model
        reads (a solvent without the tabulated viscosity a Walden term needs is named in every report)."""
        return self._domain

    @domain.setter
    def domain(self, domain: Domain | None) -> None:
        self._domain = None if domain is None else domain.reading(self.members[0].solvent_laws.reads)

    # ---------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for k, m in enumerate(self.members):
            save_file({n: t.detach().contiguous() for n, t in m.state_dict().items()}, d / f"member_{k}.safetensors")
        config = {
            "format_version": FORMAT_VERSION,
            "property": self.property.name,
            "unit": self.property.unit,
            "model": self.kind,
            "law": self.property.law,
            "hyper": self.hyper,
            "members": len(self.members),
            **self.info,
        }
        (d / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        if self.domain is not None:
            self.domain.save(d)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> Ensemble:
        d = Path(directory)
        cfg_path = d / CONFIG_FILE
        if not cfg_path.exists():
            raise FileNotFoundError(f"{d} is not a DiffMix model directory (no {CONFIG_FILE})")
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{d}: checkpoint format {cfg.get('format_version')!r}, this version reads "
                                  f"{FORMAT_VERSION}")
        prop = get_property(cfg["property"])
        members = []
        for k in range(cfg["members"]):
            try:
                m = build(cfg["model"], prop.law, log_scale=prop.log_scale, **cfg["hyper"])
            except ValueError as e:
                raise CheckpointError(f"{d}: {e}; was it written by another version of DiffMix?") from None
            m.load_state_dict(load_file(d / f"member_{k}.safetensors"))
            members.append(m)
        info = {k: v for k, v in cfg.items() if k not in {"format_version", "property", "unit", "model", "law", "hyper", "members"}}
        ens = cls(members, prop, cfg["model"], cfg["hyper"], info)
        ens.domain = Domain.load(d)
        return ens

    def to(self, dtype: torch.dtype) -> Ensemble:
        self.members = [m.to(dtype) for m in self.members]
        self.dtype = dtype
        self._cache.clear()
        self._stacked = None
        return self

    # ---------------------------------------------------------------- inference
    @torch.no_grad()
    def embeddings(self, smiles: list[str]) -> torch.Tensor:
        """[K, V, H] embeddings of the given molecules, encoding only those not seen before."""
        new = [s for s in dict.fromkeys(smiles) if s not in self._cache]
        if new:
            mols = MoleculeSet(new)
            per_member = [m.encode(mols).to(self.dtype) for m in self.members]  # K × [V_new, H]
            for i, s in enumerate(new):
                self._cache[s] = torch.stack([e[i] for e in per_member])
        return torch.stack([self._cache[s] for s in smiles], dim=1)

    def _arrays(self, mixtures: list[Mixture]):
        vocab = sorted({s for m in mixtures for s in m.species})
        idx, x, t, p = pad(mixtures, {s: i for i, s in enumerate(vocab)})
        return vocab, idx, x, t, p

    def member_values(self, vocab, idx, x, T, P) -> torch.Tensor:
        """[K, B] predictions; differentiable in x (a tensor) when called with grad enabled.

        Small batches (one mixture with its gradient, a handful of optimizer starts) are dominated by the cost of
        launching each small operation once per member, so they run all members at once as one vectorised call
        over stacked weights (torch.func.vmap); large batches are dominated by arithmetic, which the plain loop
        over members does with less copying. Both give the same numbers (tests/model/test_models.py).
        """
        emb = self.embeddings(list(vocab))
        idx_t = torch.as_tensor(idx)
        x_t = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=self.dtype)
        T_t = torch.as_tensor(T, dtype=self.dtype)
        P_t = torch.as_tensor(P, dtype=self.dtype)
        if len(self.members) > 1 and idx_t.shape[0] <= VECTORISED_MAX_BATCH:
            return self._vectorised()(emb, idx_t, x_t, T_t, P_t)
        return torch.stack([m.mix(emb[k], idx_t, x_t, T_t, P_t) for k, m in enumerate(self.members)])

    def _vectorised(self):
        """All members' mixture heads as one function of (embeddings [K, V, H], idx, x, T, P).

        functional_call swaps the stacked weights into a module for the length of the call, so each thread gets
        its own weightless skeleton to swap them into (the service predicts from several threads at once); the
        stacked weights themselves are built once and only read.
        """
        if self._stacked is None:
            heads = [_Head(m) for m in self.members]
            params, buffers = stack_module_state(heads)
            params = {k: v.detach() for k, v in params.items()}  # ∂/∂x only, never ∂/∂weights
            skeleton = copy.deepcopy(heads[0]).to("meta")
            skeleton.member.static_shapes = True  # it runs under vmap
            self._stacked = (params, buffers, skeleton)
        params, buffers, skeleton = self._stacked
        local = self._per_thread
        if getattr(local, "stacked", None) is not self._stacked:
            mine = copy.deepcopy(skeleton)

            def head(p, b, emb, idx, x, T, P):
                return functional_call(mine, (p, b), (emb, idx, x, T, P))

            local.stacked = self._stacked
            local.fn = vmap(head, in_dims=(0, 0, 0, None, None, None, None))
        fn = local.fn
        return lambda emb, idx, x, T, P: fn(params, buffers, emb, idx, x, T, P)

    def predict(self, mixtures: list[Mixture], gradient: bool = False, chunk: int = 65536) -> Prediction:
        if not mixtures:
            empty = np.zeros(0)
            return Prediction(empty, empty, np.zeros((len(self.members), 0)), [] if gradient else None)
        if len(mixtures) > chunk:
            parts = [self.predict(mixtures[i : i + chunk], gradient) for i in range(0, len(mixtures), chunk)]
            return Prediction(
                np.concatenate([p.mean for p in parts]), np.concatenate([p.std for p in parts]),
                np.concatenate([p.members for p in parts], axis=1),
                sum((p.gradient for p in parts), []) if gradient else None,
            )
        vocab, idx, x, t, p = self._arrays(mixtures)
        if not gradient:
            with torch.no_grad():
                vals = self.member_values(vocab, idx, x, t, p)
            return self._summary(vals)
        x_t = torch.as_tensor(x, dtype=self.dtype).requires_grad_(True)
        with torch.enable_grad():
            vals = self.member_values(vocab, idx, x_t, t, p)
            (g,) = torch.autograd.grad(vals.mean(0).sum(), x_t)
        out = self._summary(vals.detach())
        g = g.numpy()
        out.gradient = [
            {vocab[idx[r, c]]: float(g[r, c]) for c in range(idx.shape[1]) if idx[r, c] >= 0}
            for r in range(len(mixtures))
        ]
        return out

    @property
    def std_scale(self) -> float:
        """The factor that turns the members' spread into a calibrated std: fitted on publications the ensemble
        never saw (``std_calibration`` in config.json, written by benchmarks/calibrate_std.py); 1 when absent."""
        return float(self.info.get("std_calibration", {}).get("std_scale", 1.0))

    def _summary(self, vals: torch.Tensor) -> Prediction:
        v = vals.double().numpy()
        std = v.std(axis=0, ddof=1) * self.std_scale if v.shape[0] > 1 else np.zeros(v.shape[1])
        return Prediction(v.mean(axis=0), std, v)
