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
         budget: int = typer.Option(12, "--budget", min=1, help="experiments in the demo campaign"),
         batch: int = typer.Option(4, "--batch", min=1, help="experiments proposed at a time"),
         seed: int = typer.Option(0, "--seed", help="seed of the proposals and of the simulated lab's noise"),
         serve: bool = typer.Option(False, "--serve", help="afterwards keep the service and the robot running, "
                                    "and the console open at the printed URL, until Ctrl-C"),
         port: int | None = typer.Option(None, "--port", min=1, max=65535,
                                         help="the service's port (default: a free one; with --serve, e.g. 8000)")):
    """The main job on the embedded default: service on SQLite + simulated robot + a DiffMix campaign."""
    from diffmix.demo import run

    t0 = time.perf_counter()
    result = run(out, budget, batch, seed=seed, echo=typer.echo, serve=serve, port=port)
    typer.echo(f"demo finished in {time.perf_counter() - t0:.0f} s: {result['measured']} measured, {result['failed']} failed")


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error (anywhere on the line)")) -> None:
    """DiffMix Lab: differentiable mixture physics and a closed-loop electrolyte lab."""


def everyday_error(e: BaseException) -> str | None:
    """One or two lines saying what to do, for the mistakes an operator makes every day; None for real bugs."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError

    from diffmix.settings import Settings, settings_variable
    from robot.client import UNREACHABLE, ServiceError

    if isinstance(e, ServiceError):
        where = f" at {e.url}" if e.url else ""
        if e.status == UNREACHABLE:
            return f"service unreachable{where}: is it running (diffmix serve), and is --service / DIFFMIX_SERVICE right?"
        if e.status in (401, 403):
            return f"key rejected by the service{where} ({e.detail}); check the key and that its role may do this"
        return f"the service{where} refused: {e.detail}"
    if isinstance(e, OperationalError):
        url = getattr(getattr(e, "engine_url", None), "render_as_string", None)
        first = str(e.orig).strip().splitlines()[0] if getattr(e, "orig", None) is not None else str(e).splitlines()[0]
        return f"database unreachable: {first}; check DATABASE_URL{f' ({url(hide_password=True)})' if url else ''} and that the server runs"
    if isinstance(e, ValidationError) and e.title == Settings.__name__:
        # a setting read from the environment (DIFFMIX_<FIELD>): name the variable, the value and the rule
        return "; ".join(f"{settings_variable(err['loc'])}={err.get('input')!r}: {err['msg']}" for err in e.errors())
    if isinstance(e, FileNotFoundError):
        return f"file not found: {e.filename or e}"
    if isinstance(e, PermissionError):
        return f"permission denied: {e.filename or e}"
    return None


def main(argv: list[str] | None = None) -> None:
    """The console entry point: everyday errors as one or two lines and exit code 2; --debug shows the traceback."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        app(args, prog_name="diffmix")
    except SystemExit:
        raise
    except Exception as e:
        message = everyday_error(e)
        if debug or message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        if _unexpected(e):  # a refusal says all there is; a failure of the machinery may need its traceback
            typer.echo("(run again with --debug for the traceback)", err=True)
        raise SystemExit(2) from None


def _unexpected(e: BaseException) -> bool:
    """An everyday error whose cause lies beyond the user's input (a database or service down or failing), where
    the traceback can help; a refusal of what the user typed needs none."""
    from sqlalchemy.exc import OperationalError

    from robot.client import ServiceError

    return isinstance(e, OperationalError) or (isinstance(e, ServiceError) and e.status >= 500)
