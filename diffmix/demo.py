"""The main job end to end on the embedded default: SQLite, the shipped model, the simulated Clio lab.

A service process and a robot-agent process are started exactly as a lab would start them; this script plays the
lab operator: it creates a closed-loop campaign (LiPF6 in PC:EC:DMC at x(Li+) = 0.08, 303.15 K, strategy
"learning"), asks for batches of proposals, waits while the robot makes and measures them, and after each batch
prints what the proposals predicted against what was measured: the campaign's posterior learns the lab. The
simulated lab's truth is deliberately not DiffMix's (DEMO_WORLD: stronger ion pairing, a more viscous DMC and a cell
that reads 8 % low), so the correction is visible. At the end: the best composition, a parity plot coloured by
batch and the posterior's landscape with the measured points.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
from tqdm.auto import tqdm

LIPF6, PC, EC, DMC = "[Li+].F[P-](F)(F)(F)(F)F", "CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"
SIM_LAB = Path(__file__).resolve().parent.parent / "robot" / "labs" / "sim.toml"
# the demo's world (robot/sim/truth.py): not the model's, so that the loop has something to learn
DEMO_WORLD = {"model": "builtin", "pairing_scale": 1.1, "viscosity_scale": {DMC: 1.2}, "instrument_bias": 0.92,
              "noise": 0.005}


def _lab_file(out: Path) -> Path:
    """The simulated lab's file with the demo's world as its [truth]."""
    lines = ["", "[truth]"] + [f'{k} = "{v}"' if isinstance(v, str) else
                               (f"{k} = {{ " + ", ".join(f'"{a}" = {b}' for a, b in v.items()) + " }"
                                if isinstance(v, dict) else f"{k} = {v}") for k, v in DEMO_WORLD.items()]
    path = out / "lab.toml"
    path.write_text(SIM_LAB.read_text() + "\n".join(lines) + "\n")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode}; see its log")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become ready in time")


def run(out: Path, budget: int = 12, batch: int = 4, temperature_K: float = 303.15, seed: int = 0, echo=print,
        serve: bool = False, port: int | None = None) -> dict:
    """The demo campaign, start to end. With ``serve`` the service and the robot keep running afterwards, so a
    person can look at the console, until Ctrl-C."""
    from db import crud
    from db.migrate import upgrade
    from db.session import make_engine, make_sessionmaker

    out.mkdir(parents=True, exist_ok=True)
    db_file = out / "diffmix.db"
    for p in (db_file, out / "journal.jsonl"):
        p.unlink(missing_ok=True)
    url_db = f"sqlite:///{db_file}"
    upgrade(url_db)
    engine = make_engine(url_db)
    with make_sessionmaker(engine)() as s:
        operator = crud.create_api_key(s, "operator", "demo operator")[1]
        robot = crud.create_api_key(s, "robot", "simulated Clio")[1]
        admin = crud.create_api_key(s, "admin", "demo admin")[1]
    engine.dispose()

    port = port or _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": url_db, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    py = [sys.executable, "-m", "diffmix"]
    logs = {n: open(out / f"{n}.log", "w") for n in ("service", "robot")}
    service = subprocess.Popen(py + ["serve", "--port", str(port), "--no-upgrade"], env=env, stdout=logs["service"],
                               stderr=subprocess.STDOUT)
    agent = None
    try:
        echo(f"service starting on {base} (SQLite {db_file}, shipped model) …")
        _wait_ready(base, service)
        echo(f"the console: {base}/  (sign in with the operator key {operator}"
             + (f", or the admin key {admin})" if serve else ")"))
        agent = subprocess.Popen(py + ["robot", "run", "--service", base, "--key", robot, "--backend", "sim",
                                       "--lab", str(_lab_file(out)),
                                       "--journal", str(out / "journal.jsonl"), "--poll", "0.2", "--seed", str(seed)],
                                 env=env, stdout=logs["robot"], stderr=subprocess.STDOUT)
        echo("simulated robot agent started (pumps, balance and potentiostat emulated over their serial protocols)")
        echo(f"the simulated lab's truth is not DiffMix's: pairing ×{DEMO_WORLD['pairing_scale']}, DMC viscosity "
             f"×{DEMO_WORLD['viscosity_scale'][DMC]}, the cell reads ×{DEMO_WORLD['instrument_bias']} "
             f"({out / 'lab.toml'})")
        http = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {operator}"})
        body = {"name": "demo: LiPF6 in PC:EC:DMC", "space": {"salt": LIPF6, "solvents": [PC, EC, DMC],
                                                              "salt_fraction": 0.08},
                "temperature_K": temperature_K, "budget": budget, "strategy": "learning"}
        c = http.post("/v1/campaigns", json=body)
        c.raise_for_status()
        cid = c.json()["id"]
        echo(f"campaign {cid}: {body['name']}, x(Li+) = 0.08, {temperature_K} K, budget {budget} experiments")
        bar = tqdm(total=budget, desc="experiments measured", unit="exp")
        done = 0
        reported = 0
        while True:
            camp = http.get(f"/v1/campaigns/{cid}").json()
            counts = camp["counts"]
            finished = counts.get("measured", 0) + counts.get("failed", 0)
            bar.update(finished - done)
            done = finished
            if camp["status"] == "completed" or finished >= budget:
                break
            if agent.poll() is not None:
                raise RuntimeError(f"the robot agent exited with code {agent.returncode}; see {out / 'robot.log'}")
            if not counts.get("queued") and not counts.get("leased"):
                reported = _batch_report(http, cid, reported, bar.write)
                r = http.post(f"/v1/campaigns/{cid}/proposals", params={"n": batch})
                if r.status_code == 409:
                    break
                r.raise_for_status()
                bar.set_postfix(proposed=len(r.json()))
            time.sleep(0.3)
        _batch_report(http, cid, reported, bar.write)
        bar.close()
        results = http.get("/v1/results", params={"campaign": cid}).json()
        summary = http.get(f"/v1/campaigns/{cid}/summary").json()
        experiments = http.get(f"/v1/campaigns/{cid}/experiments").json()
        if serve:
            report = _report(results, summary, experiments, out, temperature_K, echo)
            echo(f"\nserving: the console is at {base}/campaigns/{cid} — operator key {operator}, admin key {admin}; "
                 "the simulated robot keeps taking work (propose more from the page). Ctrl-C stops both.")
            try:
                while service.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                echo("stopping the service and the robot …")
            return {"campaign": cid, "summary": summary, **report}
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        for f in logs.values():
            f.close()
    report = _report(results, summary, experiments, out, temperature_K, echo)
    return {"campaign": cid, "summary": summary, **report}


def _batch_report(http: httpx.Client, cid: int, reported: int, echo) -> int:
    """Print each newly measured batch: its proposals' predicted vs measured κ, the residual MAE, the best so far."""
    exps = {e["id"]: e for e in http.get(f"/v1/campaigns/{cid}/experiments").json()}
    rows = http.get("/v1/results", params={"campaign": cid}).json()
    batches = sorted({exps[r["experiment_id"]]["batch"] for r in rows})
    best = -np.inf
    for b in batches:
        mine = [r for r in rows if exps[r["experiment_id"]]["batch"] == b]
        done = all(e["status"] in ("measured", "failed") for e in exps.values() if e["batch"] == b)
        best = max(best, max(r["measured"] for r in mine))
        if b <= reported or not done:
            continue
        pairs = ", ".join(f"{r['predicted']:.2f}→{r['measured']:.2f}" for r in mine)
        mae = np.mean([abs(r["residual"]) for r in mine])
        version = exps[mine[0]["experiment_id"]]["model_version_id"]
        echo(f"batch {b} (model version {version}): predicted→measured κ {pairs} mS/cm; residual MAE {mae:.2f}; "
             f"best measured so far {best:.2f}")
        reported = b
    return reported


def _made(row: dict) -> str:
    """What the balance says was made, as a lab writes it: '0.88 m LiPF6 in EC:DMC 36:64 (w/w) (LiPF6: 0.0800)'."""
    return f"{row['lab']['text']} ({row['lab']['cation_fraction_text']})"


def _report(results, summary, experiments, out: Path, temperature_K: float, echo) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from model.optimize.design import DesignSpec
    from model.optimize.landscape import ternary
    from model.optimize.loop import posterior_for
    from model.optimize.plots import ternary_plot
    from model.optimize.posterior import Observation
    from model.predict import Predictor

    echo("")
    echo(f"{'exp':>4} {'predicted':>10} {'± std':>7} {'measured':>9} {'residual':>9}  method     made (by the balance; "
         "salt cation mole fraction)")
    for r in results:
        echo(f"{r['experiment_id']:>4} {r['predicted']:>10.3f} {r['predicted_std']:>7.3f} {r['measured']:>9.3f} "
             f"{r['residual']:>+9.3f}  {r['method']:<10} {_made(r)}")
    failed = [e for e in experiments if e["status"] == "failed"]
    for e in failed:
        echo(f"{e['id']:>4} failed: {e['failure_reason']}")
    echo("")
    if summary["mae"] is not None:
        echo(f"measured {summary['measured']} of {len(experiments)} experiments; MAE predicted vs measured "
             f"{summary['mae']:.3f} mS/cm")
    best = summary.get("best")
    if best:
        row = next(r for r in results if r["experiment_id"] == best["experiment_id"])
        echo(f"best measured: {best['measured']:.3f} mS/cm (predicted {best['predicted']:.3f}) at {_made(row)}")

    parity = out / "parity.png"
    batch_of = {e["id"]: e["batch"] for e in experiments}
    y = np.array([r["measured"] for r in results])
    p = np.array([r["predicted"] for r in results])
    s = np.array([r["predicted_std"] for r in results])
    b = np.array([batch_of[r["experiment_id"]] for r in results])
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    colours = plt.get_cmap("viridis")
    for k in sorted(set(b)):
        m = b == k
        ax.errorbar(y[m], p[m], yerr=s[m], fmt="o", capsize=3, color=colours((k - 1) / max(1, b.max() - 1)),
                    label=f"batch {k}: MAE {np.mean(np.abs(p[m] - y[m])):.2f}")
    ax.legend(fontsize=8)
    lo, hi = float(min(y.min(), p.min())) * 0.95, float(max(y.max(), p.max())) * 1.05
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("measured κ (mS/cm), simulated Clio")
    ax.set_ylabel("predicted κ when proposed (mS/cm) ± std")
    ax.set_title(f"LiPF6 in PC:EC:DMC, x(Li⁺)=0.08, {temperature_K} K", fontsize=10)
    fig.tight_layout()
    fig.savefig(parity, dpi=150)
    plt.close(fig)

    ens = Predictor.load("ionic_conductivity").ensemble
    obj = DesignSpec.from_options(salt=LIPF6, solvents=[PC, EC, DMC], salt_fraction=0.08,
                                  temperature_K=temperature_K).objective_for(ens)
    observations = [Observation(obj.space.point_of(r["measured_composition"]), r["temperature_K"], r["measured"])
                    for r in results if r["measured"] > 0]
    land = ternary(replace(obj, posterior=posterior_for(obj, observations)))
    measured_pts = []
    for r in results:
        mc = r["measured_composition"]
        sv = np.array([mc.get(k, 0.0) for k in (PC, EC, DMC)])
        measured_pts.append(sv / sv.sum())
    landscape = out / "landscape.png"
    ternary_plot(land, obj.space, "mS/cm", "ionic_conductivity", temperature_K, landscape,
                 measured=np.array(measured_pts) if measured_pts else None,
                 measured_values=np.array([r["measured"] for r in results]) if measured_pts else None,
                 title=f"posterior κ (DiffMix + {len(observations)} measurements), LiPF6 in PC:EC:DMC\n"
                       f"x(Li⁺) = 0.08, {temperature_K} K; arrows: feasible gradient")
    echo(f"wrote {parity} and {landscape}")
    return {"parity_png": str(parity), "landscape_png": str(landscape), "measured": int(len(results)),
            "failed": len(failed)}
