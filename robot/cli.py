"""`diffmix robot run|calibrate` and `diffmix eis analyze`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(add_completion=False)
robot_app = typer.Typer(no_args_is_help=True, help="The Clio robot: the scheduler agent and its lab.")
eis_app = typer.Typer(no_args_is_help=True, help="Impedance spectra → bulk resistance → conductivity.")
DEFAULT_LAB = Path(__file__).resolve().parent / "labs" / "sim.toml"


def _procedure(lab_path: Path, backend: str, seed: int, faults: list[str], inventory_file: Path | None):
    from robot import lab as labmod
    from robot.connect import Rig
    from robot.procedure import Inventory, Procedure

    lab = labmod.load(lab_path)
    rig = Rig(lab, backend, seed=seed)
    for f in faults or []:
        name, _, times = f.partition("=")
        if rig.sim is None:
            raise typer.BadParameter("--fault works with --backend sim only")
        rig.sim.world.inject(name, int(times or 1))
    remaining = {s.name: s.volume_ml for s in lab.stocks}
    if inventory_file and inventory_file.exists():
        remaining.update(json.loads(inventory_file.read_text()))
    return rig, Procedure(rig.lab, rig.devices, Inventory(remaining), rig.reconnect)


@robot_app.command("run")
def run(service: str = typer.Option(..., "--service", help="Service URL, e.g. http://127.0.0.1:8000"),
        key: str | None = typer.Option(None, "--key", help="A robot API key (default: $DIFFMIX_ROBOT_KEY)"),
        backend: str = typer.Option("sim", "--backend", help="sim | serial"),
        lab: Path = typer.Option(DEFAULT_LAB, "--lab", help="Lab configuration (TOML)"),
        journal: Path = typer.Option(Path("clio-journal.jsonl"), "--journal",
                                     help="the crash-recovery journal (JSON lines; keep it on a disk that survives restarts)"),
        name: str = typer.Option("clio", "--name", help="Robot name (part of idempotency keys)"),
        poll: float = typer.Option(1.0, "--poll", help="Seconds between polls of an empty queue"),
        max_experiments: int | None = typer.Option(None, "--max-experiments", help="stop after this many experiments (default: run until stopped)"),
        idle_exit: float | None = typer.Option(None, "--idle-exit", help="Exit after this many idle seconds"),
        seed: int = typer.Option(0, "--seed", help="Simulated lab's random seed"),
        fault: list[str] | None = typer.Option(None, "--fault", help="Sim fault to inject, NAME[=COUNT] (repeatable)"),
        log_json: bool | None = typer.Option(None, "--log-json/--log-text",
                                             help="Log one JSON object per line (default: $DIFFMIX_LOG_JSON)")):
    """Poll the service, make and measure each experiment, report it; journaled for crash recovery."""
    import logging

    from diffmix import logs
    from diffmix.settings import Settings
    from robot.agent import Agent
    from robot.client import ServiceClient
    from robot.journal import Journal

    settings = Settings()
    logs.configure(settings.log_json if log_json is None else log_json, settings.log_level, prefix=f"[{name}] ")
    key = key or settings.robot_key
    if not key:
        typer.echo("error: give a robot API key with --key or DIFFMIX_ROBOT_KEY", err=True)
        raise typer.Exit(2)
    rig, proc = _procedure(lab, backend, seed, fault, None)
    client = ServiceClient(service, key)
    agent = Agent(client, proc, Journal(journal), name, poll, max_experiments, idle_exit)
    agent.install_signals()
    try:
        n = agent.run()
    finally:
        rig.close()
        client.close()
    logging.getLogger("robot.agent").info(f"stopped after {n} experiments")
    if agent.stopped:
        typer.echo(f"error: the robot stopped taking work: {agent.stopped}", err=True)
        raise typer.Exit(3)


@eis_app.command("analyze")
def analyze(file: Path = typer.Argument(..., help="CSV with frequency_Hz,z_real_ohm,z_imag_ohm"),
            cell_constant: float = typer.Option(..., "--cell-constant", help="K_cell in 1/cm"),
            method: str = typer.Option("auto", "--method", help="auto | min-phase | fit")):
    """Bulk resistance and conductivity of one spectrum (capacitive reactance negative)."""
    import numpy as np

    from model import eis

    try:
        data = np.genfromtxt(file, delimiter=",", names=True)
        cols = set(data.dtype.names or ())
        need = {"frequency_Hz", "z_real_ohm", "z_imag_ohm"}
        if not need <= cols:
            raise ValueError(f"{file} needs columns {', '.join(sorted(need))}; found {', '.join(sorted(cols))}")
        if cell_constant <= 0:
            raise ValueError("--cell-constant must be positive (1/cm)")
        res = eis.analyze(np.atleast_1d(data["frequency_Hz"]), np.atleast_1d(data["z_real_ohm"]),
                          np.atleast_1d(data["z_imag_ohm"]), method)
    except (OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(res.as_dict(cell_constant)))


app.add_typer(robot_app, name="robot")
app.add_typer(eis_app, name="eis")
