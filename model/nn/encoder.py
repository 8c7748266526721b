"""The shared molecular encoder: a message-passing GNN (GINE convolutions with bond features) → one vector a molecule."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import GINEConv, global_add_pool, global_mean_pool

from model.featurize import ATOM_DIM, BOND_DIM, DESCRIPTOR_DIM


def mlp(sizes: list[int], act=nn.SiLU, last_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_act:
            layers.append(act())
    return nn.Sequential(*layers)


class MoleculeEncoder(nn.Module):
    """Weights shared across all components; ions are single-node graphs and encode like any molecule."""

    def __init__(self, hidden: int = 64, layers: int = 3, out: int = 64, descriptors: bool = False):
        super().__init__()
        # descriptors=True: the readout also sees the molecule's whole-molecule descriptors (featurize.MOL_DESCRIPTORS)
        self.descriptors = descriptors
        self.embed = nn.Linear(ATOM_DIM, hidden)
        self.convs = nn.ModuleList(
            GINEConv(mlp([hidden, hidden, hidden]), edge_dim=BOND_DIM, train_eps=True) for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.readout = mlp([2 * hidden + (DESCRIPTOR_DIM if descriptors else 0), hidden, out])

    def forward(self, graphs, descriptors: torch.Tensor | None = None) -> torch.Tensor:
        dtype = self.embed.weight.dtype
        h = self.embed(graphs.x.to(dtype))
        edge_attr = graphs.edge_attr.to(dtype)
        for conv, norm in zip(self.convs, self.norms):
            h = h + torch.nn.functional.silu(norm(conv(h, graphs.edge_index, edge_attr)))
        pooled = torch.cat([global_add_pool(h, graphs.batch) / 10.0, global_mean_pool(h, graphs.batch)], dim=-1)
        if self.descriptors:
            if descriptors is None:
                raise ValueError("this encoder reads whole-molecule descriptors; pass them with the graphs")
            pooled = torch.cat([pooled, descriptors.to(dtype)], dim=-1)
        return self.readout(pooled)
