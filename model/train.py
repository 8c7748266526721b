"""Training: one member per split seed, early stopping on validation MAE, an ensemble out."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from model.data.dataset import Batcher, MixtureTable
from model.ensemble import Ensemble
from model.nn.models import build
from model.properties import Property
from model.splits import Split, make_split


@dataclass
class TrainConfig:
    max_epochs: int = 300
    patience: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-6
    hidden: int = 64
    gnn_layers: int = 3
    order: int = 4
    huber_beta: float = 0.05
    coeff_temperature: bool = False  # VFT coefficients see T (see DiffMixVFT)


def loss_fn(model, batch, prop: Property, cfg: TrainConfig) -> torch.Tensor:
    """Conductivity is fitted in ln κ (it spans four orders of magnitude); excess properties in units of the
    training set's spread. A Huber loss with a small β is close to the MAE we report but smooth at zero."""
    if prop.log_scale:
        if hasattr(model, "log_mix"):
            pred = model.log_mix(model.encode(batch.mols), batch.idx, batch.x, batch.T, batch.P)
        else:
            pred = torch.log(model(*batch.args()))
        target = torch.log(batch.y)
    else:
        pred = model(*batch.args()) / model.target_scale
        target = batch.y / model.target_scale
    return torch.nn.functional.smooth_l1_loss(pred, target, beta=cfg.huber_beta)


@torch.no_grad()
def predict_rows(model, batcher: Batcher, rows: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    model.eval()
    out = [model(*b.args()).double().numpy() for b in batcher.batches(rows, batch_size)]
    return np.concatenate(out) if out else np.zeros(0)


def hyperparameters(kind: str, prop: Property, table: MixtureTable, train_rows: np.ndarray, cfg: TrainConfig) -> dict:
    hyper = {"hidden": cfg.hidden, "gnn_layers": cfg.gnn_layers}
    if not prop.log_scale:
        hyper["target_scale"] = float(np.std(table.y[train_rows]) or 1.0)
    if kind == "diffmix" and prop.law == "redlich_kister":
        hyper["order"] = cfg.order
    if kind == "diffmix" and prop.law == "vft" and cfg.coeff_temperature:
        hyper["coeff_temperature"] = True
    if kind == "fingerprint":
        hyper["max_components"] = table.width
    return hyper


def fit_member(table: MixtureTable, split: Split, prop: Property, kind: str, cfg: TrainConfig, seed: int,
               desc: str = "", progress: bool = True):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hyper = hyperparameters(kind, prop, table, split.train, cfg)
    model = build(kind, prop.law, log_scale=prop.log_scale, **hyper)
    batcher = Batcher(table)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(3, cfg.patience // 3))
    best, best_state, bad, history = np.inf, None, 0, []
    bar = tqdm(range(cfg.max_epochs), desc=desc or f"{kind}", leave=False, disable=not progress, unit="epoch")
    for epoch in bar:
        model.train()
        total, n = 0.0, 0
        for batch in batcher.batches(split.train, cfg.batch_size, rng):
            opt.zero_grad()
            loss = loss_fn(model, batch, prop, cfg)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            total += loss.item() * len(batch.y)
            n += len(batch.y)
        val_mae = float(np.mean(np.abs(predict_rows(model, batcher, split.val) - table.y[split.val])))
        sched.step(val_mae)
        history.append({"epoch": epoch, "train_loss": total / max(n, 1), "val_mae": val_mae})
        bar.set_postfix(loss=f"{total / max(n, 1):.4f}", val_mae=f"{val_mae:.4g}")
        if val_mae < best - 1e-9:
            best, best_state, bad = val_mae, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, hyper, {"best_val_mae": best, "epochs": len(history), "history": history}


def train_ensemble(table: MixtureTable, prop: Property, kind: str, split_kind: str, members: int, seed: int,
                   cfg: TrainConfig, progress: bool = True, data_info: dict | None = None) -> tuple[Ensemble, list[Split]]:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    models, splits, infos = [], [], []
    t0 = time.perf_counter()
    hyper = None
    outer = tqdm(range(members), desc=f"{prop.name} {kind} ({split_kind})", disable=not progress, unit="member")
    for k in outer:
        split = make_split(table, split_kind, seed + k)
        model, hyper, info = fit_member(table, split, prop, kind, cfg, seed + k, desc=f"member {k + 1}/{members}",
                                        progress=progress)
        models.append(model)
        splits.append(split)
        infos.append({k2: v for k2, v in info.items() if k2 != "history"})
        outer.set_postfix(val_mae=f"{info['best_val_mae']:.4g}")
    ens_info = {
        "split": split_kind,
        "seed": seed,
        "train_config": asdict(cfg),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "member_info": infos,
        "data": data_info or {},
    }
    return Ensemble(models, prop, kind, hyper, ens_info), splits
