"""`diffmix optimize` and `diffmix landscape`."""

from __future__ import annotations

import functools
import inspect
import json
import typing
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


# The composition space and objective, shared by `optimize` and `landscape`: name → (type, option).
SPACE_OPTIONS: dict[str, tuple[object, object]] = dict(
    property=(str, typer.Option("ionic_conductivity", "--property")),
    model=(Path | None, typer.Option(None, "--model", help="Model directory (default: the shipped ensemble)")),
    salt=(str, typer.Option(..., "--salt", help="Salt SMILES with its ions, e.g. '[Li+].F[P-](F)(F)(F)(F)F'")),
    salt_fraction=(float | None, typer.Option(None, "--salt-fraction", help="Fixed cation mole fraction (ions counted separately)")),
    salt_fraction_range=(tuple[float, float] | None, typer.Option(None, "--salt-fraction-range", help="Free cation fraction: LO HI")),
    salt_molality=(float | None, typer.Option(None, "--salt-molality", help="Fixed salt molality in mol/kg (needs --solvent-ratio)")),
    solvents=(str, typer.Option(..., "--solvents", help="Comma-separated solvent SMILES (2 to 6 or more)")),
    solvent_ratio=(str | None, typer.Option(None, "--solvent-ratio", help="Fixed solvent ratio, e.g. 0.7,0.3 (salt is then optimised)")),
    lower=(str | None, typer.Option(None, "--lower", help="Per-solvent lower bounds on the solvent ratio, comma-separated")),
    upper=(str | None, typer.Option(None, "--upper", help="Per-solvent upper bounds, comma-separated")),
    exclude=(list[str] | None, typer.Option(None, "--exclude", help="Solvent forced to zero (repeatable)")),
    temperature_K=(float | None, typer.Option(None, "--temperature-K")),
    temperature_range_K=(tuple[float, float] | None, typer.Option(None, "--temperature-range-K", help="LO HI: optimise over a range")),
    aggregate=(str, typer.Option("worst", "--aggregate", help="worst | mean, over the temperature range")),
    minimize=(bool, typer.Option(False, "--minimize")),
    beta=(float, typer.Option(0.0, "--beta", help="Uncertainty bonus: mean + β·std")),
)


def space_command(fn):
    """Register ``fn`` as a command that takes the composition-space options as well as its own.

    Typer reads a command's options from its signature; this prepends SPACE_OPTIONS to ``fn``'s own parameters
    and hands ``fn`` the objective they describe as ``objective`` (a zero-argument callable, so that input
    errors are raised inside the command's own error handling)."""
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
           for name, p in inspect.signature(fn).parameters.items() if name != "objective"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
              for name, (kind, option) in SPACE_OPTIONS.items()]

    @functools.wraps(fn)
    def command(**kwargs):
        space = {name: kwargs.pop(name) for name in SPACE_OPTIONS}
        return fn(objective=lambda: _objective(**space), **kwargs)

    hints = typing.get_type_hints(fn)
    command.__signature__ = inspect.Signature(shared + own)
    command.__annotations__ = {**{n: k for n, (k, _) in SPACE_OPTIONS.items()},
                               **{p.name: hints[p.name] for p in own if p.name in hints}}
    del command.__wrapped__  # Typer must see the merged signature, not fn's
    return app.command(name=fn.__name__)(command)


@space_command
def optimize(
    objective,
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
        obj = objective()
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


@space_command
def landscape(
    objective,
    csv: Path = typer.Option(Path("landscape.csv"), "--csv", help="Where to write the grid"),
    plot: Path = typer.Option(Path("landscape.png"), "--plot", help="Where to write the figure"),
):
    """The property and its feasible gradient over a ternary grid (step 0.01) or along the salt fraction."""
    from model.cli import fail
    from model.optimize.landscape import to_csv

    try:
        obj = objective()
        land = _plot(obj, plot)
    except (DiffMixInputError, FileNotFoundError) as e:
        fail(str(e))
    to_csv(land, obj, csv)
    i = int(np.argmax(land.value))
    typer.echo(json.dumps({"points": len(land.value), "csv": str(csv), "plot": str(plot),
                           "max": {"value": float(land.value[i]), "fractions": obj.space.report_fractions(land.z[i])}}))
