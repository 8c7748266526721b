"""The main job end to end on the embedded default: SQLite, the shipped model, the simulated Clio lab.

A service process and a robot-agent process are started exactly as a lab would start them; this script plays the
lab operator: it creates the campaign (LiPF6 in PC:EC:DMC at x(Li+) = 0.08, 303.15 K), asks DiffMix for batches
of proposals by gradient ascent, waits while the robot makes and measures them, and finally reports predicted vs
measured conductivity, the best composition, a parity plot and the landscape with the measured points.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from tqdm.auto import tqdm

LIPF6, PC, EC, DMC = "[Li+].F[P-](F)(F)(F)(F)F", "CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"


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


def run(out: Path, budget: int = 12, batch: int = 4, temperature_K: float = 303.15, seed: int = 0, echo=print) -> dict:
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
    engine.dispose()

    port = _free_port()
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
        agent = subprocess.Popen(py + ["robot", "run", "--service", base, "--key", robot, "--backend", "sim",
                                       "--journal", str(out / "journal.jsonl"), "--poll", "0.2", "--seed", str(seed)],
                                 env=env, stdout=logs["robot"], stderr=subprocess.STDOUT)
        echo("simulated robot agent started (pumps, balance and potentiostat emulated over their serial protocols)")
        http = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {operator}"})
        body = {"name": "demo: LiPF6 in PC:EC:DMC", "space": {"salt": LIPF6, "solvents": [PC, EC, DMC],
                                                              "salt_fraction": 0.08},
                "temperature_K": temperature_K, "budget": budget, "strategy": "gradient"}
        c = http.post("/v1/campaigns", json=body)
        c.raise_for_status()
        cid = c.json()["id"]
        echo(f"campaign {cid}: {body['name']}, x(Li+) = 0.08, {temperature_K} K, budget {budget} experiments")
        bar = tqdm(total=budget, desc="experiments measured", unit="exp")
        done = 0
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
                r = http.post(f"/v1/campaigns/{cid}/proposals", params={"n": batch})
                if r.status_code == 409:
                    break
                r.raise_for_status()
                bar.set_postfix(proposed=len(r.json()))
            time.sleep(0.3)
        bar.close()
        results = http.get("/v1/results", params={"campaign": cid}).json()
        summary = http.get(f"/v1/campaigns/{cid}/summary").json()
        experiments = http.get(f"/v1/campaigns/{cid}/experiments").json()
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


def _names(fracs: dict) -> str:
    from model.data.tables import name_of

    return " ".join(f"{name_of(k)} {v:.3f}" for k, v in sorted(fracs.items(), key=lambda kv: -kv[1]) if v > 5e-4)


def _report(results, summary, experiments, out: Path, temperature_K: float, echo) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from model.optimize.design import DesignSpec
    from model.optimize.landscape import ternary
    from model.optimize.plots import ternary_plot
    from model.predict import Predictor

    echo("")
    echo(f"{'exp':>4} {'predicted':>10} {'± std':>7} {'measured':>9} {'residual':>9}  method     measured composition (mole fractions)")
    for r in results:
        echo(f"{r['experiment_id']:>4} {r['predicted']:>10.3f} {r['predicted_std']:>7.3f} {r['measured']:>9.3f} "
             f"{r['residual']:>+9.3f}  {r['method']:<10} {_names(r['measured_composition'])}")
    failed = [e for e in experiments if e["status"] == "failed"]
    for e in failed:
        echo(f"{e['id']:>4} failed: {e['failure_reason']}")
    echo("")
    if summary["mae"] is not None:
        echo(f"measured {summary['measured']} of {len(experiments)} experiments; MAE predicted vs measured "
             f"{summary['mae']:.3f} mS/cm")
    best = summary.get("best")
    if best:
        echo(f"best measured: {best['measured']:.3f} mS/cm (predicted {best['predicted']:.3f}) at {_names(best['composition'])}")

    parity = out / "parity.png"
    y = np.array([r["measured"] for r in results])
    p = np.array([r["predicted"] for r in results])
    s = np.array([r["predicted_std"] for r in results])
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.errorbar(y, p, yerr=s, fmt="o", capsize=3)
    lo, hi = float(min(y.min(), p.min())) * 0.95, float(max(y.max(), p.max())) * 1.05
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("measured κ (mS/cm), simulated Clio")
    ax.set_ylabel("DiffMix predicted κ (mS/cm) ± ensemble std")
    ax.set_title(f"LiPF6 in PC:EC:DMC, x(Li⁺)=0.08, {temperature_K} K", fontsize=10)
    fig.tight_layout()
    fig.savefig(parity, dpi=150)
    plt.close(fig)

    ens = Predictor.load("ionic_conductivity").ensemble
    obj = DesignSpec.from_options(salt=LIPF6, solvents=[PC, EC, DMC], salt_fraction=0.08,
                                  temperature_K=temperature_K).objective_for(ens)
    land = ternary(obj)
    measured_pts = []
    for r in results:
        mc = r["measured_composition"]
        sv = np.array([mc.get(k, 0.0) for k in (PC, EC, DMC)])
        measured_pts.append(sv / sv.sum())
    landscape = out / "landscape.png"
    ternary_plot(land, obj.space, "mS/cm", "ionic_conductivity", temperature_K, landscape,
                 measured=np.array(measured_pts) if measured_pts else None,
                 title=f"DiffMix κ landscape of LiPF6 in PC:EC:DMC\nx(Li⁺) = 0.08, {temperature_K} K; arrows: feasible gradient")
    echo(f"wrote {parity} and {landscape}")
    return {"parity_png": str(parity), "landscape_png": str(landscape), "measured": int(len(results)),
            "failed": len(failed)}
