"""`diffmix campaign …`: campaigns from the command line (``simulate`` runs one against a simulated lab)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from model.cli import fail, models_option
from model.errors import DiffMixInputError

app = typer.Typer(add_completion=False, help="Campaigns: simulate one against a simulated lab.")

STRATEGY_HELP = ("learning (DiffMix corrected by the measurements; the default) | gradient (DiffMix alone) | "
                 "botorch (a plain GP loop) | random")


@app.command("simulate")
def simulate(space: Path = typer.Option(..., "--space", help="JSON file: a campaign body's `space` object"),
             lab: Path = typer.Option(Path("robot/labs/sim.toml"), "--lab",
                                      help="lab file whose [truth] is the world (default: the builtin physics)"),
             strategy: str = typer.Option("learning", "--strategy", help=STRATEGY_HELP),
             surrogate: str = typer.Option("gp", "--surrogate",
                                           help="posterior design of learning/botorch: gp (a GP on the residuals; the "
                                                "default) | finetune (the members fine-tuned on the measurements)"),
             budget: int = typer.Option(12, "--budget", min=1, help="experiments in the campaign"),
             batch: int = typer.Option(4, "--batch", min=1, help="experiments proposed at a time"),
             seed: int = typer.Option(0, "--seed", min=0, help="seed of the proposals and the lab's noise"),
             temperature_K: float = typer.Option(298.15, "--temperature-K", help="the campaign's temperature in kelvin"),
             minimize: bool = typer.Option(False, "--minimize", help="minimise κ instead of maximising it"),
             optimum: bool = typer.Option(True, "--optimum/--no-optimum",
                                          help="search the world's true optimum and report the regret"),
             model: Path | None = typer.Option(None, "--model", help="model directory (default: the shipped one)"),
             as_json: bool = typer.Option(False, "--json", help="one JSON line per experiment, then the summary")):
    """Run one whole campaign in process against a simulated lab: the service's loop (posterior, then the
    strategy's batch) with the lab's truth as the instrument. One line per measured experiment, then a summary."""
    from diffmix.simulate import run, true_optimum
    from model.optimize.design import DesignSpec
    from model.optimize.loop import SURROGATES
    from model.optimize.proposals import STRATEGIES
    from model.predict import Predictor
    from robot import lab as labmod
    from robot.errors import RecipeError
    from robot.sim.truth import from_table

    if strategy not in STRATEGIES:
        fail(f"--strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if surrogate not in SURROGATES:
        fail(f"--surrogate {surrogate!r}: choose one of {', '.join(SURROGATES)}")
    try:
        space_obj = json.loads(space.read_text())
    except FileNotFoundError:
        fail(f"space file {space} not found")
    except json.JSONDecodeError as e:
        fail(f"space file {space} is not JSON: {e}")
    if not lab.exists():
        fail(f"lab file {lab} not found")
    try:
        truth = from_table(labmod.load(lab).truth)
        spec = DesignSpec.parse({"space": space_obj, "temperature_K": temperature_K,
                                 "objective": {"maximize": not minimize}})
        ens = Predictor.load(spec.property, models_option(spec.property, model)).ensemble
        obj = spec.objective_for(ens)
    except FileNotFoundError as e:
        fail(f"{e}")
    except (RecipeError, DiffMixInputError) as e:
        fail(str(e))
    best = true_optimum(obj.space, truth, temperature_K, not minimize)[1] if optimum else None
    for row in run(spec, obj, truth, strategy, budget, batch, seed, best, surrogate=surrogate):
        if as_json:
            typer.echo(json.dumps(row))
        elif "summary" in row:
            s = row["summary"]
            typer.echo(f"best true κ {s['best_truth']:.3f} mS/cm after {s['measured']} measured"
                       + (f"; the world's optimum {best:.3f} mS/cm" if best is not None else ""))
        elif "failed" in row:
            typer.echo(f"{row['index']:3d}  batch {row['batch']}  failed: {row['failed']}")
        else:
            w = ", ".join(f"{k} {v:.2f}" for k, v in row["solvent_mass_fractions"].items())
            typer.echo(f"{row['index']:3d}  batch {row['batch']}  {w}; {row['molality']:.2f} mol/kg  "
                       f"predicted {row['predicted']:.2f} ± {row['std']:.2f}  measured {row['measured']:.2f}  "
                       f"truth {row['truth']:.2f}  best {row['best_truth_so_far']:.2f}")
