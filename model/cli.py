"""Model commands of the `diffmix` CLI: data, train, evaluate, predict (optimize and landscape in model/optimize)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import typer

from model.errors import DiffMixInputError
from model.properties import KAPPA_FIT_OFFSET, PROPERTIES

app = typer.Typer(no_args_is_help=True, add_completion=False)
data_app = typer.Typer(no_args_is_help=True, help="The public data sets: where they are, fetching them.")


# train and evaluate: the rows of a publication listed as wrong (model.data.errata) are kept in the table but used by
# no split; this takes them back in
KEEP_ERRATA = typer.Option(False, "--keep-errata", help="Also use the rows of publications listed as wrong "
                           "(model.data.errata; `diffmix data info` lists them): reproduces runs made before the listing")


def data_dir_option(given: Path | None) -> Path:
    """--data-dir, else the configured DIFFMIX_DATA_DIR, else the folder found beside the project."""
    from diffmix.settings import Settings
    from model.data.loaders import data_dir

    return data_dir(given or Settings().data_dir)


def models_option(prop: str, given: Path | None) -> Path:
    """--model, else <DIFFMIX_MODELS_DIR>/<property>, else the shipped ensemble."""
    from diffmix.settings import Settings
    from model.predict import model_dir

    return given or model_dir(prop, Settings().models_dir)


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@data_app.command("info")
def data_info(data_dir: Path | None = typer.Option(None, help="Folder with the CSVs (default: $DIFFMIX_DATA_DIR or ../shared/data)")):
    """Show where the data is read from, checksums, how CALiSol rows were normalised and what each file kept,
    dropped (and why) or corrected."""
    from model.data import loaders
    from model.fetch import verify

    d = data_dir_option(data_dir)
    out = {"data_dir": str(d), "files": verify(d)}
    for prop in PROPERTIES:
        name = loaders.file_for(prop)
        if (d / name).exists():
            out[name.removesuffix(".csv")] = loaders.load_table(prop, d)[1]
    typer.echo(json.dumps(out, indent=2))


@data_app.command("fetch")
def data_fetch(
    data_dir: Path | None = typer.Option(None, help="Where to put the files"),
    calisol_url: str | None = typer.Option(None, help="Direct URL of the CALiSol-23 CSV"),
    allow_different: bool = typer.Option(False, help="Keep a download whose sha256 differs from the pinned one"),
):
    """Download the public originals (needs internet access)."""
    from diffmix import logs
    from model.fetch import fetch

    logs.configure()
    status = fetch(data_dir_option(data_dir), calisol_url, allow_different)
    typer.echo(json.dumps(status, indent=2))
    if any(v.startswith("refused") for v in status.values()):
        raise typer.Exit(1)


app.add_typer(data_app, name="data")

# the defaults the help texts quote, from the one place that sets them
HUBER_DEFAULTS = ", ".join(f"{p.name} {p.huber_beta:g}" for p in PROPERTIES.values())


@app.command()
def train(
    property: str = typer.Option(..., "--property", help="ionic_conductivity | excess_molar_enthalpy | excess_molar_volume"),
    model: str = typer.Option("diffmix", help="diffmix | gnn_only | fingerprint | linear_mixing"),
    order: int = typer.Option(4, help="Redlich–Kister order N (excess properties)"),
    split: str = typer.Option("random", help="random | temperature | components | publication | blends | "
                              "publication_folds | components_folds (member k of K tests on fold k: every "
                              "publication or system held out once)"),
    validate: str = typer.Option(
        "groups", help="Where the members of a group split (components, publication, the folds) validate for early "
        "stopping: groups (whole publications or systems of their own) | rows (a random ninth of their training "
        "rows, as the shipped models' random split; the test groups stay unseen)"),
    ensemble: int = typer.Option(5, min=1, help="Ensemble members (one split each)"),
    seed: int = typer.Option(0, help="Seed of the splits and of the first member (member k uses seed + k)"),
    workers: int = typer.Option(0, min=0, help="Members trained at once in separate processes (0: one per core)"),
    out: Path = typer.Option(..., help="Output directory for the ensemble"),
    max_epochs: int = typer.Option(300, min=1, help="Most epochs per member"),
    patience: int = typer.Option(30, min=1, help="Stop a member after this many epochs without a better validation loss"),
    batch_size: int = typer.Option(256, min=1, help="Mixtures per gradient step"),
    lr: float = typer.Option(2e-3, help="Adam learning rate"),
    weight_decay: float = typer.Option(1e-6, min=0.0, help="Adam's L2 penalty on every weight"),
    weight_ema: float | None = typer.Option(
        None, min=0.0, max=1.0, help="Validate, early-stop and keep an exponential moving average of the weights with "
        "this decay per step (e.g. 0.997: about 300 steps) instead of the last weights (default: off)"),
    head_weight_decay: float | None = typer.Option(
        None, min=0.0, help="Adam's L2 penalty on the mixture head only (all but the molecule encoder; default: "
        "--weight-decay)"),
    head_decay_modules: str | None = typer.Option(
        None, help="Comma-separated submodules of the mixture head that --head-weight-decay applies to (e.g. coeff; "
        "default: all but the molecule encoder)"),
    hidden: int = typer.Option(64, min=4, help="Width of the GNN and of the coefficient heads"),
    coeff_layers: int = typer.Option(2, min=1, help="Hidden layers of DiffMix's VFT coefficient head (conductivity)"),
    mol_descriptors: bool = typer.Option(
        False, help="The molecule encoder also reads whole-molecule descriptors (molar mass and refractivity, polar "
        "surface area, log P, rotatable bonds, sp³ fraction, H-bond donors; default: the graph alone)"),
    huber_beta: float | None = typer.Option(
        None, min=0.0, help="Huber loss β in fit units (κ: ln units; excess: training-set std; default: the "
        f"property's: {HUBER_DEFAULTS}); smaller is closer to an absolute-error fit"),
    carrier_density: bool = typer.Option(
        False, help="DiffMix conductivity: VFT prefactor proportional to the ions' mole fraction"),
    prefactor_power: float = typer.Option(
        0.0, min=0.0, max=3.0, help="DiffMix conductivity: VFT prefactor ∝ T^−n (1: Nernst–Einstein; 0: plain VFT)"),
    max_prefactor: float | None = typer.Option(
        None, min=0.0, help="DiffMix conductivity: a smooth upper bound on the VFT prefactor A, mS/cm (κ < A at every "
        "temperature; default: 3000, the shipped design; 0: unbounded)"),
    bound_sharpness: float = typer.Option(
        1.0, min=0.01, help="DiffMix conductivity: sharpness k of the --max-prefactor bound, "
        "ln A_max − softplus(k (ln A_max − a)) / k (1: the bound as first measured)"),
    anchor_temperature: float | None = typer.Option(
        None, min=0.0, help="DiffMix conductivity: the VFT head gives ln κ at this temperature (K, above the largest "
        "Vogel temperature) in place of ln A (default: 298.15, the shipped design; 0: the ln A head)"),
    walden: float = typer.Option(
        0.0, min=0.0, max=2.0, help="Conductivity (DiffMix, GNN-only): κ ∝ (the blend's viscosity)^−n, from each "
        "solvent's tabulated viscosity mixed ideally in ln η (1: Walden's rule; 0: off, the shipped design)"),
    permittivity: bool = typer.Option(
        False, help="Conductivity (DiffMix, GNN-only): ln κ −= β / ε_blend, ion pairing in a blend of low permittivity "
        "(tabulated ε mixed by mole shares; β learned; default: off)"),
    salt_dielectric: bool = typer.Option(
        False, help="With --permittivity: the salt's ion pairs raise the solution's permittivity, ε = ε_blend + γ·(mol "
        "salt per mol solvent), γ learned (default: off)"),
    walden_learned: bool = typer.Option(
        False, help="With --walden α: the exponent starts at α and is learned (the fractional Walden rule; default: fixed)"),
    ion_association: bool = typer.Option(
        False, help="With --permittivity: the pairing term as the free-ion fraction of the pair equilibrium (mass "
        "action), K = K0·exp(β/ε), instead of −β/ε (default: off)"),
    blend_order: int | None = typer.Option(
        None, min=0, max=4, help="DiffMix conductivity: the VFT coefficients of a blend mixed from the salt in each "
        "solvent alone by the solvent shares, with Redlich–Kister pair terms up to this order (default: one pooled head)"),
    binary_blend: bool = typer.Option(
        False, help="DiffMix conductivity: a blend of three or more solvents has the mean VFT coefficients of its binary "
        "sub-blends, weighted by the product of the two solvents' shares (default: the pooled head answers it)"),
    pair_pool: bool = typer.Option(
        True, help="DiffMix conductivity: the VFT coefficients see pairwise (ion–solvent) pooling as well"),
    solvent_pairs: bool = typer.Option(
        True, help="DiffMix conductivity: the pairwise pooling includes solvent–solvent pairs (--no-solvent-pairs: "
        "only pairs with an ion, each of which a binary with that salt teaches)"),
    like_pairs: bool = typer.Option(
        True, help="DiffMix conductivity: the pair network sees (h_a + h_b, |h_a − h_b|) and the pooling includes a "
        "molecule with itself, so similar molecules never seen together pair as each does with itself (the shipped "
        "design; --no-like-pairs: ψ(h_a, h_b) over a ≠ b, the design before 2026-12-02)"),
    blend_consistency: float = typer.Option(
        0.0, min=0.0, help="Conductivity: weight of an unlabeled term that holds blends of three solvents, made from "
        "the training rows, between their binary sub-blends (model.consistency; 0: off)"),
    log_offset: float | None = typer.Option(
        None, min=0.0, help=f"Conductivity is fitted in ln(κ + this), mS/cm (default {KAPPA_FIT_OFFSET:g}; 0 fits ln κ)"),
    data_dir: Path | None = typer.Option(None, help="Folder with the CSVs (default: $DIFFMIX_DATA_DIR or ../shared/data)"),
    keep_errata: bool = KEEP_ERRATA,
    progress: bool = typer.Option(True, help="Show progress bars"),
    lab_results: str | None = typer.Option(
        None, "--lab-results", help="Fine-tune the base model (--base-model, default: the shipped one) on every measured "
        "result of a lab instead of training: a DATABASE_URL, or a results file (GET /v1/results as JSON)"),
    base_model: Path | None = typer.Option(None, "--base-model", help="The model --lab-results fine-tunes"),
):
    """Train an ensemble (early stopping on validation) and save it with its splits and test metrics; or, with
    --lab-results, fine-tune a trained one on a lab's measurements."""
    if lab_results is not None:
        return _train_on_lab(property, lab_results, base_model, out, seed)
    from model.data.loaders import load_table
    from model.evaluate import evaluate_run, fmt, save_splits
    from model.nn.models import MODEL_KINDS
    from model.properties import get_property
    from model.splits import SPLITS, member_splits
    from model.train import TrainConfig, available_cores, resolve_config, train_ensemble

    try:
        prop = get_property(property)
        if model not in MODEL_KINDS:
            fail(f"unknown model {model!r}; choose one of {', '.join(MODEL_KINDS)}")
        if split not in SPLITS:
            fail(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        table, info = load_table(property, data_dir_option(data_dir), errata=not keep_errata)
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))
    try:
        cfg = TrainConfig(max_epochs=max_epochs, patience=patience, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                          head_weight_decay=head_weight_decay, weight_ema=weight_ema,
                          head_decay_modules=head_decay_modules,
                          hidden=hidden, order=order, coeff_layers=coeff_layers, mol_descriptors=mol_descriptors, carrier_density=carrier_density,
                          prefactor_power=prefactor_power, max_prefactor=max_prefactor, bound_sharpness=bound_sharpness, anchor_temperature_K=anchor_temperature, walden=walden, permittivity=permittivity,
                          salt_dielectric=salt_dielectric, ion_association=ion_association, walden_learned=walden_learned, pair_pool=pair_pool, blend_order=blend_order,
                          binary_blend=binary_blend, solvent_pairs=solvent_pairs, like_pairs=like_pairs, blend_consistency=blend_consistency, log_offset=log_offset, huber_beta=huber_beta)
        cfg = resolve_config(table, prop, model, cfg)
        member_splits(table, split, seed, ensemble, validate)  # e.g. more folds than publications
    except ValueError as e:  # a setting the property or the model cannot take, before any training
        fail(str(e))
    ens, splits = train_ensemble(table, prop, model, split, ensemble, seed, cfg, progress=progress, data_info=info,
                                 workers=workers or available_cores(), validate=validate)
    ens.save(out)
    save_splits(out, splits)
    m = evaluate_run(out, table)
    summary = {"out": str(out), "model": m.label, "split": split, "test_mae": fmt(m.test_mae),
               "permuted_mae": fmt(m.permuted_mae), "unit": prop.unit, "train_seconds": ens.info["train_seconds"],
               # a log that names each member's score and the process count reproduces without the run directory
               # (a member's weights depend on its seed and its thread count, which follows from the workers)
               "member_test_mae": [round(v, 4) for v in m.test_mae], "workers": ens.info["workers"]}
    typer.echo(json.dumps(summary))


def _train_on_lab(prop: str, source: str, base_model: Path | None, out: Path, seed: int) -> None:
    """``train --lab-results``: the base ensemble fine-tuned on the lab's results, in the shipped format."""
    from diffmix.lab_results import mixtures_and_values, read
    from model.finetune import finetune
    from model.predict import Predictor

    if prop != "ionic_conductivity":
        fail("--lab-results fine-tunes the conductivity model (the lab measures κ)")
    try:
        rows = read(source)
        mixtures, values = mixtures_and_values(rows)
        base = Predictor.load(prop, models_option(prop, base_model)).ensemble
        tuned = finetune(base, mixtures, values, seed=seed)
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))
    tuned.info["finetuned"]["source"] = source.split("@")[-1]  # never a password in a checkpoint
    tuned.save(out)
    pred = tuned.predict(mixtures).mean
    before = base.predict(mixtures).mean
    typer.echo(json.dumps({"out": str(out), "measurements": len(values),
                           "mae_before": float(np.mean(np.abs(before - values))),
                           "mae_after_in_sample": float(np.mean(np.abs(pred - values)))}))


@app.command()
def evaluate(
    runs: Path = typer.Option(..., help="Folder holding run directories written by `diffmix train --out`"),
    plots: Path = typer.Option(Path("plots"), help="Where to write the PNG plots"),
    data_dir: Path | None = typer.Option(None, help="Folder with the CSVs (default: $DIFFMIX_DATA_DIR or ../shared/data)"),
    keep_errata: bool = KEEP_ERRATA,
):
    """Print Table 1, the order study and the temperature buckets for every run found; save plots."""
    from model.data.loaders import load_table
    from model.evaluate import find_runs, report

    found = find_runs(runs)
    if not found:
        fail(f"no trained runs under {runs} (train some with `diffmix train --out {runs}/NAME`)")
    props = {json.loads((r / "config.json").read_text())["property"] for r in found}
    try:
        tables = {p: load_table(p, data_dir_option(data_dir), errata=not keep_errata)[0] for p in props}
        typer.echo(report(runs, tables, plots))
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))


@app.command()
def predict(
    property: str = typer.Option(..., "--property", help="ionic_conductivity | excess_molar_enthalpy | excess_molar_volume"),
    input: Path | None = typer.Option(None, "--input", help="JSONL file, one mixture record per line ('-' = stdin)"),
    formulation: str | None = typer.Option(
        None, "--formulation", help="Instead of --input, one electrolyte as a lab writes it: '1.2 M LiPF6 in EC:EMC 3:7 "
        "(w/w)', '1 m LiFSI in DME' (M = mol/L, m = mol/kg; ratio by w/w, v/v or mol); needs a temperature"),
    temperature_K: float | None = typer.Option(None, "--temperature-K", help="With --formulation: the temperature in K"),
    temperature_C: float | None = typer.Option(None, "--temperature-C", help="With --formulation: the temperature in °C"),
    model: Path | None = typer.Option(None, "--model", help="Model directory (default: the shipped ensemble)"),
    gradient: bool = typer.Option(False, help="Also output ∂P/∂x for every species"),
    on_error: str = typer.Option(
        "fail", "--on-error", help="A bad record is reported on stderr with its number and line, and the others are "
        "predicted either way; 'fail' (default) then exits with code 2, 'skip' exits 0 (one of: fail, skip)"),
):
    """Predict a property for every record; records are echoed with prediction, std, unit and domain."""
    from model.mixture import Mixture
    from model.predict import Predictor

    if on_error not in ("fail", "skip"):
        fail(f"--on-error {on_error!r} is not one of: fail, skip")
    if (input is None) == (formulation is None):
        fail("give --input FILE (JSONL records) or --formulation TEXT, one of them")
    if formulation is not None:
        if (temperature_K is None) == (temperature_C is None):
            fail("--formulation needs --temperature-K or --temperature-C (one of them)")
        temp = {"temperature_K": temperature_K} if temperature_K is not None else {"temperature_C": temperature_C}
        text = json.dumps({"formulation": formulation, **temp})
    elif temperature_K is not None or temperature_C is not None:
        fail("--temperature-K/--temperature-C go with --formulation; records carry their own temperature")
    else:
        assert input is not None
        text = sys.stdin.read() if str(input) == "-" else (input.read_text() if input.exists() else None)
        if text is None:
            fail(f"input file {input} not found")
    try:
        predictor = Predictor.load(property, models_option(property, model))
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))
    good: list[tuple[dict, Mixture]] = []
    errors = 0
    index = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        index += 1
        try:
            rec = json.loads(line)
            good.append((rec, predictor.parse(rec)))
        except json.JSONDecodeError as e:
            errors += 1
            typer.echo(f"error: record {index} (line {n}): not valid JSON ({e.msg})", err=True)
        except DiffMixInputError as e:
            errors += 1
            typer.echo(f"error: record {index} (line {n}): {e}", err=True)
    rows = predictor.predict_mixtures([m for _, m in good], gradient=gradient)
    for (rec, _), row in zip(good, rows):
        typer.echo(json.dumps({**rec, **row}))
    if errors:
        typer.echo(f"{errors} of {index} records had errors; {len(good)} predicted", err=True)
        if on_error == "fail":
            raise typer.Exit(2)


@app.command()
def domain(
    model: Path = typer.Option(..., "--model", help="A model directory written by `diffmix train` (with splits.npz)"),
    data_dir: Path | None = typer.Option(None, help="Folder with the CSVs (default: $DIFFMIX_DATA_DIR or ../shared/data)"),
):
    """(Re)build a model's applicability domain (domain.json) from the rows its members trained on."""
    from model.data.loaders import load_table
    from model.domain import Domain
    from model.ensemble import Ensemble
    from model.evaluate import SPLITS_FILE, load_splits

    try:
        ens = Ensemble.load(model)
        if not (model / SPLITS_FILE).exists():
            fail(f"{model} has no {SPLITS_FILE}: the training rows are unknown")
        table, _ = load_table(ens.property.name, data_dir_option(data_dir))
        rows = np.concatenate([s.train for s in load_splits(model)])
        d = Domain.build(table, rows)
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))
    path = d.save(model)
    typer.echo(json.dumps({"out": str(path), "rows": d.rows, "salts": len(d.salts), "molecules": len(d.molecules),
                           "max_solvents": d.max_solvents, "solvent_pairs": len(d.pairs or {})}))
