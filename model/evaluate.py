"""Evaluation of trained ensembles on their own held-out splits: the paper's Table 1, the order study
(Figure 2), MAE per temperature bucket (Figure 3a), and plots.

A run directory (written by ``diffmix train --out DIR``) holds the ensemble and ``splits.npz`` with each
member's train/val/test rows, so every number here is computed on exactly the rows that member never saw.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.constants import zero_Celsius

from model.data.dataset import Batcher, MixtureTable
from model.domain import Domain, pair_key
from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.mixture import Mixture
from model.splits import HELD_OUT_GROUP, T_SPLIT_K, Split
from model.train import VFT_HEAD, predict_rows

SPLITS_FILE = "splits.npz"
METRICS_FILE = "metrics.json"
BUCKET_WIDTH_C = 10
T_SPLIT_C = T_SPLIT_K - zero_Celsius  # the temperature split trains at and below this


def save_splits(directory: Path, splits: list[Split]) -> None:
    arrays = {}
    for k, s in enumerate(splits):
        arrays.update({f"train_{k}": s.train, f"val_{k}": s.val, f"test_{k}": s.test})
    np.savez_compressed(directory / SPLITS_FILE, **arrays)


def load_splits(directory: Path, table: MixtureTable | None = None) -> list[Split]:
    """Each member's stored split. With ``table``, the test rows it excludes (``model.data.errata``) are left out, so
    a run trained before an erratum was listed is scored like one trained after; its train and validation rows stay
    what the member learnt from."""
    z = np.load(directory / SPLITS_FILE)
    n = len([k for k in z.files if k.startswith("test_")])
    splits = [Split(z[f"train_{k}"], z[f"val_{k}"], z[f"test_{k}"]) for k in range(n)]
    if table is None:
        return splits
    return [Split(s.train, s.val, table.usable(s.test)) for s in splits]


def load_run(directory: Path, table: MixtureTable) -> tuple[Ensemble, list[Split]]:
    """A trained run and its members' splits on ``table`` (``load_splits``), after checking that ``table`` is the data
    it was trained on: the stored splits are row numbers, and on other data they would score the wrong rows."""
    ens = Ensemble.load(directory)
    trained_on = ens.info.get("data", {})
    if "rows_kept" in trained_on and trained_on["rows_kept"] != len(table):
        raise DiffMixInputError(
            f"{directory} was trained on {trained_on['rows_kept']} rows of {trained_on.get('file', 'its data')}, but "
            f"the data loaded now has {len(table)}; evaluate with the data folder it was trained on (--data-dir)")
    return ens, load_splits(directory, table)


def member_test_predictions(directory: Path, table: MixtureTable, batcher: Batcher | None = None,
                            select: Callable[[Split], np.ndarray] | None = None
                            ) -> Iterator[tuple[int, Split, np.ndarray, np.ndarray]]:
    """(member index, its split, rows, its predictions on them) for each member of a run, on its own test rows or on
    the rows ``select(split)`` picks from them; a member with no such rows is skipped."""
    ens, splits = load_run(directory, table)
    batcher = batcher or Batcher(table)
    for k, (member, split) in enumerate(zip(ens.members, splits)):
        rows = split.test if select is None else select(split)
        if len(rows):
            yield k, split, rows, predict_rows(member, batcher, rows)


def shared_test_predictions(directory: Path, table: MixtureTable, batcher: Batcher | None = None,
                            select: Callable[[np.ndarray], np.ndarray] | None = None
                            ) -> tuple[list[Split], np.ndarray, np.ndarray]:
    """A run's splits, the test rows every member shares (or those of them ``select(rows)`` keeps), in order, and
    each member's predictions on them [members, rows]: what the ensemble the product serves is scored on."""
    ens, splits = load_run(directory, table)
    rows = np.array(sorted(set.intersection(*(set(s.test.tolist()) for s in splits))), dtype=int)
    if select is not None:
        rows = select(rows)
    batcher = batcher or Batcher(table)
    return splits, rows, np.array([predict_rows(m, batcher, rows) for m in ens.members]).reshape(len(ens.members), -1)


def rk_order(ens: Ensemble) -> int | None:
    """The Redlich–Kister order N of a DiffMix excess-property ensemble; None for every other model."""
    if ens.kind == "diffmix" and ens.property.law == "redlich_kister":
        return ens.hyper.get("order")
    return None


def label(ens: Ensemble) -> str:
    """The model's name in tables: the kind, and for DiffMix conductivity each way it differs from the shipped design
    (the level at 25 °C and the bounded prefactor, like pairs, no blend law, no consistency term, no separate head
    decay, no weight average), and for either
    conductivity model the solvent terms it reads (model.nn.solvent); a group split's members that validated on rows
    (``model.splits.VALIDATE``) say so."""
    name = _design(ens)
    return f"{name}, validated on rows" if ens.info.get("validate") == "rows" else name


def _design(ens: Ensemble) -> str:
    order = rk_order(ens)
    if order is not None:
        return f"diffmix (N={order})"
    solvent_terms = ([f"Walden {ens.hyper['walden']:g}" + (", learned" if ens.hyper.get("walden_learned") else "")]
                     if ens.hyper.get("walden") else []) + \
        (["ion pairing"] if ens.hyper.get("permittivity") else []) + \
        (["salt-raised ε"] if ens.hyper.get("salt_dielectric") else []) + \
        (["mass action"] if ens.hyper.get("ion_association") else [])
    if ens.kind != "diffmix":
        return ", ".join([ens.kind, *solvent_terms])
    parts = ["diffmix", *solvent_terms]
    anchor, bound = ens.hyper.get("anchor_temperature_K"), ens.hyper.get("max_prefactor")
    sharpness = ens.hyper.get("bound_sharpness", 1.0)
    if anchor is None:
        parts.append("ln A head")  # the head shipped until 2026-12-04
    elif anchor != VFT_HEAD["anchor_temperature_K"]:
        parts.append(f"level at {anchor:g} K")
    if bound is None:
        parts.append("A unbounded")
    elif bound != VFT_HEAD["max_prefactor"] or sharpness != 1.0:
        parts.append(f"A ≤ {bound:g} mS/cm" + (f" (sharpness {sharpness:g})" if sharpness != 1.0 else ""))
    if ens.hyper.get("blend_order") is not None:
        parts.append(f"blend law (n={ens.hyper['blend_order']})")
    if ens.hyper.get("solvent_pairs") is False:
        parts.append("no solvent–solvent pairs")
    elif not ens.hyper.get("like_pairs"):
        parts.append("pairs a ≠ b")  # the design shipped until 2026-12-02
    cfg = ens.info.get("train_config", {})
    if cfg.get("blend_consistency"):
        parts.append(f"blend consistency {cfg['blend_consistency']:g}")
    if cfg.get("head_weight_decay") is not None:
        parts.append(f"head decay {cfg['head_weight_decay']:g}" + (f" ({cfg['head_decay_modules']})"
                                                                   if cfg.get("head_decay_modules") else ""))
    if cfg.get("weight_ema") is not None:
        parts.append(f"weight average {cfg['weight_ema']:g}")
    return ", ".join(parts)


@dataclass
class RunMetrics:
    label: str
    property: str
    split: str
    unit: str
    test_mae: list[float]  # one per member, on its own test rows
    permuted_mae: list[float]
    bucket_mae: dict[str, list[float]]  # temperature bucket (°C) → one MAE per member
    # the same, only on test rows whose mixture (components and fractions) the member was trained on at a
    # colder temperature: pure temperature extrapolation, which is what the paper's grid of AEM data tests
    bucket_mae_seen: dict[str, list[float]]
    parity: tuple[np.ndarray, np.ndarray]  # member 0's test targets and predictions
    order: int | None = None  # Redlich–Kister N (DiffMix on excess properties)
    # signed bias (mean predicted − measured) per temperature bucket, one per member, on every split
    bucket_bias: dict[str, list[float]] = field(default_factory=dict)
    # test MAE of rows inside / outside the applicability domain of each member's own training rows
    # ({"in": [...], "out": [...], "n_in": [...], "n_out": [...]}, one entry per member); empty when not asked for
    domain_mae: dict[str, list[float]] = field(default_factory=dict)
    # blends split: test MAE and row count by what the training rows taught (NOVELTY), one entry per member
    # ({"pairs taught": [...], "n pairs taught": [...], …}; NaN where a member has no such rows)
    novelty_mae: dict[str, list[float]] = field(default_factory=dict)
    # ln(predicted / measured) within each test publication spanning ≥ SLOPE_MIN_SPAN_K: its level and its slope
    # per 10 °C, summarised per member (PUBLICATION_STATS); empty without publication labels
    publication_slope: dict[str, list[float]] = field(default_factory=dict)
    # publication split: the signed bias per bucket once a level is known from one row of each test publication, or
    # of each system (salt and solvents) in each test publication (``one_point_levels``: what a lab's first
    # measurement tells the loop), the anchor rows left out; {"publication": {bucket: [per member]}, ...}
    bucket_bias_levelled: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"label": self.label, "property": self.property, "split": self.split, "unit": self.unit,
                "test_mae": self.test_mae, "permuted_mae": self.permuted_mae, "bucket_mae": self.bucket_mae,
                "bucket_mae_seen": self.bucket_mae_seen, "bucket_bias": self.bucket_bias,
                "domain_mae": self.domain_mae, "novelty_mae": self.novelty_mae,
                "publication_slope": self.publication_slope, "bucket_bias_levelled": self.bucket_bias_levelled}


def bucket_of(t_K: np.ndarray) -> np.ndarray:
    """Nearest multiple of 10 °C, halves rounded up: bucket c holds c − 5 ≤ t < c + 5 °C, so the many 25 °C rows
    count as 30 °C, never as the training range's 20 °C (the paper's buckets are −30 … 60 °C; the data goes higher)."""
    return (np.floor((t_K - zero_Celsius) / BUCKET_WIDTH_C + 0.5) * BUCKET_WIDTH_C).astype(int)


def mixture_keys(table: MixtureTable) -> list[tuple]:
    """One hashable key per row for 'the same mixture': its components and mole fractions (to 1e-3)."""
    order = np.argsort(table.idx, axis=1)
    idx = np.take_along_axis(table.idx, order, axis=1)
    x = np.round(np.take_along_axis(table.x, order, axis=1), 3)
    return [tuple(i) + tuple(v) for i, v in zip(idx.tolist(), x.tolist())]


def seen_in_training(keys: list[tuple], split: Split) -> np.ndarray:
    """For each test row: was its mixture (same components and fractions) among the training rows?"""
    trained = {keys[i] for i in split.train}
    return np.array([keys[i] in trained for i in split.test], dtype=bool)


def spans_a_decade(values: list[float]) -> bool:
    """Positive values over more than a factor of ten: a plot of them reads better on a log axis."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > 10


def bucket_means(err: np.ndarray, buckets: np.ndarray, into: dict[str, list[float]]) -> None:
    """Append the mean of ``err`` in each temperature bucket present (``bucket_of``) to ``into[str(bucket)]``: one
    value per member, which the tables then average."""
    for c in np.unique(buckets):
        into.setdefault(str(int(c)), []).append(float(err[buckets == c].mean()))


def row_mixture(table: MixtureTable, r: int) -> Mixture:
    """Row r of a table as a normalised mixture."""
    keep = sorted((table.vocab[i], x) for i, x in table.present(r))
    return Mixture(tuple(s for s, _ in keep), tuple(x for _, x in keep), float(table.T[r]), float(table.P[r]))


def domain_errors(table: MixtureTable, split: Split, err: np.ndarray) -> tuple[float, float, int, int]:
    """MAE of the test rows inside and outside the domain of this split's training rows, and their counts."""
    domain = Domain.build(table, split.train)
    inside = np.array([domain.check(row_mixture(table, int(r))).in_domain for r in split.test])
    mae = lambda m: float(err[m].mean()) if m.any() else float("nan")
    return mae(inside), mae(~inside), int(inside.sum()), int((~inside).sum())


# What the training rows of a blends split taught about a test row (see blend_novelty).
NOVELTY = ("pairs taught", "new pair", "new molecule")


def blend_novelty(table: MixtureTable, split: Split) -> np.ndarray:
    """One label of NOVELTY per test row of ``split``:
    - "new molecule": a species (solvent or ion) that no training row has;
    - "new pair": every species seen, but two of its solvents never together in a training row;
    - "pairs taught": every pair of its solvents occurs together in some training row.
    A model that builds a blend from what its binaries taught can be held to the last class; the first needs
    chemistry that no training row holds (on CALiSol-23's blends: TFP, methyl acetate, the aromatics). The species and
    pairs are those of the training rows' applicability domain, so "new pair" is what the domain flags as never together."""
    domain = Domain.build(table, split.train)  # its species and its pairs of solvents held together
    seen = set(domain.molecules) | set(domain.ions)
    pairs = domain.pairs or {}
    labels = []
    for r in split.test:
        species_ = sorted(table.vocab[i] for i, _ in table.present(int(r)))
        if not set(species_) <= seen:
            labels.append(NOVELTY[2])
        elif all(pair_key(a, b) in pairs for a, b in itertools.combinations([s for s in species_ if s in domain.molecules], 2)):
            labels.append(NOVELTY[0])
        else:
            labels.append(NOVELTY[1])
    return np.array(labels, dtype=object)


def ensemble_novelty(table: MixtureTable, splits: list[Split], rows: np.ndarray) -> np.ndarray:
    """NOVELTY labels of ``rows`` (test rows every member shares) for an ensemble: the most novel label any member
    gives, so a row is "pairs taught" only if every member's training rows taught its pairs (members' training sets
    differ by their validation draw, so member 0 alone can misclass a row at the margin)."""
    rank = np.zeros(len(rows), dtype=int)
    for split in splits:
        labels = dict(zip(split.test.tolist(), blend_novelty(table, split)))
        rank = np.maximum(rank, [NOVELTY.index(labels[int(r)]) for r in rows])
    return np.array([NOVELTY[k] for k in rank], dtype=object)


SLOPE_MIN_SPAN_K = 20.0  # a publication measured over a narrower range says nothing about the temperature slope
PUBLICATION_STATS = ("publications", "mean level", "mean |level|", "mean slope", "mean |slope|")


def publication_slopes(labels: np.ndarray, T: np.ndarray, log_ratio: np.ndarray) -> list[tuple[str, float, float]]:
    """(publication, level, slope) for each publication whose test rows span ≥ SLOPE_MIN_SPAN_K: the mean of
    ln(predicted / measured) over its rows and the least-squares slope of it against temperature, per 10 °C.

    The two answer different questions. A level ≠ 0 that does not change with temperature is the publication's
    offset from the rest of the data (or the model's from that chemistry), multiplied by κ, which grows with
    temperature: in mS/cm it looks like a temperature-dependent bias although the law's slope is right. The
    slope is what a temperature law can get wrong."""
    out = []
    for g in np.unique(labels):
        m = labels == g
        t = T[m]
        if t.max() - t.min() < SLOPE_MIN_SPAN_K:
            continue
        slope = np.polyfit(t, log_ratio[m], 1)[0] * BUCKET_WIDTH_C
        out.append((str(g), float(log_ratio[m].mean()), float(slope)))
    return out


ANCHOR_T_K = zero_Celsius + 25.0  # where a lab measures first
LEVEL_MIN_KAPPA = 0.1  # mS/cm: below it a ratio of predicted to measured says nothing about a lab's level


def one_point_levels(labels: np.ndarray, T: np.ndarray, log_ratio: np.ndarray,
                     usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's level ln(predicted / measured) as one measurement of its group (a publication, or a system within
    one) shows it, and which rows are those measurements: per group, its row nearest 25 °C (the first in row order on
    a tie) among the ``usable`` ones. ``predicted · exp(−level)`` is then the prediction with the lab's level taken
    out, as the loop's posterior does after a lab's first batch; scoring it on the other rows says how much of the
    error is that level. A group with no usable row keeps level 0 and no anchor (it is scored as predicted)."""
    level = np.zeros(len(labels))
    anchor = np.zeros(len(labels), dtype=bool)
    ok = np.ones(len(labels), dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    for g in np.unique(labels):
        rows = np.flatnonzero(labels == g)
        candidates = rows[ok[rows]]
        if len(candidates) == 0:
            continue
        first = candidates[np.argmin(np.abs(T[candidates] - ANCHOR_T_K))]
        level[rows] = log_ratio[first]
        anchor[first] = True
    return level, anchor


def _levelled_bias(table: MixtureTable, split: Split, pred: np.ndarray, y: np.ndarray,
                   into: dict[str, dict[str, list[float]]]) -> None:
    """One member's signed bias per bucket on its test rows once a level is known from one row of each test
    publication, and of each system within each publication (``one_point_levels``; the anchor rows left out)."""
    labels, t_test = np.asarray(table.groups["doi"])[split.test].astype(str), table.T[split.test]
    groups = {"publication": labels}
    if "system" in table.groups:
        systems = np.asarray(table.groups["system"])[split.test].astype(str)
        groups["publication and system"] = np.char.add(np.char.add(labels, " | "), systems)
    for name, g in groups.items():
        # a ratio of two conductivities near zero is no level: one row at 0.001 against 0.01 mS/cm would scale the
        # publication's every other row tenfold, so only rows where both are at least LEVEL_MIN_KAPPA anchor
        usable = (pred >= LEVEL_MIN_KAPPA) & (y >= LEVEL_MIN_KAPPA)
        level, anchor = one_point_levels(g, t_test, np.log(np.clip(pred, 1e-300, None) / y), usable)
        rest = ~anchor
        bucket_means((pred * np.exp(-level) - y)[rest], bucket_of(t_test[rest]), into.setdefault(name, {}))


def _slope_summary(found: list[tuple[str, float, float]], into: dict[str, list[float]]) -> None:
    level = np.array([f[1] for f in found]) if found else np.full(1, np.nan)
    slope = np.array([f[2] for f in found]) if found else np.full(1, np.nan)
    for name, v in zip(PUBLICATION_STATS, (len(found), level.mean(), np.abs(level).mean(), slope.mean(),
                                           np.abs(slope).mean())):
        into.setdefault(name, []).append(float(v))


def evaluate_run(directory: Path, table: MixtureTable, permute_seed: int = 12345, domain: bool = False) -> RunMetrics:
    """Every metric of one run on its members' own test rows; ``domain`` adds the in/out-of-domain MAE."""
    ens, splits = load_run(directory, table)
    batcher = Batcher(table)
    perm_batcher = Batcher(table.permuted(permute_seed))
    test, permuted, buckets, buckets_seen, bias = [], [], {}, {}, {}
    in_out: dict[str, list[float]] = {}
    novelty: dict[str, list[float]] = {}
    slopes: dict[str, list[float]] = {}
    levelled: dict[str, dict[str, list[float]]] = {}
    blends_split = ens.info.get("split") == "blends"
    publications = table.groups.get("doi")
    temperature_split = ens.info.get("split") == "temperature"
    keys = mixture_keys(table) if temperature_split else None
    parity = (np.zeros(0), np.zeros(0))
    for k, (member, split) in enumerate(zip(ens.members, splits)):
        y = table.y[split.test]
        pred = predict_rows(member, batcher, split.test)
        err = np.abs(pred - y)
        test.append(float(err.mean()))
        permuted.append(float(np.abs(predict_rows(member, perm_batcher, split.test) - y).mean()))
        if k == 0:
            parity = (y, pred)
        bucket_means(pred - y, bucket_of(table.T[split.test]), bias)
        if domain:
            for name, v in zip(("in", "out", "n_in", "n_out"), domain_errors(table, split, err)):
                in_out.setdefault(name, []).append(v)
        if blends_split:
            kind = blend_novelty(table, split)
            for c in NOVELTY:
                novelty.setdefault(c, []).append(float(err[kind == c].mean()) if (kind == c).any() else float("nan"))
                novelty.setdefault(f"n {c}", []).append(float((kind == c).sum()))
        if publications is not None and ens.property.log_scale:
            _slope_summary(publication_slopes(np.asarray(publications)[split.test], table.T[split.test],
                                              np.log(pred / y)), slopes)
            if HELD_OUT_GROUP.get(ens.info.get("split")) == "doi":
                _levelled_bias(table, split, pred, y, levelled)
        if temperature_split:
            b = bucket_of(table.T[split.test])
            bucket_means(err, b, buckets)
            seen = seen_in_training(keys, split)
            bucket_means(err[seen], b[seen], buckets_seen)
    return RunMetrics(label(ens), ens.property.name, ens.info.get("split", "?"), ens.property.unit,
                      test, permuted, buckets, buckets_seen, parity, rk_order(ens), bias, in_out, novelty, slopes,
                      levelled)


def find_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("config.json") if (p.parent / SPLITS_FILE).exists())


def fmt(values: list[float]) -> str:
    a = np.asarray(values)
    return f"{a.mean():.4g} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2g}"


def table1(metrics: list[RunMetrics]) -> str:
    lines = ["| property | split | model | test MAE | permuted MAE | unit |", "|---|---|---|---|---|---|"]
    for m in sorted(metrics, key=lambda m: (m.property, m.split, m.label)):
        lines.append(f"| {m.property} | {m.split} | {m.label} | {fmt(m.test_mae)} | {fmt(m.permuted_mae)} | {m.unit} |")
    return "\n".join(lines)


def bucket_table(metrics: list[RunMetrics], seen_only: bool = False) -> str:
    rows = [m for m in metrics if m.bucket_mae]
    if not rows:
        return ""
    pick = (lambda m: m.bucket_mae_seen) if seen_only else (lambda m: m.bucket_mae)
    cols = sorted({int(c) for m in rows for c in pick(m)})
    head = "| model | " + " | ".join(f"{c} °C" for c in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    for m in rows:
        cells = [fmt(pick(m)[str(c)]) if str(c) in pick(m) else "–" for c in cols]
        lines.append(f"| {m.label} ({m.property}) | " + " | ".join(cells) + " |")
    which = f"test rows whose mixture was measured at ≤ {T_SPLIT_C:.0f} °C too" if seen_only else "all test rows"
    lines.append(f"\n(trained on T ≤ {T_SPLIT_C:.0f} °C; {which}; every bucket is extrapolation)")
    return "\n".join(lines)


BIAS_BUCKETS_C = tuple(range(-30, 61, 10))  # the paper's temperature range


def bias_table(metrics: list[RunMetrics]) -> str:
    """Signed bias (mean predicted − measured) per 10 °C bucket from −30 to 60 °C, one row per run."""
    rows = [m for m in metrics if m.bucket_bias]
    if not rows:
        return ""
    lines = ["| model | split | " + " | ".join(f"{c} °C" for c in BIAS_BUCKETS_C) + " |",
             "|---|---|" + "---|" * len(BIAS_BUCKETS_C)]
    for m in sorted(rows, key=lambda m: (m.split, m.label)):
        levelled = [(f", the level of each {g} from one row", b) for g, b in m.bucket_bias_levelled.items()]
        for name, bias in [("", m.bucket_bias), *levelled]:
            if bias:
                cells = [f"{np.mean(bias[str(c)]):+.3f}" if str(c) in bias else "–" for c in BIAS_BUCKETS_C]
                lines.append(f"| {m.label} | {m.split}{name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (f"\n\n(mean over members of each member's mean signed error on its own test rows, "
                               f"{rows[0].unit}; \"level … from one row\": predictions divided by the ratio at the row "
                               "nearest 25 °C of each test publication, or of each system in it, those rows left out)")


def domain_table(metrics: list[RunMetrics]) -> str:
    """In-domain vs out-of-domain test MAE per run (each member judged by the domain of its own training rows)."""
    rows = [m for m in metrics if m.domain_mae]
    if not rows:
        return ""
    lines = ["| model | split | rows in domain | MAE in domain | rows out of domain | MAE out of domain | unit |",
             "|---|---|---|---|---|---|---|"]
    for m in sorted(rows, key=lambda m: (m.split, m.label)):
        d = m.domain_mae
        cell = lambda vals: fmt(kept) if (kept := [v for v in vals if v == v]) else "–"  # NaN: no rows on that side
        lines.append(f"| {m.label} | {m.split} | {int(np.sum(d['n_in']))} | {cell(d['in'])} | "
                     f"{int(np.sum(d['n_out']))} | {cell(d['out'])} | {m.unit} |")
    return "\n".join(lines)


def novelty_table(metrics: list[RunMetrics]) -> str:
    """Blends split: test MAE by what the training rows taught (NOVELTY), rows summed over the members."""
    rows = [m for m in metrics if m.novelty_mae]
    if not rows:
        return ""
    lines = ["| model | " + " | ".join(f"{c}: rows | {c}: MAE" for c in NOVELTY) + " | unit |",
             "|---|" + "---|---|" * len(NOVELTY) + "---|"]
    for m in sorted(rows, key=lambda m: m.label):
        cells = []
        for c in NOVELTY:
            kept = [v for v in m.novelty_mae[c] if v == v]
            cells += [str(int(np.sum(m.novelty_mae[f"n {c}"]))), fmt(kept) if kept else "–"]
        lines.append(f"| {m.label} | " + " | ".join(cells) + f" | {m.unit} |")
    return "\n".join(lines) + (
        "\n\n(pairs taught: every two of the blend's solvents occur together in a training row; new pair: every "
        "molecule seen, two solvents never together; new molecule: a species no training row has)")


def slope_table(metrics: list[RunMetrics]) -> str:
    """Per test publication, ln(predicted / measured): its level and its slope per 10 °C (publication_slopes),
    averaged over the publications of each member and then over the members."""
    rows = [m for m in metrics if m.publication_slope]
    if not rows:
        return ""
    lines = ["| model | split | publications | mean level | mean \\|level\\| | mean slope per 10 °C | "
             "mean \\|slope\\| per 10 °C |", "|---|---|---|---|---|---|---|"]
    for m in sorted(rows, key=lambda m: (m.split, m.label)):
        st = {k: [v for v in vals if v == v] for k, vals in m.publication_slope.items()}  # NaN: no publication
        mean = {k: float(np.mean(vals)) if vals else float("nan") for k, vals in st.items()}
        lines.append(f"| {m.label} | {m.split} | {int(np.sum(st['publications']))} | {mean['mean level']:+.3f} | "
                     f"{mean['mean |level|']:.3f} | {mean['mean slope']:+.4f} | {mean['mean |slope|']:.4f} |")
    return "\n".join(lines) + (
        f"\n\n(ln κ units: 0.1 is 10 %; publications whose test rows span ≥ {SLOPE_MIN_SPAN_K:g} K; a level with "
        "no slope is an offset of that publication, which in mS/cm grows with κ and so with temperature)")


def order_rank(m: RunMetrics) -> tuple[int, int]:
    """Order-study position: linear mixing, DiffMix N = 0, 4, 9, 14 …, then GNN-only (the paper's Figure 2)."""
    if m.label == "linear_mixing":
        return (0, 0)
    if m.order is not None:
        return (1, m.order)
    return (2, 0) if m.label == "gnn_only" else (3, 0)


def order_study(metrics: list[RunMetrics]) -> list[RunMetrics]:
    return sorted((m for m in metrics if m.split == "random" and order_rank(m)[0] < 3), key=order_rank)


def order_table(metrics: list[RunMetrics]) -> str:
    lines = ["| property | model | test MAE | unit |", "|---|---|---|---|"]
    for prop in sorted({m.property for m in metrics}):
        lines += [f"| {prop} | {m.label} | {fmt(m.test_mae)} | {m.unit} |" for m in metrics if m.property == prop]
    return "\n".join(lines)


def plot_bars(metrics: list[RunMetrics], out: Path, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    names = [m.label for m in metrics]
    means = [np.mean(m.test_mae) for m in metrics]
    stds = [np.std(m.test_mae, ddof=1) if len(m.test_mae) > 1 else 0 for m in metrics]
    ax.bar(names, means, yerr=stds, capsize=4, color="#4c72b0", ecolor="black")
    ax.set_ylabel(f"test MAE ({metrics[0].unit})")
    if spans_a_decade(means):  # a weak baseline would flatten the models that matter
        ax.set_yscale("log")
        ax.set_ylabel(f"test MAE ({metrics[0].unit}, log scale)")
    for x, (m, sd) in enumerate(zip(means, stds)):  # the value above its error bar
        ax.annotate(f"{m:.3g}", (x, m + sd), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=8)
    ax.margins(y=0.12)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=25)
    fig.tight_layout()
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


def plot_buckets(metrics: list[RunMetrics], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for m in metrics:
        cols = sorted(int(c) for c in m.bucket_mae)
        ax.errorbar(cols, [np.mean(m.bucket_mae[str(c)]) for c in cols],
                    yerr=[np.std(m.bucket_mae[str(c)]) for c in cols], marker="o", capsize=3, label=m.label)
    ax.axvline(T_SPLIT_C, color="grey", ls="--", lw=1)
    ax.text(T_SPLIT_C + 1, 0.92, "extrapolation →", color="grey", transform=ax.get_xaxis_transform())
    ax.set_xlabel("temperature (°C)")
    ax.set_ylabel(f"MAE ({metrics[0].unit})")
    # the sparse hot tail (up to tens of mS/cm) would otherwise flatten the 30–60 °C buckets
    if spans_a_decade([float(np.mean(v)) for m in metrics for v in m.bucket_mae.values()]):
        ax.set_yscale("log")
        ax.set_ylabel(f"MAE ({metrics[0].unit}, log scale)")
    ax.set_title("Ionic conductivity: MAE by temperature (trained on ≤ 20 °C)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


def plot_parity(m: RunMetrics, out: Path) -> Path:
    y, p = m.parity
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.scatter(y, p, s=6, alpha=0.5)
    lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"measured ({m.unit})")
    ax.set_ylabel(f"predicted ({m.unit})")
    ax.set_title(f"{m.property}\n{m.label}, {m.split} split, member 1 test set", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=150)
    plt.close(fig)
    return out


# where the domain report is measured: every split that holds out what the model was not trained on
DOMAIN_SPLITS = ("blends", *HELD_OUT_GROUP)


def report(runs_root: Path, tables: dict[str, MixtureTable], plots_dir: Path) -> str:
    cfg = lambda r: json.loads((r / "config.json").read_text())
    metrics = [evaluate_run(r, tables[cfg(r)["property"]], domain=cfg(r).get("split") in DOMAIN_SPLITS)
               for r in find_runs(runs_root)
               if json.loads((r / "config.json").read_text())["property"] in tables]
    plots_dir.mkdir(parents=True, exist_ok=True)
    out = ["## Table 1 (test MAE mean ± std over the ensemble members; permuted = component order shuffled)",
           table1(metrics)]
    for prop in sorted({m.property for m in metrics}):
        rnd = [m for m in metrics if m.property == prop and m.split == "random"]
        if rnd:
            plot_bars(rnd, plots_dir / f"{prop}_models.png", f"{prop}: random split")
            best = min(rnd, key=lambda m: np.mean(m.test_mae))
            plot_parity(best, plots_dir / f"{prop}_parity.png")
    study = [m for m in order_study(metrics) if m.property != "ionic_conductivity"]
    if study:
        out += ["## Order study (random split: linear mixing, Redlich–Kister N, GNN-only)", order_table(study)]
        for prop in sorted({m.property for m in study}):
            plot_bars([m for m in study if m.property == prop], plots_dir / f"{prop}_order_study.png",
                      f"{prop}: Redlich–Kister order study")
    temp = [m for m in metrics if m.split == "temperature"]
    if temp:
        out += ["## MAE per temperature bucket (temperature split)", bucket_table(temp),
                f"### the same, mixtures seen at ≤ {T_SPLIT_C:.0f} °C only (pure temperature extrapolation)",
                bucket_table(temp, seen_only=True)]
        plot_buckets(temp, plots_dir / "temperature_buckets.png")
    kappa = [m for m in metrics if m.property == "ionic_conductivity"
             and (m.split in ("random", "blends") or HELD_OUT_GROUP.get(m.split) == "doi")]
    if kappa:
        out += ["## Signed bias per 10 °C bucket (ionic conductivity)", bias_table(kappa)]
        out += ["## ln(predicted / measured) within each test publication: level and temperature slope",
                slope_table(kappa)]
    blends = [m for m in metrics if m.novelty_mae]
    if blends:
        out += ["## The blends split by what the binaries taught", novelty_table(blends)]
    if any(m.domain_mae for m in metrics):
        out += ["## The applicability domain: test MAE in and out of domain", domain_table(metrics)]
    (plots_dir / METRICS_FILE).write_text(json.dumps([m.as_dict() for m in metrics], indent=1))
    out.append(f"plots and metrics.json written to {plots_dir}")
    return "\n\n".join(out)
