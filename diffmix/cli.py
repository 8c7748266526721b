"""The one `diffmix` console entry point; each part of the product contributes its own commands."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from diffmix.campaign_cli import app as campaign_app
from model.cli import app as model_app
from model.optimize.cli import app as optimize_app
from robot.cli import app as robot_app
from service.cli import app as service_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="DiffMix Lab: differentiable mixture physics and a closed-loop electrolyte lab.")

for part in (model_app, optimize_app, service_app, robot_app):
    app.registered_commands.extend(part.registered_commands)
    app.registered_groups.extend(part.registered_groups)
app.add_typer(campaign_app, name="campaign")


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the database, logs and plots"),
         budget: int = typer.Option(12, "--budget", min=1), batch: int = typer.Option(4, "--batch", min=1),
         seed: int = typer.Option(0, "--seed")):
    """The main job on the embedded default: service on SQLite + simulated robot + a DiffMix campaign."""
    from diffmix.demo import run

    t0 = time.perf_counter()
    result = run(out, budget, batch, seed=seed, echo=typer.echo)
    typer.echo(f"demo finished in {time.perf_counter() - t0:.0f} s: {result['measured']} measured, {result['failed']} failed")


def main() -> None:  # pragma: no cover
    app()
