"""`diffmix optimize` and `diffmix landscape`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

from model.errors import DiffMixInputError

app = typer.Typer(add_completion=False)


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise DiffMixInputError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _objective(property, model, salt, salt_fraction, salt_fraction_range, salt_molality, solvents, solvent_ratio,
               lower, upper, exclude, temperature_K, temperature_range_K, aggregate, minimize, beta):
    from model.optimize.problem import build_objective
    from model.predict import Predictor

    if property != "ionic_conductivity":
        raise DiffMixInputError("composition design is implemented for ionic_conductivity")
    ens = Predictor.load(property, model).ensemble
    return build_objective(
        ens, salt, solvents.split(","), salt_fraction, salt_fraction_range, salt_molality,
        _floats(solvent_ratio, "--solvent-ratio"), _floats(lower, "--lower"), _floats(upper, "--upper"),
        exclude or [], temperature_K, temperature_range_K, aggregate, not minimize, beta)


SPACE_OPTIONS = dict(
    property=typer.Option("ionic_conductivity", "--property"),
    model=typer.Option(None, "--model", help="Model directory (default: the shipped ensemble)"),
    salt=typer.Option(..., "--salt", help="Salt SMILES with its ions, e.g. '[Li+].F[P-](F)(F)(F)(F)F'"),
    salt_fraction=typer.Option(None, "--salt-fraction", help="Fixed cation mole fraction (ions counted separately)"),
    salt_fraction_range=typer.Option(None, "--salt-fraction-range", help="Free cation fraction: LO HI"),
    salt_molality=typer.Option(None, "--salt-molality", help="Fixed salt molality in mol/kg (needs --solvent-ratio)"),
    solvents=typer.Option(..., "--solvents", help="Comma-separated solvent SMILES (2 to 6 or more)"),
    solvent_ratio=typer.Option(None, "--solvent-ratio", help="Fixed solvent ratio, e.g. 0.7,0.3 (salt is then optimised)"),
    lower=typer.Option(None, "--lower", help="Per-solvent lower bounds on the solvent ratio, comma-separated"),
    upper=typer.Option(None, "--upper", help="Per-solvent upper bounds, comma-separated"),
    exclude=typer.Option(None, "--exclude", help="Solvent forced to zero (repeatable)"),
    temperature_K=typer.Option(None, "--temperature-K"),
    temperature_range_K=typer.Option(None, "--temperature-range-K", help="LO HI: optimise over a range"),
    aggregate=typer.Option("worst", "--aggregate", help="worst | mean, over the temperature range"),
    minimize=typer.Option(False, "--minimize"),
    beta=typer.Option(0.0, "--beta", help="Uncertainty bonus: mean + β·std"),
)


@app.command()
def optimize(
    property: str = SPACE_OPTIONS["property"], model: Path | None = SPACE_OPTIONS["model"],
    salt: str = SPACE_OPTIONS["salt"], salt_fraction: float | None = SPACE_OPTIONS["salt_fraction"],
    salt_fraction_range: tuple[float, float] | None = SPACE_OPTIONS["salt_fraction_range"],
    salt_molality: float | None = SPACE_OPTIONS["salt_molality"], solvents: str = SPACE_OPTIONS["solvents"],
    solvent_ratio: str | None = SPACE_OPTIONS["solvent_ratio"], lower: str | None = SPACE_OPTIONS["lower"],
    upper: str | None = SPACE_OPTIONS["upper"], exclude: list[str] | None = SPACE_OPTIONS["exclude"],
    temperature_K: float | None = SPACE_OPTIONS["temperature_K"],
    temperature_range_K: tuple[float, float] | None = SPACE_OPTIONS["temperature_range_K"],
    aggregate: str = SPACE_OPTIONS["aggregate"], minimize: bool = SPACE_OPTIONS["minimize"],
    beta: float = SPACE_OPTIONS["beta"],
    starts: int = typer.Option(4, "--starts"),
    start_mode: str = typer.Option("random", "--start-mode", help="random | spread | given"),
    start: list[str] | None = typer.Option(None, "--start", help="A start: solvent ratio and cation fraction, 's1,s2,s3,f' (repeatable; implies --start-mode given)"),
    seed: int = typer.Option(0, "--seed"),
    max_iter: int = typer.Option(200, "--max-iter"),
    plot: Path | None = typer.Option(None, "--plot", help="Write the landscape with the trajectories as PNG"),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON"),
):
    """Batch gradient ascent over a composition space; prints trajectories and the best point."""
    from model.cli import fail
    from model.optimize.problem import optimise, result_json

    try:
        obj = _objective(property, model, salt, salt_fraction, salt_fraction_range, salt_molality, solvents,
                         solvent_ratio, lower, upper, exclude, temperature_K, temperature_range_K, aggregate, minimize, beta)
        given = None
        if start:
            given = np.array([_floats(s, "--start") for s in start])
            if given.shape[1] != obj.space.dim:
                raise DiffMixInputError(f"each --start needs {obj.space.dim} numbers (solvent ratio, then cation fraction)")
            start_mode, starts = "given", len(given)
        result = optimise(obj, starts, start_mode, seed, given, max_iter)
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))
    out = result_json(obj, result)
    if plot:
        _plot(obj, plot, result.trajectories)
    if as_json:
        typer.echo(json.dumps(out))
    else:
        b = out["best"]
        typer.echo(f"best {out['property']}: {b['value']:.4g} ± {b['std']:.2g} {out['unit']} "
                   f"(molality {b['salt_molality_mol_kg']:.3f} mol/kg) after {out['model_calls']} model calls")
        for k, v in b["fractions"].items():
            typer.echo(f"  {v:.4f}  {k}")


def _plot(obj, path, trajectories=None):
    from model.optimize import landscape, plots

    prop, unit = obj.ensemble.property.name, obj.ensemble.property.unit
    t = obj.temperatures_K[0] if len(obj.temperatures_K) == 1 else float(np.mean(obj.temperatures_K))
    if obj.space.solvents_free and len(obj.space.solvents) == 3:
        land = landscape.ternary(obj)
        plots.ternary_plot(land, obj.space, unit, prop, t, path, trajectories)
    elif obj.space.salt_free:
        land = landscape.salt_curve(obj)
        plots.salt_plot(land, obj.space, unit, prop, t, path, trajectories)
    else:
        raise DiffMixInputError("plots are drawn for three free solvents (ternary) or a free salt fraction (curve)")
    return land


@app.command()
def landscape(
    property: str = SPACE_OPTIONS["property"], model: Path | None = SPACE_OPTIONS["model"],
    salt: str = SPACE_OPTIONS["salt"], salt_fraction: float | None = SPACE_OPTIONS["salt_fraction"],
    salt_fraction_range: tuple[float, float] | None = SPACE_OPTIONS["salt_fraction_range"],
    salt_molality: float | None = SPACE_OPTIONS["salt_molality"], solvents: str = SPACE_OPTIONS["solvents"],
    solvent_ratio: str | None = SPACE_OPTIONS["solvent_ratio"], lower: str | None = SPACE_OPTIONS["lower"],
    upper: str | None = SPACE_OPTIONS["upper"], exclude: list[str] | None = SPACE_OPTIONS["exclude"],
    temperature_K: float | None = SPACE_OPTIONS["temperature_K"],
    temperature_range_K: tuple[float, float] | None = SPACE_OPTIONS["temperature_range_K"],
    aggregate: str = SPACE_OPTIONS["aggregate"], minimize: bool = SPACE_OPTIONS["minimize"],
    beta: float = SPACE_OPTIONS["beta"],
    csv: Path = typer.Option(Path("landscape.csv"), "--csv", help="Where to write the grid"),
    plot: Path = typer.Option(Path("landscape.png"), "--plot", help="Where to write the figure"),
):
    """The property and its feasible gradient over a ternary grid (step 0.01) or along the salt fraction."""
    from model.cli import fail
    from model.optimize.landscape import to_csv

    try:
        obj = _objective(property, model, salt, salt_fraction, salt_fraction_range, salt_molality, solvents,
                         solvent_ratio, lower, upper, exclude, temperature_K, temperature_range_K, aggregate, minimize, beta)
        land = _plot(obj, plot)
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))
    to_csv(land, obj, csv)
    i = int(np.argmax(land.value))
    typer.echo(json.dumps({"points": len(land.value), "csv": str(csv), "plot": str(plot),
                           "max": {"value": float(land.value[i]), "fractions": obj.space.report_fractions(land.z[i])}}))
