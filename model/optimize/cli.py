"""`diffmix optimize` and `diffmix landscape`."""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer
from pydantic.fields import FieldInfo

from model.errors import DiffMixInputError

if TYPE_CHECKING:  # the CLI imports the model lazily, so that `--help` stays fast
    from model.optimize.ascent import Trajectory
    from model.optimize.landscape import Landscape
    from model.optimize.objective import Objective

app = typer.Typer(add_completion=False)


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise DiffMixInputError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _objective(model: Path | None, **options: object) -> Objective:
    from model.cli import models_option
    from model.optimize.design import DesignSpec
    from model.predict import Predictor

    spec = DesignSpec.from_options(**options)
    if spec.property != "ionic_conductivity":
        raise DiffMixInputError("composition design is implemented for ionic_conductivity")
    return spec.objective_for(Predictor.load(spec.property, models_option(spec.property, model)).ensemble)


def _cli_option(name: str, field: FieldInfo) -> tuple[object, object]:
    """The Typer option for one field of the design spec: its flag is the field's name, its help the field's
    description; lists are typed comma-separated (``--lower 0,0.1,0``), ``exclude`` is repeated."""
    flag, doc = "--" + name.replace("_", "-"), field.description or ""
    if name == "maximize":
        return bool, typer.Option(True, "--maximize/--minimize", help=doc)
    if name == "exclude":
        return list[str] | None, typer.Option(None, flag, help=f"{doc} (repeatable)")
    if name in ("property", "aggregate", "bounds_basis"):
        choices = ", ".join(typing.get_args(field.annotation))
        return str, typer.Option(field.default, flag, help=f"{doc} (one of: {choices})")
    if name in ("salt_fraction_range", "salt_molality_range", "temperature_range_K"):
        return tuple[float, float] | None, typer.Option(None, flag, help=doc)
    if name in ("salt_fraction", "salt_molality", "temperature_K"):
        return float | None, typer.Option(None, flag, help=doc)
    if name == "beta":
        return float, typer.Option(field.default, flag, help=doc)
    if field.is_required():  # the salt, the solvents
        return str, typer.Option(..., flag, help=doc + ("" if name == "salt" else ", comma-separated"))
    return str | None, typer.Option(None, flag, help=f"{doc}, comma-separated")  # ratio and bounds


def _space_options() -> dict[str, tuple[object, object]]:
    from model.optimize.design import DesignSpec

    out: dict[str, tuple[object, object]] = {
        "model": (Path | None, typer.Option(None, "--model", help="Model directory (default: the shipped ensemble)"))}
    for name, f in DesignSpec.option_fields().items():
        out[name] = _cli_option(name, f)
    return out


# The composition space and objective, shared by `optimize` and `landscape`: one option per field of DesignSpec
# (name → (type, option)), so a field added to the spec is an option here without another line.
SPACE_OPTIONS = _space_options()
_FLOAT_LISTS = ("solvent_ratio", "lower", "upper")


def _spec_options(values: dict[str, object]) -> dict[str, object]:
    """CLI values → DesignSpec options: comma-separated text becomes lists."""
    out = dict(values)
    solvents = out.get("solvents")
    if isinstance(solvents, str):
        out["solvents"] = [s.strip() for s in solvents.split(",") if s.strip()]
    for name in _FLOAT_LISTS:
        text = out.get(name)
        out[name] = _floats(text if isinstance(text, str) else None, "--" + name.replace("_", "-"))
    return out


Command = Callable[..., None]


def space_command(fn: Command) -> Command:
    """Register ``fn`` as a command that takes the composition-space options as well as its own.

    Typer reads a command's options from its signature; this prepends SPACE_OPTIONS to ``fn``'s own parameters
    and hands ``fn`` the objective they describe as ``objective`` (a zero-argument callable, so that input
    errors are raised inside the command's own error handling)."""
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
           for name, p in inspect.signature(fn).parameters.items() if name != "objective"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
              for name, (kind, option) in SPACE_OPTIONS.items()]

    @functools.wraps(fn)
    def command(**kwargs: Any) -> None:
        space = {name: kwargs.pop(name) for name in SPACE_OPTIONS}
        model = space.pop("model")
        fn(objective=lambda: _objective(model, **_spec_options(space)), **kwargs)

    # the model's classes are imported for type checking only (lazily at run time); Typer needs none of them
    hints = typing.get_type_hints(fn, localns={"Objective": object})
    command.__signature__ = inspect.Signature(shared + own)  # type: ignore[attr-defined]  # read by Typer
    command.__annotations__ = {**{n: k for n, (k, _) in SPACE_OPTIONS.items()},
                               **{p.name: hints[p.name] for p in own if p.name in hints}}
    del command.__wrapped__  # Typer must see the merged signature, not fn's
    registered: Command = app.command(name=fn.__name__)(command)
    return registered


@space_command
def optimize(
    objective: Callable[[], Objective],
    starts: int = typer.Option(4, "--starts", help="gradient-ascent runs from spread-out starting points"),
    start_mode: str = typer.Option("random", "--start-mode", help="random | spread | given"),
    start: list[str] | None = typer.Option(None, "--start", help="A start: solvent ratio and cation fraction, 's1,s2,s3,f' (repeatable; implies --start-mode given)"),
    seed: int = typer.Option(0, "--seed", help="seed of the starting points"),
    max_iter: int = typer.Option(200, "--max-iter", help="most steps per ascent run"),
    plot: Path | None = typer.Option(None, "--plot", help="Write the landscape with the trajectories as PNG"),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON"),
) -> None:
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
        lab = b["lab"]
        molarity = lab["salt"]["molarity_mol_L"]
        typer.echo(f"best {out['property']}: {b['value']:.4g} ± {b['std']:.2g} {out['unit']} after "
                   f"{out['model_calls']} model calls")
        typer.echo(f"  {lab['text']}; {lab['cation_fraction_text']} (cation mole fraction), "
                   f"{lab['salt']['molality_mol_kg']:.3f} mol/kg"
                   + (f", ≈ {molarity:.3f} mol/L ({lab['salt']['molarity_note']})" if molarity is not None else ""))
        for s in lab["solvents"]:
            typer.echo(f"  {s['name']:<8} {s['smiles']:<24} mass fraction {s['mass_fraction']:.4f}, "
                       f"mole fraction of the blend {s['mole_fraction']:.4f}")


def _plot(obj: Objective, path: Path, trajectories: Sequence[Trajectory] | None = None) -> Landscape:
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
    objective: Callable[[], Objective],
    csv: Path = typer.Option(Path("landscape.csv"), "--csv", help="Where to write the grid"),
    plot: Path = typer.Option(Path("landscape.png"), "--plot", help="Where to write the figure"),
) -> None:
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
