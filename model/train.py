"""Training: one member per split seed, early stopping on validation MAE, an ensemble out."""

from __future__ import annotations

import copy
import dataclasses
import math
import multiprocessing
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from model.consistency import BlendConsistency
from model.data.dataset import Batcher, MixtureTable
from model.domain import Domain
from model.ensemble import Ensemble
from model.nn import solvent
from model.nn.models import build
from model.properties import Property
from model.splits import Split, member_splits


@dataclass
class TrainConfig:
    max_epochs: int = 300
    patience: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-6
    weight_ema: float | None = None  # validate and keep an exponential moving average of the weights (this decay per
    # step) instead of the weights themselves; None: the weights (every shipped run)
    head_weight_decay: float | None = None  # Adam's L2 on the mixture head (all but the molecule encoder); None: weight_decay
    head_decay_modules: str | None = None  # comma-separated submodules that get head_weight_decay (e.g. "coeff");
    # None: every one but the encoder
    hidden: int = 64
    gnn_layers: int = 3
    mol_descriptors: bool = False  # the molecule encoder also reads whole-molecule descriptors (see MixtureModel)
    order: int = 4
    huber_beta: float | None = None  # the loss's Huber β in fit units; None: the property's (model.properties)
    coeff_temperature: bool = False  # VFT coefficients see T (see DiffMixVFT)
    coeff_layers: int = 2  # hidden layers of the VFT coefficient head (see DiffMixVFT)
    carrier_density: bool = False  # VFT prefactor ∝ the ions' mole fraction (see DiffMixVFT)
    prefactor_power: float = 0.0  # VFT prefactor ∝ T^−n (n = 1: Nernst–Einstein; see DiffMixVFT)
    max_prefactor: float | None = None  # a smooth upper bound on the VFT prefactor A, mS/cm (see DiffMixVFT); None:
    # the design's (VFT_HEAD: DiffMix conductivity bounded, every other model none); 0: unbounded
    bound_sharpness: float = 1.0  # of that bound: ln A_max − softplus(k (ln A_max − a)) / k (see DiffMixVFT)
    anchor_temperature_K: float | None = None  # the VFT head gives ln κ at this temperature, not ln A (DiffMixVFT);
    # None: the design's (VFT_HEAD); 0: the ln A head
    walden: float = 0.0  # conductivity ∝ the blend's tabulated viscosity to the power −walden (model.nn.solvent); 0: off
    permittivity: bool = False  # conductivity lowered by ion pairing as the blend's permittivity falls (model.nn.solvent)
    salt_dielectric: bool = False  # the pairing term's permittivity rises with the salt content (model.nn.solvent)
    ion_association: bool = False  # the pairing term as a mass-action free-ion fraction (model.nn.solvent)
    walden_learned: bool = False  # Walden's exponent learned from its start `walden` (model.nn.solvent)
    pair_pool: bool = True  # VFT coefficients see the pairwise pooling Σ x_i x_j ψ(h_i, h_j) (see DiffMixVFT)
    blend_order: int | None = None  # VFT coefficients by the blend law of this Redlich–Kister order (see DiffMixVFT)
    binary_blend: bool = False  # a blend of ≥ 3 solvents has the mean coefficients of its binary sub-blends (DiffMixVFT)
    solvent_pairs: bool = True  # the pairwise pooling includes solvent–solvent pairs (see DiffMixVFT)
    like_pairs: bool = True  # symmetric pair features and self pairs in the pairwise pooling (the shipped design since
    # 2026-12-02; checkpoints without the key load as False, the design before it; see DiffMixVFT)
    log_offset: float | None = None  # log-scale properties are fitted in ln(y + log_offset); None: the property's
    blend_consistency: float = 0.0  # weight of the unlabeled blend-between-its-binaries term (model.consistency)

    @classmethod
    def from_saved(cls, saved: dict) -> TrainConfig:
        """The config a run was trained with (its config.json's ``train_config``). An option the run predates takes
        the value that reproduces the design it was trained with, not today's default."""
        saved = {**SAVED_BEFORE_OPTION, **saved}
        # a run records the head it resolved (resolve_config), so None here is a run saved before the head had a
        # default: the ln A head, unbounded
        return cls(**{**saved, **{k: 0.0 for k in VFT_HEAD if saved.get(k) is None}})


# what a saved train_config without the key was trained with (the default changed after it was written)
SAVED_BEFORE_OPTION = {"like_pairs": False}

# DiffMix conductivity's VFT head since 2026-12-04 (issue 19, RESULTS.md session 13): the head gives ln κ at 25 °C and
# the prefactor is bounded softly at 3,000 mS/cm; a run that predates it loads as the ln A head, unbounded
VFT_HEAD = {"anchor_temperature_K": 298.15, "max_prefactor": 3000.0}


def has_vft_head(kind: str, law: str) -> bool:
    """Whether a ``kind`` model of a ``law`` property maps its mixture to VFT coefficients (DiffMix conductivity)."""
    return (kind, law) == ("diffmix", "vft")


def vft_head(cfg: TrainConfig, kind: str, law: str) -> dict:
    """The VFT head options ``cfg`` gives a ``kind`` model of a ``law`` property: each of VFT_HEAD's keys with its
    number (0: off), None in ``cfg`` taking the design's — VFT_HEAD's for DiffMix conductivity, off for every other."""
    design = VFT_HEAD if has_vft_head(kind, law) else dict.fromkeys(VFT_HEAD, 0.0)
    return {k: float(design[k] if getattr(cfg, k) is None else getattr(cfg, k)) for k in VFT_HEAD}


def offset_log(log_value: torch.Tensor, offset: float) -> torch.Tensor:
    """ln(v + offset) from ln v without leaving log space (finite however small v is); offset ≥ 0."""
    if offset == 0:
        return log_value
    return torch.logaddexp(log_value, torch.full_like(log_value, math.log(offset)))


def loss_fn(model, batch, prop: Property, cfg: TrainConfig) -> torch.Tensor:
    """Conductivity is fitted in ln(κ + κ_c) (it spans four orders of magnitude; κ_c in model.properties);
    excess properties in units of the training set's spread. A Huber loss with a small β is close to the MAE we
    report but smooth at zero."""
    if prop.log_scale:
        log_pred = model.log_forward(*batch.args())
        offset = fit_offset(prop, cfg)
        pred, target = offset_log(log_pred, offset), offset_log(torch.log(batch.y), offset)
    else:
        pred = model(*batch.args()) / model.target_scale
        target = batch.y / model.target_scale
    return torch.nn.functional.smooth_l1_loss(pred, target, beta=huber_beta(prop, cfg))


def _resolved(name: str, prop: Property, cfg: TrainConfig, unit: str) -> float:
    """A fit setting of the run, or the property's default when the run leaves it None; finite and ≥ 0."""
    value = getattr(cfg, name)
    value = getattr(prop, name) if value is None else value
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number ≥ 0 ({unit}), got {value}")
    return value


def fit_offset(prop: Property, cfg: TrainConfig) -> float:
    return _resolved("log_offset", prop, cfg, prop.unit)


def huber_beta(prop: Property, cfg: TrainConfig) -> float:
    return _resolved("huber_beta", prop, cfg, "fit units")


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
    if has_vft_head(kind, prop.law):
        # recorded only when they differ from DiffMixVFT's defaults, so older checkpoints load unchanged
        if cfg.coeff_temperature:
            hyper["coeff_temperature"] = True
        if cfg.coeff_layers != 1:
            hyper["coeff_layers"] = cfg.coeff_layers
        if cfg.carrier_density:
            hyper["carrier_density"] = True
        if cfg.prefactor_power:
            hyper["prefactor_power"] = cfg.prefactor_power
        head = vft_head(cfg, kind, prop.law)
        if head["max_prefactor"]:
            hyper["max_prefactor"] = head["max_prefactor"]
            if cfg.bound_sharpness != 1.0:
                hyper["bound_sharpness"] = cfg.bound_sharpness
        if head["anchor_temperature_K"]:
            hyper["anchor_temperature_K"] = head["anchor_temperature_K"]
        if not cfg.pair_pool:
            hyper["pair_pool"] = False
        if cfg.blend_order is not None:
            hyper["blend_order"] = cfg.blend_order
        if cfg.binary_blend:
            hyper["binary_blend"] = True
        if not cfg.solvent_pairs:
            hyper["solvent_pairs"] = False
        if cfg.like_pairs:
            hyper["like_pairs"] = True
    if kind in ("diffmix", "gnn_only") and prop.law == "vft":  # the solvent terms (model.nn.solvent), when set
        if cfg.walden:
            hyper["walden"] = cfg.walden
        if cfg.permittivity:
            hyper["permittivity"] = True
        if cfg.salt_dielectric:
            hyper["salt_dielectric"] = True
        if cfg.ion_association:
            hyper["ion_association"] = True
        if cfg.walden_learned:
            hyper["walden_learned"] = True
    if kind == "fingerprint":
        hyper["max_components"] = table.width
    elif cfg.mol_descriptors:  # every model with a learned molecule encoder; recorded only when set
        hyper["mol_descriptors"] = True
    return hyper


def parameter_groups(model: torch.nn.Module, cfg: TrainConfig) -> list[dict]:
    """Adam's parameter groups: ``head_weight_decay`` (when set) on the mixture head — everything but the molecule
    encoder, or only the submodules ``head_decay_modules`` names — and ``weight_decay`` on the rest."""
    head_decay = cfg.weight_decay if cfg.head_weight_decay is None else cfg.head_weight_decay
    children = dict(model.named_children())
    if cfg.head_decay_modules is None:  # everything but the encoder, the model's own parameters (if any) included
        encoder = {id(p) for p in children["encoder"].parameters()} if "encoder" in children else set()
        head = {id(p) for p in model.parameters() if id(p) not in encoder}
    else:
        names = [n.strip() for n in cfg.head_decay_modules.split(",") if n.strip()]
        if not names or any(n not in children or n == "encoder" for n in names):
            raise ValueError(f"head_decay_modules {cfg.head_decay_modules!r}: this model's head modules are "
                             f"{', '.join(n for n in children if n != 'encoder')}")
        head = {id(p) for n in names for p in children[n].parameters()}
    groups = [{"params": [p for p in model.parameters() if id(p) not in head], "weight_decay": cfg.weight_decay},
              {"params": [p for p in model.parameters() if id(p) in head], "weight_decay": head_decay}]
    return [g for g in groups if g["params"]]


def resolve_config(table: MixtureTable, prop: Property, kind: str, cfg: TrainConfig) -> TrainConfig:
    """``cfg`` checked against the property and the model it will train, with the property's defaults filled in
    (Huber β, the log offset), so a bad setting fails with a ValueError naming it before any training starts and
    the run records the numbers it used. Idempotent."""
    cfg = dataclasses.replace(cfg, huber_beta=huber_beta(prop, cfg))
    if prop.log_scale:
        cfg = dataclasses.replace(cfg, log_offset=fit_offset(prop, cfg))
    if cfg.weight_ema is not None and not 0.0 < cfg.weight_ema < 1.0:
        raise ValueError(f"weight_ema must lie strictly between 0 and 1, got {cfg.weight_ema}")
    solvent.check_options(cfg.walden, cfg.permittivity, cfg.salt_dielectric, cfg.ion_association, cfg.walden_learned)
    if (cfg.walden or cfg.permittivity) and (prop.law != "vft" or kind not in ("diffmix", "gnn_only")):
        raise ValueError(f"walden and permittivity are terms of a conductivity model (DiffMix or GNN-only); not of "
                         f"{kind} for {prop.name}")
    head = vft_head(cfg, kind, prop.law)
    for name, value in head.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number ≥ 0 (0: off), got {value}")
    shaped = [name for name, value in head.items() if value]
    if shaped and not has_vft_head(kind, prop.law):
        raise ValueError(f"{' and '.join(shaped)} {'shape' if len(shaped) > 1 else 'shapes'} the DiffMix conductivity "
                         f"model's VFT head; {kind} for {prop.name} has none")
    cfg = dataclasses.replace(cfg, **head)
    if cfg.bound_sharpness != 1.0 and not cfg.max_prefactor:
        raise ValueError(f"bound_sharpness {cfg.bound_sharpness:g} shapes the prefactor's bound; give --max-prefactor a "
                         "bound above 0")
    if cfg.blend_consistency and not prop.log_scale:
        raise ValueError(f"blend consistency is a term for conductivity (a log-scale property), not {prop.name}")
    # the model's own checks (e.g. blend_order) and the head modules' names, on a model that is built and dropped
    # (its initialisation draws from a forked generator: the caller's random state is as it was)
    rows = np.arange(len(table.y))
    with torch.random.fork_rng(devices=[]):
        parameter_groups(build(kind, prop.law, log_scale=prop.log_scale, **hyperparameters(kind, prop, table, rows, cfg)),
                         cfg)
    return cfg


def fit_member(table: MixtureTable, split: Split, prop: Property, kind: str, cfg: TrainConfig, seed: int,
               desc: str = "", progress: bool = True):
    """One member trained on ``split`` with ``seed`` (``cfg`` as ``resolve_config`` returns it)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hyper = hyperparameters(kind, prop, table, split.train, cfg)
    model = build(kind, prop.law, log_scale=prop.log_scale, **hyper)
    batcher = Batcher(table)
    opt = torch.optim.Adam(parameter_groups(model, cfg), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(3, cfg.patience // 3))
    consistency = None
    if cfg.blend_consistency:
        consistency = BlendConsistency(table, split.train, seed=seed)
        blend_rng = np.random.default_rng(seed + 1_000_003)  # its own stream: the batches are those of the run without it
    # the model that is validated and kept: the trained weights, or their moving average (torch.optim.swa_utils)
    averaged = None if cfg.weight_ema is None else torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(cfg.weight_ema), use_buffers=True)
    kept = model if averaged is None else averaged.module
    best, best_state, bad, history = np.inf, None, 0, []
    bar = tqdm(range(cfg.max_epochs), desc=desc or f"{kind}", leave=False, disable=not progress, unit="epoch")
    for epoch in bar:
        model.train()
        total, n = 0.0, 0
        for batch in batcher.batches(split.train, cfg.batch_size, rng):
            opt.zero_grad()
            loss = loss_fn(model, batch, prop, cfg)
            if consistency is not None:
                loss = loss + cfg.blend_consistency * consistency.loss(model, max(1, len(batch.y) // 4), blend_rng)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            if averaged is not None:
                averaged.update_parameters(model)
            total += loss.item() * len(batch.y)
            n += len(batch.y)
        val_mae = float(np.mean(np.abs(predict_rows(kept, batcher, split.val) - table.y[split.val])))
        sched.step(val_mae)
        history.append({"epoch": epoch, "train_loss": total / max(n, 1), "val_mae": val_mae})
        bar.set_postfix(loss=f"{total / max(n, 1):.4f}", val_mae=f"{val_mae:.4g}")
        if val_mae < best - 1e-9:
            best, best_state, bad = val_mae, copy.deepcopy(kept.state_dict()), 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, hyper, {"best_val_mae": best, "epochs": len(history), "history": history}


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total, so containers count right)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# the packages whose versions can change a member's weights (kernels, featurisation, random streams)
WEIGHT_PACKAGES = ("torch", "torch_geometric", "rdkit", "numpy")


def member_threads(workers: int) -> int:
    """Threads each member trains on: the cores shared out between the worker processes (1 worker: all of them)."""
    return max(1, available_cores() // max(1, workers))


def training_environment(workers: int) -> dict:
    """What a member's weights depend on besides the code, the data and its seed: the thread count it trained on and
    the installed versions of the numerical packages. Stored with every run, so that two runs that differ can be
    told apart by a difference here or not at all."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in WEIGHT_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    threads = member_threads(workers) if workers > 1 else torch.get_num_threads()  # one worker: this process's
    return {"python": platform.python_version(), "packages": versions, "cores": available_cores(),
            "threads_per_member": threads}


def _fit_member_in_worker(table: MixtureTable, prop_name: str, kind: str, split: Split, cfg: TrainConfig,
                          member_seed: int, threads: int):
    """One ensemble member in its own process. Members are independent (own split, own seed), so they train in
    parallel without any coordination; the weights travel back as a state dict."""
    from model.properties import get_property

    torch.set_num_threads(threads)
    model, hyper, info = fit_member(table, split, get_property(prop_name), kind, cfg, member_seed, progress=False)
    return model.state_dict(), hyper, info


def fit_members(table: MixtureTable, prop: Property, kind: str, cfg: TrainConfig, splits: list[Split],
                seeds: list[int], workers: int = 1, progress: bool = True, desc: str = "") -> list[tuple]:
    """Member k trained on ``splits[k]`` with ``seeds[k]``: [(model, hyper, info)] in that order.

    With workers > 1 the members train in that many spawned processes, the cores shared out between them. Small
    graph networks use a second thread poorly (most of an epoch is many small kernels), so single-threaded members
    side by side train faster than one member on several threads (benchmarks/RESULTS.md has the timings). A member's
    result depends only on its split, its seed and its thread count, not on which process trained it.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if len(splits) != len(seeds):
        raise ValueError(f"{len(splits)} splits for {len(seeds)} seeds")
    cfg = resolve_config(table, prop, kind, cfg)  # a bad setting fails here, not in every worker
    members = len(splits)
    workers = min(workers, members)
    outer = tqdm(total=members, desc=desc or kind, disable=not progress, unit="member")
    results: dict[int, tuple] = {}
    if workers == 1:
        torch.set_num_threads(max(1, torch.get_num_threads()))
        for k, (split, seed) in enumerate(zip(splits, seeds)):
            results[k] = fit_member(table, split, prop, kind, cfg, seed, desc=f"member {k + 1}/{members}",
                                    progress=progress)
            outer.update()
            outer.set_postfix(val_mae=f"{results[k][2]['best_val_mae']:.4g}")
    else:
        threads = member_threads(workers)
        ctx = multiprocessing.get_context("spawn")  # fork after torch has started its thread pool can deadlock
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(_fit_member_in_worker, table, prop.name, kind, split, cfg, seed, threads): k
                       for k, (split, seed) in enumerate(zip(splits, seeds))}
            for fut in as_completed(futures):
                k = futures[fut]
                state, hyper, info = fut.result()
                model = build(kind, prop.law, log_scale=prop.log_scale, **hyper)
                model.load_state_dict(state)
                results[k] = (model.eval(), hyper, info)
                outer.update()
                outer.set_postfix(member=k + 1, val_mae=f"{info['best_val_mae']:.4g}")
    outer.close()
    return [results[k] for k in range(members)]


def train_ensemble(table: MixtureTable, prop: Property, kind: str, split_kind: str, members: int, seed: int,
                   cfg: TrainConfig, progress: bool = True, data_info: dict | None = None,
                   workers: int = 1, validate: str = "groups") -> tuple[Ensemble, list[Split]]:
    """Train `members` members, member k with seed seed+k on its split (``model.splits.member_splits``: split seed+k,
    or fold k of a cross-validated split; ``validate`` where a group split's members validate; ``fit_members``;
    ``workers`` processes)."""
    cfg = resolve_config(table, prop, kind, cfg)  # before any training; the run records the numbers it used
    t0 = time.perf_counter()
    splits = member_splits(table, split_kind, seed, members, validate)
    results = fit_members(table, prop, kind, cfg, splits, [seed + k for k in range(members)], workers, progress,
                          desc=f"{prop.name} {kind} ({split_kind})")
    models = [r[0] for r in results]
    infos = [{k2: v for k2, v in r[2].items() if k2 != "history"} for r in results]
    ens_info = {
        "split": split_kind,
        **({"validate": validate} if validate != "groups" else {}),
        "seed": seed,
        "train_config": asdict(cfg),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "workers": min(workers, members),
        "environment": training_environment(min(workers, members)),
        "member_info": infos,
        "data": data_info or {},
    }
    ens = Ensemble(models, prop, kind, results[-1][1], ens_info)
    ens.domain = Domain.build(table, np.concatenate([sp.train for sp in splits]))  # every row some member learnt from
    return ens, splits
