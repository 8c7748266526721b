"""The agent with the simulated lab against a live service: the happy path, every injected fault, recovery."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from model.contract import Recipe
from robot import lab as labmod
from robot.agent import Agent
from robot.client import ServiceClient
from robot.connect import Rig
from robot.errors import RecipeError
from robot.journal import Journal
from robot.procedure import Inventory, Procedure
from robot.recipe import composition_from_masses, plan_masses

LAB = Path(__file__).resolve().parents[2] / "robot" / "labs" / "sim.toml"
ROOT = LAB.parent.parent.parent
RECIPE_FIELDS = {"salt": "[Li+].F[P-](F)(F)(F)(F)F", "solvents": ["CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"],
                 "salt_cation_fraction": 0.08, "solvent_ratio": [0.0, 0.3, 0.7]}


def recipe(**change):
    return Recipe.make(**{**RECIPE_FIELDS, **change})


RECIPE = recipe()


def test_recipe_round_trip_hand_checked():
    lab = labmod.load(LAB)
    masses = plan_masses(RECIPE, lab.stocks, 2.0)
    comp = composition_from_masses(masses, lab.stocks, RECIPE.salt)
    assert comp["[Li+]"] == pytest.approx(0.08, abs=1e-6)
    assert comp["O=C1OCCO1"] / comp["COC(=O)OC"] == pytest.approx(0.3 / 0.7, rel=1e-5)
    assert "CC1COC(=O)O1" not in comp
    vol = sum(g / lab.stock(n).density_g_ml for n, g in masses.items())
    assert vol == pytest.approx(2.0)


def test_recipes_the_stocks_cannot_make_are_refused():
    lab = labmod.load(LAB)
    too_salty = recipe(salt_cation_fraction=0.2)  # beyond the 2.5 mol/kg stocks
    with pytest.raises(RecipeError, match="cannot make"):
        plan_masses(too_salty, lab.stocks, 2.0)
    with pytest.raises(RecipeError, match="no stock holds"):
        plan_masses(recipe(solvents=["CCO", "COC(=O)OC"], solvent_ratio=[0.5, 0.5]), lab.stocks, 2.0)


def make_agent(live, tmp_path, faults=(), name="clio", inventory=None, lab_overrides=None, **kw):
    lab = labmod.load(LAB, lab_overrides)
    rig = Rig(lab, "sim", seed=7)
    for f in faults:
        rig.sim.world.inject(f)
    inv = Inventory(inventory or {s.name: s.volume_ml for s in lab.stocks})
    proc = Procedure(rig.lab, rig.devices, inv, rig.reconnect)
    client = ServiceClient(live.url, live.keys["robot"])
    agent = Agent(client, proc, Journal(tmp_path / f"{name}.jsonl"), name, poll_s=0.05, **kw)
    return agent, rig


def run_with_known_cell(live, tmp_path, name, **overrides):
    """An agent that takes the cell constant as known (no calibration), run until the queue is empty."""
    agent, rig = make_agent(live, tmp_path, idle_exit_s=0.3, name=name, lab_overrides=overrides or None)
    try:
        agent.cell_constant, agent.calibration_id = 1.12, None
        agent.run()
    finally:
        rig.close()
    return agent


def run_after_fault(live, tmp_path, fault, times=1, **kw):
    """A calibrated agent, the fault injected (times over), then run until the queue is empty."""
    agent, rig = make_agent(live, tmp_path, idle_exit_s=0.3, **kw)
    try:
        agent.ensure_calibration()
        rig.sim.world.inject(fault, times)
        agent.run()
    finally:
        rig.close()
    return agent


def test_happy_path_measures_every_experiment(live, tmp_path):
    cid, exps = live.campaign(budget=3)
    agent, rig = make_agent(live, tmp_path, idle_exit_s=0.3)
    try:
        assert agent.run() == 3
    finally:
        rig.close()
    rows = live.call("GET", f"/v1/results?campaign={cid}", "analyst").json()
    assert len(rows) == 3
    for r in rows:
        assert 2.0 < r["measured"] < 20.0 and r["method"] == "min-phase" and not r["quality_flags"]
        assert abs(sum(r["measured_composition"].values()) - 1) < 1e-9
    assert agent.calibration_id is not None  # the cell was calibrated and the calibration stored
    assert live.call("GET", f"/v1/campaigns/{cid}", "operator").json()["status"] == "completed"


@pytest.mark.parametrize("fault, protocol", [("timeout", "dt"), ("garble", "dt"), ("disconnect", "dt"),
                                             ("temperature_drift", "dt"), ("air_bubble", "dt"),
                                             ("timeout", "oem"), ("garble", "oem"), ("disconnect", "oem")])
def test_transient_faults_are_retried_or_remeasured(live, tmp_path, fault, protocol):
    cid, _ = live.campaign(budget=1)
    run_after_fault(live, tmp_path, fault, lab_overrides={"pump_protocol": protocol})
    rows = live.call("GET", f"/v1/results?campaign={cid}", "analyst").json()
    assert len(rows) == 1, live.experiments(cid)
    if fault in ("air_bubble", "temperature_drift"):
        assert any("remeasured" in f for f in rows[0]["quality_flags"])
    assert 2.0 < rows[0]["measured"] < 20.0


def test_pump_error_fails_the_attempt_and_the_retry_succeeds(live, tmp_path):
    cid, _ = live.campaign(budget=1)
    run_after_fault(live, tmp_path, "pump_error")
    exp = live.experiments(cid)[0]
    assert exp["status"] == "measured" and exp["attempts"] == 2
    events = [json.loads(line) for line in (tmp_path / "clio.jsonl").read_text().splitlines()]
    assert any(e["event"] == "failing" and "plunger overload" in e["reason"] and e["retryable"] for e in events)


def test_persistent_bubble_fails_with_a_reason_and_records_nothing(live, tmp_path):
    cid, _ = live.campaign(budget=1)
    run_after_fault(live, tmp_path, "air_bubble", 100, max_experiments=3)
    exp = live.experiments(cid)[0]
    assert exp["status"] == "failed" and "open circuit" in exp["failure_reason"]
    assert live.call("GET", f"/v1/results?campaign={cid}", "analyst").json() == []


def test_inventory_refuses_to_run_a_stock_dry(live, tmp_path):
    cid, _ = live.campaign(budget=1)
    lab = labmod.load(LAB)
    inv = {s.name: 0.01 for s in lab.stocks}
    agent, rig = make_agent(live, tmp_path, inventory=inv, idle_exit_s=0.3)
    agent.cell_constant, agent.calibration_id = 1.12, None
    try:
        agent.recover()
        while (exp := agent.client.claim()) is not None:
            agent.process(exp)
    finally:
        rig.close()
    exp = live.experiments(cid)[0]
    assert exp["status"] == "failed" and "refill" in exp["failure_reason"]


def test_recovery_reposts_a_journaled_measurement_once(live, tmp_path):
    cid, _ = live.campaign(budget=1)
    agent, rig = make_agent(live, tmp_path)
    try:
        agent.ensure_calibration()
        exp = agent.client.claim()
        # simulate a crash right after the measurement was journaled, before (or after) the post reached the service
        agent.journal.write("claimed", exp["id"], attempt=exp["attempts"], lease_token=exp["lease_token"])
        m = agent.procedure.run(Recipe.model_validate(exp["recipe"]), agent.cell_constant, agent.calibration_id)
        key = f"clio-exp{exp['id']}-attempt{exp['attempts']}"
        body = m.result.model_dump(mode="json")
        agent.journal.write("measured", exp["id"], key=key, result=body)
        agent.client.result(exp["id"], body, key, exp["lease_token"])  # it did reach the service…
        agent2, rig2 = make_agent(live, tmp_path)  # …and the restarted agent posts it again
        agent2.recover()
        rig2.close()
    finally:
        rig.close()
    rows = live.call("GET", f"/v1/results?campaign={cid}", "analyst").json()
    assert len(rows) == 1
    last = [json.loads(x) for x in (tmp_path / "clio.jsonl").read_text().splitlines()][-1]
    assert last["event"] == "posted"


@pytest.mark.timeout(300)
def test_sigkill_mid_experiment_then_restart_gives_exactly_one_result(live, tmp_path):
    cid, exps = live.campaign(budget=3)
    journal = tmp_path / "j.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "diffmix", "robot", "run", "--service", live.url, "--key", live.keys["robot"],
           "--backend", "sim", "--journal", str(journal), "--poll", "0.05", "--idle-exit", "1.0"]
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it as soon as it has started an experiment
        if journal.exists() and '"event":"started"' in journal.read_text():
            break
        assert p.poll() is None, "the agent exited before starting an experiment"
        time.sleep(0.01)
    else:
        pytest.fail("the agent never started an experiment")
    os.kill(p.pid, signal.SIGKILL)
    p.wait(30)
    p2 = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert p2.returncode == 0, p2.stderr[-2000:]
    final = live.experiments(cid)
    assert all(e["status"] == "measured" for e in final), [(e["id"], e["status"], e["attempts"], e["failure_reason"]) for e in final] + [p2.stderr[-3000:]]
    rows = live.call("GET", f"/v1/results?campaign={cid}", "analyst").json()
    assert sorted(r["experiment_id"] for r in rows) == sorted(e["id"] for e in exps)  # one result each


def test_planner_avoids_stocks_below_the_pump_minimum():
    lab = labmod.load(LAB)
    # here the unconstrained plan wants a few µL of the DMC salt stock; the salt can come from the others instead
    r = recipe(solvent_ratio=[0.085, 0.33, 0.585])
    free = plan_masses(r, lab.stocks, 2.0)
    assert 0 < free["LiPF6 2.5 m in DMC"] / lab.stock("LiPF6 2.5 m in DMC").density_g_ml < 0.02
    masses = plan_masses(r, lab.stocks, 2.0, min_volume_ml=0.02)
    vols = {n: g / lab.stock(n).density_g_ml for n, g in masses.items()}
    assert min(vols.values()) >= 0.02
    comp = composition_from_masses(masses, lab.stocks, RECIPE.salt)
    assert comp["[Li+]"] == pytest.approx(0.08, abs=2e-3)
    # a trace the pumps cannot dispense at all is refused with the reason
    with pytest.raises(RecipeError, match="volumes the pumps can dispense"):
        plan_masses(recipe(solvent_ratio=[0.003, 0.33, 0.667]), lab.stocks, 2.0, min_volume_ml=0.02)


def _agent_cmd(live, journal, *extra):
    return [sys.executable, "-m", "diffmix", "robot", "run", "--service", live.url, "--key", live.keys["robot"],
            "--backend", "sim", "--journal", str(journal), "--poll", "0.05", *extra]


def _wait_for(journal, event, p, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists() and f'"event":"{event}"' in journal.read_text():
            return
        assert p.poll() is None, "the agent exited early"
        time.sleep(0.005)
    pytest.fail(f"the agent never journaled {event!r}")


def _agent_busy_with_first_experiment(live, tmp_path, budget):
    """A campaign of `budget` experiments and an agent process that has journaled starting the first one."""
    cid, _ = live.campaign(budget=budget)
    journal = tmp_path / "j.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(_agent_cmd(live, journal), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for(journal, "started", p)
    return cid, p, journal


@pytest.mark.timeout(300)
def test_sigterm_finishes_the_current_experiment_then_exits(live, tmp_path):
    cid, p, journal = _agent_busy_with_first_experiment(live, tmp_path, budget=4)
    p.send_signal(signal.SIGTERM)
    assert p.wait(120) == 0
    final = {e["id"]: e["status"] for e in live.experiments(cid)}
    started = [json.loads(x)["experiment_id"] for x in journal.read_text().splitlines() if '"started"' in x]
    assert final[started[0]] == "measured"  # the one in hand was finished and reported
    assert list(final.values()).count("queued") >= 2  # and no new one was taken


@pytest.mark.timeout(300)
def test_emergency_stop_halts_and_fails_the_experiment_with_the_reason(live, tmp_path):
    cid, p, _ = _agent_busy_with_first_experiment(live, tmp_path, budget=2)
    p.send_signal(signal.SIGUSR1)
    assert p.wait(120) == 0
    final = live.experiments(cid)
    stopped = [e for e in final if e["status"] == "failed"]
    assert len(stopped) == 1 and "emergency stop" in stopped[0]["failure_reason"], (final, p.stderr.read().decode()[-3000:])
    assert not [e for e in final if e["status"] == "measured"]  # nothing half-made was recorded


def test_client_retries_until_the_service_comes_up(db_url, tiny_models_dir):
    from tests.conftest import LiveService, free_port

    port = free_port()
    client_result = {}
    keys = {}

    def ask():
        from robot.client import ServiceClient

        while "robot" not in keys:
            time.sleep(0.01)
        c = ServiceClient(f"http://127.0.0.1:{port}", keys["robot"], max_backoff=0.5, attempts=30)
        client_result["claim"] = c.claim()  # connection refused at first, retried with backoff

    t = threading.Thread(target=ask)
    t.start()
    from tests.helpers import make_keys

    keys.update(make_keys(db_url))
    time.sleep(1.5)
    svc = LiveService(db_url, tiny_models_dir, _port=port, _keys=keys)
    try:
        t.join(60)
        assert client_result == {"claim": None}  # reached the service: an empty queue answers 204
    finally:
        svc.stop()


@pytest.mark.parametrize("protocol", ["dt", "oem"])
def test_a_measurement_over_either_pump_framing_records_what_the_instruments_report(protocol):
    from robot.sim import cavro, mettler, palmsens

    lab = labmod.load(LAB, {"pump_protocol": protocol})
    rig = Rig(lab, "sim", seed=7)
    try:
        proc = Procedure(rig.lab, rig.devices, Inventory({s.name: s.volume_ml for s in lab.stocks}), rig.reconnect)
        m = proc.run(RECIPE, 1.12, None)
    finally:
        rig.close()
    ids = m.result.instrument_ids
    assert ids["balance"] == mettler.SERIAL and ids["potentiostat"] == palmsens.SERIAL
    assert ids["pumps_firmware"] == cavro.FIRMWARE and ids["potentiostat_firmware"].startswith("es4_hr")
    assert 2.0 < m.result.conductivity_mS_cm < 20.0
    assert abs(sum(m.result.measured_composition.values()) - 1) < 1e-9


def test_lab_files_with_impossible_pump_addresses_or_protocols_are_refused():
    with pytest.raises(RecipeError, match="outside 1–16"):
        labmod.load(LAB, {"rinse_pump": 17})
    with pytest.raises(RecipeError, match="share an address"):
        labmod.load(LAB, {"rinse_pump": 13})
    with pytest.raises(RecipeError, match="pump_protocol"):
        labmod.load(LAB, {"pump_protocol": "rs232"})


def test_lab_file_stocks_may_name_their_solvents_and_salt(tmp_path):
    text = LAB.read_text().replace('solvent = { "O=C1OCCO1" = 1.0 }', 'solvent = { "EC" = 1.0 }', 1)
    text = text.replace('salt = "[Li+].F[P-](F)(F)(F)(F)F"', 'salt = "LiPF6"', 1)
    named = tmp_path / "named.toml"
    named.write_text(text)
    lab = labmod.load(named)
    assert lab.stock("EC").solvent == {"O=C1OCCO1": 1.0}
    assert lab.stock("LiPF6 2.5 m in PC").salt == "[Li+].F[P-](F)(F)(F)(F)F"
    named.write_text(text.replace('{ "EC" = 1.0 }', '{ "ECC" = 1.0 }'))
    with pytest.raises(RecipeError, match="stock 'EC'.*did you mean"):
        labmod.load(named)


def _record_world(world):
    """Wrap the simulated world so a test sees the order of rinses, deliveries and fills, and each fill's truth."""
    events = []
    for name in ("rinse", "deliver", "fill_cell"):
        real = getattr(world, name)

        def wrapped(*a, _real=real, _name=name, **kw):
            out = _real(*a, **kw)
            events.append((_name, world.cell_conductivity_mS_cm() if _name == "fill_cell" else None))
            return out

        setattr(world, name, wrapped)
    return events


@pytest.mark.parametrize("fault", ["timeout", "garble", "disconnect", "pump_error"])
def test_a_failed_rinse_is_redone_before_the_next_sample(live, tmp_path, fault):
    """The fault hits the rinse after the first sample: that measurement stands, and the second sample is made
    only after a rinse that completed, so it is measured on its own liquid (within 2 % of the simulator's truth)."""
    cid, _ = live.campaign(budget=2)
    agent, rig = make_agent(live, tmp_path, idle_exit_s=0.3)
    world = rig.sim.world
    try:
        agent.ensure_calibration()
        events = _record_world(world)
        real_rinse, fired = agent.procedure.rinse, []

        def rinse_with_fault():
            if not fired and any(e[0] == "fill_cell" for e in events):
                fired.append(1)
                world.inject(fault)
            return real_rinse()

        agent.procedure.rinse = rinse_with_fault
        agent.run()
    finally:
        rig.close()
    rows = live.call("GET", f"/v1/results?campaign={cid}", "analyst").json()
    assert fired and len(rows) == 2, live.experiments(cid)
    kinds = [e[0] for e in events]
    # between a fill and the next sample's first delivery there is always a completed rinse
    for i, k in enumerate(kinds):
        if k == "fill_cell":
            nxt = next((j for j in range(i + 1, len(kinds)) if kinds[j] == "deliver"), None)
            assert nxt is None or "rinse" in kinds[i + 1:nxt], kinds
    truths = [t for k, t in events if k == "fill_cell"]
    assert rows[1]["measured"] == pytest.approx(truths[-1], rel=0.02)
    vessels = [json.loads(x) for x in (tmp_path / "clio.jsonl").read_text().splitlines() if '"vessels"' in x]
    assert {"vial": "unknown", "cell": "unknown"} in [{k: v[k] for k in ("vial", "cell")} for v in vessels]


def test_a_robot_that_cannot_rinse_stops_taking_work(live, tmp_path):
    cid, _ = live.campaign(budget=2)
    agent, rig = make_agent(live, tmp_path, idle_exit_s=0.3)
    try:
        agent.ensure_calibration()
        real_rinse = agent.procedure.rinse

        def broken_rinse():
            rig.sim.world.inject("pump_error", 1000)  # the rinse pump overloads on every move from now on
            return real_rinse()

        agent.procedure.rinse = broken_rinse
        agent.run()
    finally:
        rig.close()
    assert agent.stopped and "could not be rinsed after 3 attempts" in agent.stopped
    me = [r for r in live.call("GET", "/v1/robots", "operator").json() if r["name"] == "robot"][0]
    assert "could not be rinsed" in me["stopped_reason"] and me["vessels"] == {"vial": "unknown", "cell": "unknown"}
    assert me["last_seen_at"] is not None and me["leases"] == []
    exps = live.experiments(cid)
    assert [e["status"] for e in exps] == ["measured", "queued"]  # the first stands; the second waits for a clean cell


def test_the_vessels_state_survives_a_restart(live, tmp_path):
    cid, _ = live.campaign(budget=1)
    Journal(tmp_path / "clio.jsonl").write("vessels", None, vial="dirty", cell="dirty")  # a crash left a sample
    agent, rig = make_agent(live, tmp_path, idle_exit_s=0.3)
    assert agent.procedure.vessels == {"vial": "dirty", "cell": "dirty"}
    events = _record_world(rig.sim.world)
    try:
        agent.cell_constant, agent.calibration_id = 1.12, None
        agent.run()
    finally:
        rig.close()
    kinds = [e[0] for e in events]
    assert kinds[0] == "rinse" and kinds.index("rinse") < kinds.index("deliver")


def test_a_temperature_off_the_plan_is_remeasured_or_failed(live, tmp_path):
    """An offset on both readings (drift fault twice) passes the drift check but not the planned temperature; a cell
    without a thermostat that simply is not at the planned temperature fails the experiment with the reason; with
    the thermostat it is measured at the planned temperature, within the bath's small error."""
    cid, _ = live.campaign(budget=1)
    run_after_fault(live, tmp_path, "temperature_drift", 2)
    row = live.call("GET", f"/v1/results?campaign={cid}", "analyst").json()[0]
    assert abs(row["temperature_K"] - 303.15) < 0.5 and any("planned 303.15 K" in f for f in row["quality_flags"])

    cold, _ = live.campaign(budget=1, temperature_K=283.15)
    run_with_known_cell(live, tmp_path, "clio2", thermostat=False)
    exp = live.experiments(cold)[0]
    assert exp["status"] == "failed" and "planned 283.15 K" in exp["failure_reason"]
    assert live.call("GET", f"/v1/results?campaign={cold}", "analyst").json() == []

    bath, _ = live.campaign(budget=1, temperature_K=283.15)
    run_with_known_cell(live, tmp_path, "clio3")
    row = live.call("GET", f"/v1/results?campaign={bath}", "analyst").json()[0]
    assert abs(row["temperature_K"] - 283.15) < 0.25 and row["temperature_K"] != 283.15  # settled, with its error


def test_the_client_retries_5xx_a_bounded_number_of_times():
    """A service that answers 500 forever: the client tries `attempts` times with backoff, then says so (503)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from robot.client import UNREACHABLE, ServiceError

    hits = []

    class Always500(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            hits.append(self.path)
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Always500)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = ServiceClient(f"http://127.0.0.1:{server.server_address[1]}", "k", max_backoff=0.05, attempts=4)
        with pytest.raises(ServiceError, match="unreachable after 4 attempts") as e:
            client.result(1, {}, "key-000001", "t" * 32)
        assert e.value.status == UNREACHABLE and len(hits) == 4
    finally:
        server.shutdown()


@pytest.mark.parametrize("fault", ["garble", "timeout"])
def test_a_fault_during_the_calibration_is_retried(live, tmp_path, fault):
    agent, rig = make_agent(live, tmp_path)
    try:
        rig.sim.world.inject(fault)
        agent.ensure_calibration()
    finally:
        rig.close()
    assert agent.cell_constant == pytest.approx(1.12, rel=0.02) and agent.calibration_id is not None


def test_a_truth_without_a_value_fails_the_experiment_with_its_reason(live, tmp_path):
    cid, _ = live.campaign(budget=1)
    run_with_known_cell(live, tmp_path, "clio-truth", truth={"function": "tests.robot.truths:broken"})
    exp = live.experiments(cid)[0]
    assert exp["status"] == "failed" and "ZeroDivisionError: no κ for this blend" in exp["failure_reason"]
    assert live.call("GET", f"/v1/results?campaign={cid}", "analyst").json() == []


def test_an_agent_started_before_its_service_waits_for_it_logging_each_try(live, tmp_path, monkeypatch, caplog):
    """A lab without a supervisor: the agent comes up while its service is still loading (a replica takes ~30 s
    under load). It waits with capped backoff, logging each try, then works; it used to exit with code 2 after
    eight tries (~23 s)."""
    agent, rig = make_agent(live, tmp_path, idle_exit_s=0.3, name="early")
    real = agent.client.request
    calls = {"readyz": 0}

    def not_yet(method, path, **kw):
        if path == "/readyz":
            calls["readyz"] += 1
            if calls["readyz"] <= 3:  # the service is not up for the first three tries
                from robot.client import ServiceError

                raise ServiceError(503, "service unreachable after 1 attempts (connection refused)", live.url)
        return real(method, path, **kw)

    monkeypatch.setattr(agent.client, "request", not_yet)
    monkeypatch.setattr("robot.agent.STARTUP_MAX_BACKOFF_S", 1.0)  # 1 s between tries, for the test
    try:
        agent.cell_constant, agent.calibration_id = 1.12, None
        with caplog.at_level("WARNING", logger="robot.agent"):
            done = agent.run()
    finally:
        rig.close()
    assert calls["readyz"] == 4 and done == 0 and agent.stopped is None
    tries = [r.getMessage() for r in caplog.records if "waiting for the service" in r.getMessage()]
    assert len(tries) == 3 and "try 1" in tries[0] and "try 3" in tries[2]


def test_an_agent_waiting_for_its_service_stops_when_told(tmp_path):
    from robot.client import ServiceClient

    lab = labmod.load(LAB)
    rig = Rig(lab, "sim", seed=7)
    proc = Procedure(rig.lab, rig.devices, Inventory({s.name: s.volume_ml for s in lab.stocks}), rig.reconnect)
    agent = Agent(ServiceClient("http://127.0.0.1:9", "no-key"), proc, Journal(tmp_path / "j.jsonl"), "lonely")
    threading.Timer(1.5, lambda: setattr(agent, "stopping", True)).start()
    try:
        t0 = time.monotonic()
        assert agent.run() == 0  # no exception, no exit code 2: it waited until stopped
        assert time.monotonic() - t0 < 10
    finally:
        rig.close()
