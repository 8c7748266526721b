"""The one `diffmix` console entry point; each part of the product contributes its own commands."""

from __future__ import annotations

import typer

from model.cli import app as model_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="DiffMix Lab: differentiable mixture physics and a closed-loop electrolyte lab.")

for command in model_app.registered_commands:
    app.registered_commands.append(command)
for group in model_app.registered_groups:
    app.registered_groups.append(group)


def main() -> None:  # pragma: no cover
    app()
