"""Fault soak: the simulated lab with every fault type injected at random points of the procedure (the rinse
included) and the agent killed at random moments, over hundreds of experiments; then every stored measurement is
checked against the simulator's truth for the composition the balance recorded.

    .venv/bin/python -m benchmarks.soak [--experiments 200] [--seed 0] [--fault-p 0.03] [--kill-p 0.01]

A kill is an exception no code of the robot catches (BaseException), raised in the agent's thread at a device call:
like kill -9 it skips every handler, and from then on every device call of the dead agent fails the same way, so
not even a `finally` rinse happens. A new agent (new device connections to the same simulated world, the same
journal) then starts and recovers. The service runs in-process under uvicorn on SQLite.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from db.migrate import upgrade
from diffmix.settings import Settings
from model.chem import species
from robot import lab as labmod
from robot.agent import Agent
from robot.cli import DEFAULT_LAB
from robot.client import ServiceClient
from robot.connect import Rig
from robot.drivers.cavro import CavroPump
from robot.drivers.mettler import Balance
from robot.drivers.palmsens import Potentiostat
from robot.journal import Journal
from robot.procedure import Inventory, Procedure
from robot.sim.electrolyte import conductivity_mS_cm
from robot.sim.world import FAULTS, World
from service import server
from service.app import create_app
from tests.conftest import free_port, save_tiny_models
from tests.helpers import make_keys

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"
SPACE = {"salt": LIPF6, "solvents": ["CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"], "salt_fraction_range": [0.04, 0.1],
         "lower": [0.0, 0.1, 0.1]}


class Killed(BaseException):
    """The agent's process died here (nothing of the robot handles a BaseException)."""


class Chaos:
    """Wraps the drivers' device calls: injects a random fault before some, and kills the agent at some."""

    CALLS = ((CavroPump, "transfer"), (Balance, "weigh_g"), (Balance, "zero"), (Potentiostat, "eis"))

    def __init__(self, world: World, rng: np.random.Generator, fault_p: float, kill_p: float) -> None:
        self.world, self.rng, self.fault_p, self.kill_p = world, rng, fault_p, kill_p
        self.dead = False
        self.kills = 0
        self.faults: Counter[str] = Counter()
        self._real = {(cls, name): getattr(cls, name) for cls, name in self.CALLS}
        for (cls, name), real in self._real.items():
            setattr(cls, name, self._wrap(real))

    def _wrap(self, real):  # noqa: ANN001, ANN202 - a method of any of the drivers
        def call(obj, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
            if threading.current_thread().name != "agent":
                return real(obj, *a, **kw)
            if self.dead or self.rng.random() < self.kill_p:
                if not self.dead:
                    self.kills += 1
                self.dead = True
                raise Killed
            if self.rng.random() < self.fault_p:
                fault = str(self.rng.choice(FAULTS))
                self.faults[fault] += 1
                self.world.inject(fault)
            return real(obj, *a, **kw)

        return call

    def restore(self) -> None:
        for (cls, name), real in self._real.items():
            setattr(cls, name, real)


def truth_mS_cm(composition: dict[str, float], temperature_K: float) -> float:
    """The simulator's conductivity of LiPF6 in the solvents at the recorded species mole fractions."""
    x_li = composition.get("[Li+]", 0.0)
    solvents = {k: v for k, v in composition.items() if k not in ("[Li+]", "F[P-](F)(F)(F)(F)F")}
    grams = {k: v * species(k).molar_mass for k, v in solvents.items()}
    total = sum(grams.values())
    molality = x_li / (total / 1000.0)
    return float(conductivity_mS_cm({k: g / total for k, g in grams.items()}, molality, temperature_K))


def main(experiments: int, seed: int, fault_p: float, kill_p: float, out: Path | None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="diffmix-soak-"))
    url = f"sqlite:///{tmp / 'soak.db'}"
    upgrade(url)
    keys = make_keys(url)
    settings = Settings(database_url=url, models_dir=save_tiny_models(tmp / "models"), lease_seconds=20, max_attempts=3,
                        log_level="WARNING")
    port = free_port()
    srv = uvicorn.Server(server.config(create_app(settings), settings, "127.0.0.1", port))
    threading.Thread(target=srv.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(base + "/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['operator']}"}, timeout=120)
    c = http.post("/v1/campaigns", json={"name": "soak", "space": SPACE, "temperature_K": 303.15,
                                         "budget": experiments, "strategy": "random"})
    c.raise_for_status()
    cid = c.json()["id"]
    left = experiments
    while left:
        r = http.post(f"/v1/campaigns/{cid}/proposals?n={min(64, left)}")
        r.raise_for_status()
        left -= len(r.json())

    lab = labmod.load(DEFAULT_LAB)
    world = World(seed=seed)
    rng = np.random.default_rng(seed)
    chaos = Chaos(world, rng, fault_p, kill_p)
    journal = tmp / "journal.jsonl"
    inventory = {s.name: 1e6 for s in lab.stocks}
    truths: dict[int, float] = {}
    t0 = time.perf_counter()

    def one_life() -> bool:
        """Run an agent until the queue is empty (True) or it is killed (False)."""
        rig = Rig(lab, "sim", world=world)
        proc = Procedure(rig.lab, rig.devices, Inventory(inventory), rig.reconnect)
        agent = Agent(ServiceClient(base, keys["robot"]), proc, Journal(journal), "soak", poll_s=0.05,
                      idle_exit_s=1.0)
        finished = {}

        def run() -> None:
            try:
                agent.run()
                finished["ok"] = not agent.stopped
                if agent.stopped:
                    crashes.append(f"stopped: {agent.stopped}")
            except Killed:
                finished["ok"] = False
            except Exception as e:  # noqa: BLE001 - a crash of the agent is a finding of the soak: count it, go on
                crashes.append(f"{type(e).__name__}: {e}")
                finished["ok"] = False

        t = threading.Thread(target=run, name="agent")
        t.start()
        t.join()
        rig.close()
        chaos.dead = False
        return finished["ok"]

    lives = 0
    crashes: list[str] = []
    while True:
        lives += 1
        if one_life():
            queue = [e for e in http.get(f"/v1/campaigns/{cid}/experiments").json() if e["status"] in ("queued", "leased")]
            if not queue:
                break
            time.sleep(settings.lease_seconds)  # leases of killed agents expire, then the work is made again
    seconds = time.perf_counter() - t0
    chaos.restore()

    rows = http.get(f"/v1/results?campaign={cid}").json()
    exps = http.get(f"/v1/campaigns/{cid}/experiments").json()
    errors, flagged = [], 0
    for r in rows:
        truths[r["experiment_id"]] = truth_mS_cm(r["measured_composition"], world.temperature_K)
        rel = r["measured"] / truths[r["experiment_id"]] - 1
        if r["quality_flags"]:
            flagged += 1
        errors.append((abs(rel), bool(r["quality_flags"])))
    good = [e for e, f in errors if not f]
    report = {
        "experiments": experiments, "seed": seed, "fault_p_per_device_call": fault_p, "kill_p_per_device_call": kill_p,
        "agent_kills": chaos.kills, "agent_lives": lives, "agent_crashes": crashes, "faults_injected": dict(chaos.faults),
        "measured": len(rows), "failed": sum(e["status"] == "failed" for e in exps),
        "failure_reasons": dict(Counter((e["failure_reason"] or "").split(":")[0] for e in exps if e["status"] == "failed")),
        "stored_as_good": len(good), "flagged": flagged,
        "good_within_2pct": sum(e <= 0.02 for e in good),
        "good_max_rel_error": max(good) if good else None,
        "good_median_rel_error": float(np.median(good)) if good else None,
        "seconds": round(seconds, 1),
    }
    srv.should_exit = True
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n")
    return report


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fault-p", type=float, default=0.03, help="chance of a fault before each device call")
    ap.add_argument("--kill-p", type=float, default=0.01, help="chance the agent dies at each device call")
    ap.add_argument("--out", type=Path, default=None, help="also write the report (JSON) here")
    a = ap.parse_args()
    main(a.experiments, a.seed, a.fault_p, a.kill_p, a.out)
