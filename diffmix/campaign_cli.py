"""`diffmix campaign …`: campaigns from the command line (``simulate`` runs one against a simulated lab)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from model.cli import fail, models_option
from model.errors import DiffMixInputError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Campaigns against a running service (create, list, show, propose, pause, resume, cancel, "
                       "results), and simulate: one whole campaign in process against a simulated lab.")

STRATEGY_HELP = ("learning (DiffMix corrected by the measurements; the default) | gradient (DiffMix alone) | "
                 "botorch (a plain GP loop) | random")
SERVICE = typer.Option(None, "--service", envvar="DIFFMIX_SERVICE",
                       help="the service's URL, e.g. http://127.0.0.1:8000 (default: $DIFFMIX_SERVICE)")
KEY = typer.Option(None, "--key", envvar="DIFFMIX_KEY",
                   help="an API key (operator to change campaigns; analyst or operator to read) (default: $DIFFMIX_KEY)")
JSON = typer.Option(False, "--json", help="print the service's JSON instead of a table")
K0 = 273.15


def _json_file(path: Path, what: str) -> dict:
    """A JSON file's content, or a one-line error naming the file."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        fail(f"{what} file {path} not found")
    except json.JSONDecodeError as e:
        fail(f"{what} file {path} is not JSON: {e}")
    raise AssertionError("unreachable")  # fail() exits


def _client(service: str | None, key: str | None):
    from robot.client import ServiceClient

    if not service:
        fail("give the service's URL with --service or DIFFMIX_SERVICE, e.g. http://127.0.0.1:8000")
    if not key:
        fail("give an API key with --key or DIFFMIX_KEY (make one with: diffmix admin create-key --role operator)")
    if "://" not in service:  # DIFFMIX_SERVICE=127.0.0.1:8791 read as a URL without a scheme cannot be reached
        service = f"http://{service}"
    return ServiceClient(service, key, attempts=2, max_backoff=1.0)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _f(v: float | None, d: int = 2) -> str:
    return "–" if v is None else f"{v:.{d}f}"


def _campaign_line(c: dict, best: dict | None = None) -> list[str]:
    n = c.get("counts", {})
    used = n.get("measured", 0) + n.get("queued", 0) + n.get("leased", 0)
    return [str(c["id"]), c["name"], c["status"], c["strategy"], f"{used}/{c['budget']}", str(n.get("measured", 0)),
            f"{best['measured']:.2f} mS/cm" if best else "–"]


CAMPAIGN_HEADER = ["id", "name", "status", "strategy", "used", "measured", "best κ"]


@app.command("create")
def create(name: str = typer.Option(..., "--name", help="the campaign's name"),
           salt: str = typer.Option(..., "--salt", help="the salt: a name from the species table (LiPF6) or its SMILES"),
           solvents: str = typer.Option(..., "--solvents", help="comma-separated solvents by name or SMILES, e.g. EC,DMC,EMC"),
           lower: str | None = typer.Option(None, "--lower", help="comma-separated lower bounds, one per solvent"),
           upper: str | None = typer.Option(None, "--upper", help="comma-separated upper bounds, one per solvent"),
           bounds_basis: str = typer.Option("mass", "--bounds-basis",
                                            help="what the bounds are: shares of the solvent blend by mass | mole"),
           salt_molality_range: tuple[float, float] | None = typer.Option(
               None, "--salt-molality-range", help="LO HI: a free salt molality in mol/kg of solvent"),
           salt_molality: float | None = typer.Option(None, "--salt-molality", help="a fixed molality in mol/kg of solvent"),
           salt_fraction_range: tuple[float, float] | None = typer.Option(
               None, "--salt-fraction-range", help="LO HI: a free cation mole fraction (ions counted separately)"),
           salt_fraction: float | None = typer.Option(None, "--salt-fraction", help="a fixed cation mole fraction"),
           temperature_C: float | None = typer.Option(None, "--temperature-C", help="the campaign's temperature in °C"),
           temperature_K: float | None = typer.Option(None, "--temperature-K", help="the campaign's temperature in kelvin"),
           budget: int = typer.Option(12, "--budget", min=1, help="experiments in the campaign"),
           strategy: str = typer.Option("learning", "--strategy", help=STRATEGY_HELP),
           minimize: bool = typer.Option(False, "--minimize", help="minimise κ instead of maximising it"),
           strict: bool = typer.Option(False, "--strict", help="refuse a space outside the model's applicability domain"),
           body_file: Path | None = typer.Option(None, "--body", help="a JSON file with the whole REST body instead "
                                                 "(the options above are then ignored)"),
           service: str | None = SERVICE, key: str | None = KEY, as_json: bool = JSON):
    """Create a campaign. Salt and solvents by name; bounds by mass (or mole) share of the solvent blend; the salt
    as a molality or a cation fraction, fixed or free; the temperature in °C or K (one of them)."""
    if body_file is not None:
        body = _json_file(body_file, "body")
    else:
        if (temperature_C is None) == (temperature_K is None):
            fail("give the temperature as --temperature-C or --temperature-K, one of them")
        names = [s.strip() for s in solvents.split(",")]
        if not all(names):
            fail(f"--solvents {solvents!r} has an empty name (a comma too many?): give names separated by commas, "
                 "e.g. EC,DMC")
        space: dict = {"salt": salt, "solvents": names, "bounds_basis": bounds_basis}
        for field, text in (("lower", lower), ("upper", upper)):
            if text is not None:
                try:
                    space[field] = [float(v) for v in text.split(",")]
                except ValueError:
                    fail(f"--{field} {text!r}: give comma-separated numbers, one per solvent")
        salts = {"salt_molality_range": salt_molality_range, "salt_molality": salt_molality,
                 "salt_fraction_range": salt_fraction_range, "salt_fraction": salt_fraction}
        given = {k: v for k, v in salts.items() if v is not None}
        if len(given) != 1:
            fail("give the salt content once: --salt-molality-range LO HI, --salt-molality M, "
                 "--salt-fraction-range LO HI or --salt-fraction X")
        space.update({k: list(v) if isinstance(v, tuple) else v for k, v in given.items()})
        body = {"name": name, "space": space, "budget": budget, "strategy": strategy, "strict": strict,
                "temperature_K": temperature_K if temperature_K is not None else temperature_C + K0,  # type: ignore[operator]
                "objective": {"maximize": not minimize}}
    c = _client(service, key).request("POST", "/v1/campaigns", json=body).json()
    if as_json:
        typer.echo(json.dumps(c, indent=2))
        return
    typer.echo(f"campaign {c['id']} created: {c['name']}")
    for why in (c.get("domain") or {}).get("reasons", []):
        typer.echo(f"warning: outside the model's domain: {why}")
    for why in (c.get("lab") or {}).get("warnings", []):
        typer.echo(f"warning: {why}")


@app.command("list")
def list_(status: str | None = typer.Option(None, "--status", help="only campaigns in this status: active | paused | "
                                                                   "completed | cancelled"),
          service: str | None = SERVICE, key: str | None = KEY, as_json: bool = JSON):
    """Every campaign with its status, budget used and best measured κ."""
    client = _client(service, key)
    cs = client.request("GET", "/v1/campaigns", params={"status": status} if status else None).json()
    if as_json:
        typer.echo(json.dumps(cs, indent=2))
        return
    typer.echo(_table([_campaign_line(c, c["best"]) for c in cs], CAMPAIGN_HEADER) if cs else "no campaigns")


def _experiment_rows(exps: list[dict], measured: dict[int, dict]) -> list[list[str]]:
    rows = []
    for e in exps:
        m = measured.get(e["id"])
        rows.append([str(e["id"]), str(e["batch"]), e["status"], e.get("source") or "–", e["lab"]["text"],
                     f"{e['temperature_K'] - K0:.1f} °C", f"{e['predicted']:.2f} ± {e['predicted_std']:.2f}",
                     _f(m["measured"]) if m else "–", (e.get("failure_reason") or "")[:60]])
    return rows


EXPERIMENT_HEADER = ["id", "batch", "status", "source", "formulation", "T", "predicted κ", "measured κ", "note"]


@app.command("show")
def show(campaign_id: int = typer.Argument(..., help="the campaign's id"),
         service: str | None = SERVICE, key: str | None = KEY, as_json: bool = JSON):
    """One campaign: its design, counts, best measured, and every experiment by name and in lab units."""
    client = _client(service, key)
    c = client.request("GET", f"/v1/campaigns/{campaign_id}").json()
    summary = client.request("GET", f"/v1/campaigns/{campaign_id}/summary").json()
    exps = client.request("GET", f"/v1/campaigns/{campaign_id}/experiments").json()
    results = client.request("GET", "/v1/results", params={"campaign": campaign_id}).json()
    evidence = client.request("GET", f"/v1/campaigns/{campaign_id}/model", timeout=120).json()["evidence"]
    if as_json:
        typer.echo(json.dumps({"campaign": c, "summary": summary, "evidence": evidence, "experiments": exps}, indent=2))
        return
    typer.echo(_table([_campaign_line(c, summary["best"])], CAMPAIGN_HEADER))
    sp = c["space"]
    typer.echo(f"space: {', '.join(sp['solvents'])} with {sp['salt']}; bounds by {sp['bounds_basis']} share")
    if summary["mae"] is not None:
        typer.echo(f"MAE of proposals vs measured: {summary['mae']:.2f} mS/cm over {summary['measured']} measured")
    typer.echo(f"evidence: {evidence['summary']}")
    if exps:
        typer.echo("")
        typer.echo(_table(_experiment_rows(exps, {r["experiment_id"]: r for r in results}), EXPERIMENT_HEADER))


@app.command("propose")
def propose(campaign_id: int = typer.Argument(..., help="the campaign's id"),
            n: int = typer.Option(4, "--n", min=1, max=64, help="how many experiments to propose and queue"),
            service: str | None = SERVICE, key: str | None = KEY, as_json: bool = JSON):
    """Propose a batch by the campaign's strategy and queue it for the robots."""
    r = _client(service, key).request("POST", f"/v1/campaigns/{campaign_id}/proposals", params={"n": n}, timeout=300)
    exps = r.json()
    if as_json:
        typer.echo(json.dumps(exps, indent=2))
        return
    typer.echo(_table(_experiment_rows(exps, {}), EXPERIMENT_HEADER))
    if "proposals-limited" in r.headers:  # fewer than asked: say how many and why
        typer.echo(r.headers["proposals-limited"])


def _transition(action: str):
    def command(campaign_id: int = typer.Argument(..., help="the campaign's id"),
                service: str | None = SERVICE, key: str | None = KEY, as_json: bool = JSON):
        c = _client(service, key).request("POST", f"/v1/campaigns/{campaign_id}/{action}").json()
        typer.echo(json.dumps(c, indent=2) if as_json else f"campaign {c['id']} is {c['status']}")

    command.__doc__ = {"pause": "Pause a campaign: robots take none of its experiments until it is resumed.",
                       "resume": "Resume a paused campaign.",
                       "cancel": "Cancel a campaign: its queued experiments are cancelled; measured ones are kept."}[action]
    return command


for _action in ("pause", "resume", "cancel"):
    app.command(_action)(_transition(_action))


@app.command("results")
def results(campaign_id: int | None = typer.Argument(None, help="the campaign's id (default: every campaign)"),
            csv_out: Path | None = typer.Option(None, "--csv", help="write the CSV (one column per component, names "
                                                "in the header, SMILES in the second row) to this file"),
            service: str | None = SERVICE, key: str | None = KEY, as_json: bool = JSON):
    """Measured experiments: formulation by name, temperature, predicted ± std, measured, residual, flags."""
    client = _client(service, key)
    params = {"campaign": campaign_id} if campaign_id else {}
    if csv_out is not None:
        text = client.request("GET", "/v1/results", params={**params, "format": "csv"}).text
        csv_out.write_text(text)
        typer.echo(f"wrote {csv_out} ({max(0, len(text.splitlines()) - 2)} measured experiments)")
        return
    rows = client.request("GET", "/v1/results", params=params).json()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(_table([[str(r["experiment_id"]), str(r["campaign_id"]), r["lab"]["text"], f"{r['temperature_C']:.1f} °C",
                        f"{r['predicted']:.2f} ± {r['predicted_std']:.2f}", f"{r['measured']:.2f}", f"{r['residual']:+.2f}",
                        "; ".join(r["quality_flags"])[:60]] for r in rows],
                      ["id", "campaign", "formulation", "T", "predicted κ", "measured κ", "residual", "flags"])
               if rows else "no measured experiments")


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
    space_obj = _json_file(space, "space")
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
            found = (f"the best measured recipe's true κ {s['score']:.3f} mS/cm"
                     if s["score"] is not None else "nothing measured")
            rec = (f"; the posterior's recommendation {s['recommended_truth']:.3f}"
                   if s["recommended_truth"] is not None else "")
            typer.echo(f"{found} after {s['measured']} measured{rec}"
                       + (f"; the world's optimum {best:.3f} mS/cm" if best is not None else ""))
        elif "failed" in row:
            typer.echo(f"{row['index']:3d}  batch {row['batch']}  failed: {row['failed']}")
        else:
            w = ", ".join(f"{k} {v:.2f}" for k, v in row["solvent_mass_fractions"].items())
            typer.echo(f"{row['index']:3d}  batch {row['batch']}  {w}; {row['molality']:.2f} mol/kg  "
                       f"predicted {row['predicted']:.2f} ± {row['std']:.2f}  measured {row['measured']:.2f}  "
                       f"truth {row['truth']:.2f}  score {row['score']:.2f}  ({row['source']})")
