"""The one `diffmix` console entry point; each part of the product contributes its own commands."""

from __future__ import annotations

import typer

from model.cli import app as model_app
from model.optimize.cli import app as optimize_app
from service.cli import app as service_app
from robot.cli import app as robot_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="DiffMix Lab: differentiable mixture physics and a closed-loop electrolyte lab.")

for part in (model_app, optimize_app, service_app, robot_app):
    app.registered_commands.extend(part.registered_commands)
    app.registered_groups.extend(part.registered_groups)


def main() -> None:  # pragma: no cover
    app()
