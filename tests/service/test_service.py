"""The REST service on SQLite and on a real PostgreSQL server."""

import csv
import io
import json
import math
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from db import crud
from db.session import make_engine, make_sessionmaker
from diffmix.settings import Settings
from service.app import create_app
from tests.helpers import make_keys
from tests.service.client import CAMPAIGN, DMC, EC, LIPF6, PC, RECORD, Api, lease, result_body  # noqa: F401


def test_health_ready_metrics(api):
    assert api("GET", "/healthz").json() == {"status": "ok"}
    r = api("GET", "/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok" and "ionic_conductivity" in r.json()["models"]
    api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [RECORD]})
    m = api("GET", "/metrics").text
    assert "diffmix_http_requests_total" in m and "diffmix_queue_depth" in m


def test_predict_in_record_order_with_units(api):
    recs = [RECORD, {**RECORD, "temperature_K": 330.0}]
    r = api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": recs})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert len(preds) == 2 and all(p["unit"] == "mS/cm" and p["prediction"] > 0 for p in preds)
    single = api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [recs[1]]})
    assert single.json()["predictions"][0]["prediction"] == pytest.approx(preds[1]["prediction"], rel=1e-6)
    g = api("POST", "/v1/gradient", "operator", json={"property": "ionic_conductivity", "records": [RECORD]}).json()
    assert set(g["predictions"][0]["gradient"]) == {"O=C1OCCO1", "[Li+]", "F[P-](F)(F)(F)(F)F"}
    assert g["predictions"][0]["names"] == {"O=C1OCCO1": "EC", "[Li+]": "Li⁺", "F[P-](F)(F)(F)(F)F": "PF6⁻"}


def test_predictions_carry_the_applicability_domain(api):
    """The tiny models' domain (tests/conftest.py::tiny_domain) knows LiPF6 in EC:DMC; NaCl in water is out."""
    nacl = {"components": [{"smiles": "O", "amount": 1.0}, {"smiles": "[Na+].[Cl-]", "amount": 0.058}], "basis": "mass",
            "temperature_K": 298.15}
    ok = {**RECORD, "components": [*RECORD["components"], {"smiles": DMC, "amount": 1.5}]}
    preds = api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [ok, nacl]}).json()
    a, b = preds["predictions"]
    assert a["domain"] == {"in_domain": True, "reasons": []}
    assert not b["domain"]["in_domain"] and any("element Na" in r for r in b["domain"]["reasons"])


def test_the_domains_pair_threshold_is_a_setting(db_url, tiny_models_dir):
    """DIFFMIX_DOMAIN_MIN_PAIR_ROWS: the tiny models' 27 rows of EC with DMC are "rarely together" below 30."""
    settings = Settings(database_url=db_url, models_dir=tiny_models_dir, domain_min_rows=5, domain_min_pair_rows=30)
    keys = make_keys(db_url)
    ok = {**RECORD, "components": [*RECORD["components"], {"smiles": DMC, "amount": 1.5}]}
    with TestClient(create_app(settings)) as client:
        r = Api(client, keys, db_url)("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [ok]})
    assert r.json()["predictions"][0]["domain"] == {
        "in_domain": False, "reasons": ["DMC and EC together in only 27 training rows (fewer than 30)"]}


def test_predict_takes_names_a_formulation_and_celsius(api):
    named = {"components": [{"smiles": "EC", "amount": 1.506}, {"smiles": "LiPF6", "amount": 0.3006}], "basis": "mass",
             "temperature_C": 25.0}
    formulation = {"formulation": "1 m LiPF6 in EC:DMC 3:7 (w/w)", "temperature_K": 298.15}
    r = api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [RECORD, named, formulation]})
    assert r.status_code == 200, r.text
    a, b, _ = r.json()["predictions"]
    assert b["prediction"] == pytest.approx(a["prediction"], rel=1e-9)
    for bad, where in (({**formulation, "basis": "mass"}, "not both"), ({**named, "temperature_K": 298.15}, "exactly one"),
                       ({"formulation": "1 M LiPF6 in EC:EMC 3:7", "temperature_K": 298.15}, "say what the ratio")):
        r = api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [bad]})
        assert r.status_code == 422 and where in r.text, r.text


def test_an_excess_property_of_a_pure_liquid_is_exactly_zero(api):
    pure = {"components": [{"smiles": EC, "amount": 1.0}], "basis": "mole", "temperature_K": 298.15}
    end_point = {"components": [{"smiles": EC, "amount": 1.0}, {"smiles": DMC, "amount": 0.0}], "basis": "mole_fraction",
                 "temperature_K": 298.15}
    mixed = {**end_point, "components": [{"smiles": EC, "amount": 0.5}, {"smiles": DMC, "amount": 0.5}]}
    for prop in ("excess_molar_enthalpy", "excess_molar_volume"):
        r = api("POST", "/v1/predict", "operator", json={"property": prop, "records": [pure, end_point, mixed]})
        assert r.status_code == 200, r.text
        p = r.json()["predictions"]
        assert [(x["prediction"], x["std"]) for x in p[:2]] == [(0.0, 0.0), (0.0, 0.0)] and p[2]["prediction"] != 0.0
        # exact for any liquid, so never outside the domain, even of a molecule the model never saw (FEC)
        assert [x["domain"] for x in p[:2]] == [{"in_domain": True, "reasons": []}] * 2
        fec = "O=C1OCC(F)O1"
        unseen = {**pure, "components": [{"smiles": fec, "amount": 1.0}]}
        blend = {**mixed, "components": [{"smiles": fec, "amount": 0.5}, {"smiles": DMC, "amount": 0.5}]}
        r = api("POST", "/v1/predict", "operator", json={"property": prop, "records": [unseen, blend]}).json()
        assert r["predictions"][0]["domain"]["in_domain"] and not r["predictions"][1]["domain"]["in_domain"], r
    # conductivity still needs a salt and a solvent
    r = api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [pure]})
    assert r.status_code == 422 and "at least 2 are needed" in r.text


BAD = [
    ({"property": "ionic_conductivity", "records": [{**RECORD, "components": [{"smiles": "C1CC", "amount": 1}, RECORD["components"][1]]}]}, "invalid SMILES"),
    ({"property": "ionic_conductivity", "records": [{**RECORD, "components": [{"smiles": EC, "amount": -1}, RECORD["components"][1]]}]}, "negative"),
    ({"property": "ionic_conductivity", "records": [{**RECORD, "temperature_K": 600}]}, "outside"),
    ({"property": "ionic_conductivity", "records": [{**RECORD, "temperature_K": 170}]}, "lowest temperature"),
    ({"property": "excess_molar_enthalpy", "records": [{**RECORD, "components": [{"smiles": EC, "amount": 0}]}]}, "all amounts are zero"),
    ({"property": "ionic_conductivity", "records": [{k: v for k, v in RECORD.items() if k != "basis"}]}, "basis"),
    ({"property": "ionic_conductivity", "records": [{**RECORD, "pressure_kPa": 500}]}, "101.325 kPa"),
    ({"property": "ionic_conductivity", "records": [{**RECORD, "basis": "mole_fraction"}]}, "sum to 1"),
    ({"property": "viscosity", "records": [RECORD]}, "property"),
    ({"property": "ionic_conductivity", "records": [{**RECORD, "Basis": "mass"}]}, "Basis"),  # not dropped for mole
    ({"property": "ionic_conductivity", "records": [{"components": [{"smiles": EC, "amount": 1}, {"smiles": DMC, "amount": 1}], "basis": "mole", "temperature_K": 300}]}, "salt"),
]


@pytest.mark.parametrize("body,message", BAD)
def test_bad_predict_input_is_a_clear_4xx(api, body, message):
    r = api("POST", "/v1/predict", "operator", json=body)
    assert r.status_code == 422
    assert message in json.dumps(r.json())


def test_nan_and_infinite_amounts_are_rejected(api):
    for bad in ("NaN", "Infinity", "-Infinity"):
        body = json.dumps({"property": "ionic_conductivity", "records": [RECORD]}).replace("1.506", bad)
        r = api("POST", "/v1/predict", "operator", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (bad, r.text)


def test_oversized_body_is_413(api):
    body = {"property": "ionic_conductivity", "records": [RECORD] * 3000}
    r = api("POST", "/v1/predict", "operator", json=body)
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_optimize(api):
    r = api("POST", "/v1/optimize", "operator", json={"space": CAMPAIGN["space"], "temperature_K": 303.15, "starts": 3})
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["trajectories"]) == 3 and abs(sum(out["best"]["fractions"].values()) - 1) < 1e-9
    lab = out["best"]["lab"]  # the best point as a lab writes it
    assert lab["salt"]["name"] == "LiPF6" and lab["cation_fraction_text"] == "LiPF6: 0.0800"
    assert lab["salt"]["molality_mol_kg"] == pytest.approx(out["best"]["salt_molality_mol_kg"])
    assert [s["name"] for s in lab["solvents"]] == ["PC", "EC", "DMC"] and lab["salt"]["molarity_mol_L"] > 0
    bad = api("POST", "/v1/optimize", "operator", json={"space": {**CAMPAIGN["space"], "lower": [0.5, 0.5, 0.5]},
                                                         "temperature_K": 303.15})
    assert bad.status_code == 422 and "infeasible" in bad.json()["detail"]


ROUTES = [  # method, path, roles allowed
    ("POST", "/v1/predict", {"operator", "admin"}),
    ("POST", "/v1/gradient", {"operator", "admin"}),
    ("POST", "/v1/optimize", {"operator", "admin"}),
    ("POST", "/v1/campaigns", {"operator", "admin"}),
    ("GET", "/v1/campaigns", {"operator", "analyst", "admin"}),
    ("GET", "/v1/campaigns/1", {"operator", "analyst", "admin"}),
    ("GET", "/v1/campaigns/1/experiments", {"operator", "analyst", "admin"}),
    ("POST", "/v1/campaigns/1/pause", {"operator", "admin"}),
    ("POST", "/v1/campaigns/1/resume", {"operator", "admin"}),
    ("POST", "/v1/campaigns/1/cancel", {"operator", "admin"}),
    ("POST", "/v1/campaigns/1/proposals", {"operator", "admin"}),
    ("GET", "/v1/campaigns/1/summary", {"operator", "analyst", "admin"}),
    ("POST", "/v1/robot/claim", {"robot"}),
    ("PUT", "/v1/robot/status", {"robot"}),
    ("GET", "/v1/robots", {"operator", "analyst", "admin"}),
    ("POST", "/v1/experiments/1/heartbeat", {"robot"}),
    ("POST", "/v1/experiments/1/result", {"robot"}),
    ("POST", "/v1/experiments/1/fail", {"robot"}),
    ("GET", "/v1/results", {"operator", "analyst", "admin"}),
    ("POST", "/v1/calibrations", {"operator", "robot", "admin"}),
    ("GET", "/v1/calibrations/cell-1/latest", {"operator", "robot", "analyst", "admin"}),
    ("GET", "/v1/model-versions", {"operator", "analyst", "admin"}),
    ("POST", "/v1/admin/keys", {"admin"}),
    ("GET", "/v1/admin/keys", {"admin"}),
    ("DELETE", "/v1/admin/keys/999", {"admin"}),
]


@pytest.mark.parametrize("method,path,allowed", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_auth_matrix(api, method, path, allowed):
    assert api(method, path).status_code == 401
    assert api(method, path, headers={"Authorization": "Bearer dmx_wrong"}).status_code == 401
    for role in ("operator", "robot", "analyst", "admin"):
        code = api(method, path, role, json={}).status_code
        if role in allowed:
            assert code not in (401, 403), (role, code)
        else:
            assert code == 403, (role, code)


def test_anonymous_predict_when_configured(db_url, tiny_models_dir):
    settings = Settings(database_url=db_url, models_dir=tiny_models_dir, anonymous_predict=True)
    with TestClient(create_app(settings)) as c:
        assert c.post("/v1/predict", json={"property": "ionic_conductivity", "records": [RECORD]}).status_code == 200
        assert c.get("/v1/campaigns").status_code == 401


def test_campaign_in_lab_units(api):
    """Bounds by mass of the solvent blend and the salt as a molality range: proposals keep them, the recipe
    the robot gets says the molality, a measured result goes back into the posterior in those units, and
    bad lab units are a 422 naming the field and the unit."""
    from model.chem import species

    space = {"salt": LIPF6, "solvents": [PC, EC, DMC], "bounds_basis": "mass", "lower": [0, 0.2, 0],
             "upper": [0.1, 1, 1], "salt_molality_range": [0.6, 1.4]}
    c = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "space": space, "budget": 8})
    assert c.status_code == 201, c.text
    cid = c.json()["id"]
    exps = api("POST", f"/v1/campaigns/{cid}/proposals?n=4", "operator").json()
    mm = [species(s).molar_mass for s in (PC, EC, DMC)]
    for e in exps:
        recipe = e["recipe"]
        assert 0.6 - 1e-9 <= recipe["salt_molality_mol_kg"] <= 1.4 + 1e-9
        grams = [r * m for r, m in zip(recipe["solvent_ratio"], mm)]
        w = [g / sum(grams) for g in grams]
        assert w[0] <= 0.1 + 1e-9 and w[1] >= 0.2 - 1e-9
        assert set(e["gradient"]) == {PC, EC, DMC, "salt_molality"}
    a = api("POST", "/v1/robot/claim", "robot").json()
    r = api("POST", f"/v1/experiments/{a['id']}/result", "robot", json=result_body(a),
            headers={"Idempotency-Key": "res-lab-units-1", **lease(a)})
    assert r.status_code == 201, r.text
    assert api("GET", f"/v1/campaigns/{cid}/model", "operator").status_code == 200
    for bad, where in (({"salt_molality_range": [0.5, 40]}, "space.salt_molality_range"),
                       ({"bounds_basis": "volume"}, "space.bounds_basis"),
                       ({"lower": [0.5, 0.5, 0.5]}, "mass fraction of the solvent blend")):
        r = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "space": {**space, **bad}})
        assert r.status_code == 422 and where in r.text and ("mol/kg" in r.text or "mass" in r.text), r.text


def test_campaign_creation_reports_the_domain_of_its_space_and_strict_refuses(api):
    inside = {"salt": LIPF6, "solvents": [EC, DMC], "salt_molality_range": [0.5, 1.4], "bounds_basis": "mass",
              "lower": [0.2, 0.2], "upper": [0.8, 0.8]}
    c = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "space": inside})
    assert c.status_code == 201 and c.json()["domain"] == {"in_domain": True, "reasons": []}, c.text
    props = api("POST", f"/v1/campaigns/{c.json()['id']}/proposals?n=2", "operator").json()
    assert all(p["domain"]["in_domain"] for p in props)
    outside = {**CAMPAIGN, "space": {**inside, "solvents": [EC, "O=C1OCC(F)O1"], "salt_molality_range": [0.5, 4.0]}}
    w = api("POST", "/v1/campaigns", "operator", json=outside)
    assert w.status_code == 201 and not w.json()["domain"]["in_domain"]
    text = " ".join(w.json()["domain"]["reasons"])
    assert "FEC is far from every training molecule" in text and "4 mol/kg is beyond" in text
    assert api("GET", f"/v1/campaigns/{w.json()['id']}", "analyst").json()["domain"] == w.json()["domain"]
    n = len(api("GET", "/v1/campaigns", "analyst").json())
    r = api("POST", "/v1/campaigns", "operator", json={**outside, "strict": True})
    assert r.status_code == 422 and "applicability domain" in r.text and "FEC is far" in r.text
    assert len(api("GET", "/v1/campaigns", "analyst").json()) == n  # refused: nothing stored


def test_campaign_queue_lifecycle(api):
    c = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN)
    assert c.status_code == 201, c.text
    cid = c.json()["id"]
    engine = make_engine(api.url)
    with make_sessionmaker(engine)() as s:
        names = {m.smiles: m.name for m in crud.list_molecules(s)}
    engine.dispose()
    assert names["O=C1OCCO1"] == "EC" and names["F[P-](F)(F)(F)(F)F.[Li+]"] == "LiPF6" and "[Li+]" in names
    props = api("POST", f"/v1/campaigns/{cid}/proposals?n=4", "operator")
    assert props.status_code == 201, props.text
    exps = props.json()
    assert len(exps) == 4 and all(e["status"] == "queued" and e["model_version_id"] == c.json()["model_version_id"] for e in exps)
    assert all(abs(sum(e["composition"].values()) - 1) < 1e-9 for e in exps)
    # the budget (6) caps the next batch at 2, then refuses
    assert len(api("POST", f"/v1/campaigns/{cid}/proposals?n=4", "operator").json()) == 2
    assert api("POST", f"/v1/campaigns/{cid}/proposals?n=1", "operator").status_code == 409

    a = api("POST", "/v1/robot/claim", "robot").json()
    b = api("POST", "/v1/robot/claim", "robot2").json()
    assert a["id"] != b["id"] and a["status"] == "leased" and a["attempts"] == 1
    assert api("POST", f"/v1/experiments/{a['id']}/heartbeat", "robot", headers=lease(a)).status_code == 200
    assert api("POST", f"/v1/experiments/{a['id']}/heartbeat", "robot2", headers=lease(b)).status_code == 409
    assert api("POST", f"/v1/experiments/{a['id']}/heartbeat", "robot").status_code == 422  # no lease token

    body = result_body(a)
    r1 = api("POST", f"/v1/experiments/{a['id']}/result", "robot", json=body, headers={"Idempotency-Key": "res-a-000001", **lease(a)})
    r2 = api("POST", f"/v1/experiments/{a['id']}/result", "robot", json=body, headers={"Idempotency-Key": "res-a-000001", **lease(a)})
    assert (r1.status_code, r2.status_code) == (201, 200) and r1.json()["id"] == r2.json()["id"]
    other = result_body(a, kappa=5.0)
    assert api("POST", f"/v1/experiments/{a['id']}/result", "robot", json=other,
               headers={"Idempotency-Key": "res-a-000001", **lease(a)}).status_code == 409
    # not leased to robot2 → 409; inconsistent κ vs K/R → 422; no key → 422
    assert api("POST", f"/v1/experiments/{b['id']}/result", "robot", json=result_body(b),
               headers={"Idempotency-Key": "res-b-000001", **lease(b)}).status_code == 409
    wrong = {**result_body(b), "conductivity_mS_cm": 1.0}
    assert api("POST", f"/v1/experiments/{b['id']}/result", "robot2", json=wrong,
               headers={"Idempotency-Key": "res-b-000002", **lease(b)}).status_code == 422
    assert api("POST", f"/v1/experiments/{b['id']}/result", "robot2", json=result_body(b),
               headers=lease(b)).status_code == 422  # no Idempotency-Key
    f = api("POST", f"/v1/experiments/{b['id']}/fail", "robot2", json={"reason": "air bubble in the cell", "retryable": False},
            headers=lease(b))
    assert f.json()["status"] == "failed" and "bubble" in f.json()["failure_reason"]

    summary = api("GET", f"/v1/campaigns/{cid}/summary", "analyst").json()
    assert summary["measured"] == 1 and summary["counts"]["failed"] == 1
    listed = next(c for c in api("GET", "/v1/campaigns", "analyst").json() if c["id"] == cid)
    assert listed["best"] == {"experiment_id": summary["best"]["experiment_id"], "measured": 9.0}
    assert summary["mae"] == pytest.approx(abs(9.0 - a["predicted"]))
    csv_text = api("GET", f"/v1/results?campaign={cid}&format=csv", "analyst").text
    head, smiles, row = list(csv.reader(io.StringIO(csv_text)))
    assert head[:4] == ["experiment_id", "campaign_id", "campaign", "temperature_C"]
    cols = dict(zip(head, row))
    by_smiles = dict(zip(head, smiles))
    # one column per component: names in the header, SMILES below them; mass fractions of the blend sum to 1
    assert {by_smiles[f"{n} mass fraction"] for n in ("PC", "EC", "DMC")} == {PC, EC, DMC}
    assert sum(float(cols[f"{n} mass fraction"]) for n in ("PC", "EC", "DMC")) == pytest.approx(1, abs=1e-4)
    assert by_smiles["LiPF6 molality (mol/kg)"] == LIPF6 and float(cols["LiPF6 molality (mol/kg)"]) > 0
    assert float(cols["LiPF6 cation mole fraction"]) == pytest.approx(0.08, rel=0.02)
    assert float(cols["measured"]) == pytest.approx(9.0) and float(cols["temperature_C"]) == pytest.approx(30.0, abs=0.6)
    rows = api("GET", "/v1/results", "analyst").json()
    assert rows[0]["residual"] == pytest.approx(9.0 - a["predicted"])
    assert rows[0]["lab"]["salt"]["name"] == "LiPF6" and rows[0]["lab"]["cation_fraction_text"].startswith("LiPF6: 0.0")

    assert api("POST", f"/v1/campaigns/{cid}/pause", "operator").json()["status"] == "paused"
    assert api("POST", "/v1/robot/claim", "robot").status_code == 204  # paused campaigns hand out nothing
    assert api("POST", f"/v1/campaigns/{cid}/pause", "operator").status_code == 409
    assert api("POST", f"/v1/campaigns/{cid}/cancel", "operator").json()["counts"].get("cancelled") == 4


def _prior(api, composition, temperature_K=303.15):
    """DiffMix alone at a composition (species mole fractions, ions separately: moles of LiPF6 = x(Li⁺))."""
    parts = [{"smiles": k, "amount": v} for k, v in composition.items() if v > 0 and "+" not in k and "-" not in k]
    record = {"components": parts + [{"smiles": LIPF6, "amount": composition["[Li+]"]}], "basis": "mole",
              "temperature_K": temperature_K}
    r = api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [record]})
    assert r.status_code == 200, r.text
    return r.json()["predictions"][0]["prediction"]


def _measure_batch(api, bias, off_K=None):
    """Claim everything queued and post results from a lab that reads `bias` × DiffMix; the first one measured
    `off_K` away from its planned temperature."""
    out = []
    while (r := api("POST", "/v1/robot/claim", "robot")).status_code == 200:
        e = r.json()
        t = 303.15 + (off_K if off_K is not None and not out else 0.0)
        kappa = bias * _prior(api, e["composition"], t)
        body = {**result_body(e, kappa=kappa), "temperature_K": t}
        res = api("POST", f"/v1/experiments/{e['id']}/result", "robot", json=body,
                  headers={"Idempotency-Key": f"loop-{e['id']:08d}", **lease(e)})
        assert res.status_code == 201, res.text
        out.append((e, res.json()))
    return out


def test_the_loop_learns_from_every_measurement(api):
    c = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "budget": 12}).json()
    assert c["strategy"] == "learning" and c["temperature_tolerance_K"] == 0.5
    cid, base = c["id"], c["model_version_id"]
    first = api("POST", f"/v1/campaigns/{cid}/proposals?n=4", "operator").json()
    assert all(e["model_version_id"] == base and e["batch"] == 1 for e in first)  # no data yet: the checkpoint
    # the first batch is half DiffMix's best, half far from it; each experiment says which
    assert [e["source"] for e in first] == ["exploit", "exploit", "space-filling", "space-filling"]
    assert [e["source"] for e in api("GET", f"/v1/campaigns/{cid}/experiments", "analyst").json()] == \
        [e["source"] for e in first]
    measured = _measure_batch(api, bias=0.7, off_K=2.0)
    flags = [m["quality_flags"] for _, m in measured]
    assert "temperature_off_plan" in flags[0][0] and all(not f for f in flags[1:])
    assert all(m["predicted_at_measured_T"] is not None for _, m in measured)
    # the off-plan one was re-predicted at its own temperature: the prior there, not at the plan
    assert measured[0][1]["predicted_at_measured_T"] == pytest.approx(_prior(api, measured[0][0]["composition"], 305.15), rel=1e-4)

    model = api("GET", f"/v1/campaigns/{cid}/model", "analyst").json()
    assert model["parent_id"] == base and model["version_id"] != base
    assert model["diagnostics"]["n"] == 4 and [h["n_measurements"] for h in model["history"]][-1] == 4
    assert model["batches"][0]["batch"] == 1 and model["batches"][0]["measured"] == 4
    # a lab that reads 0.7 × DiffMix agrees with DiffMix's shape: its prior keeps the weight
    ev = model["evidence"]
    assert ev["n"] == 4 and ev["prior_weight"] > 0.5 and not ev["disagrees"] and "agrees with DiffMix" in ev["summary"]
    second = api("POST", f"/v1/campaigns/{cid}/proposals?n=4", "operator").json()
    assert all(e["model_version_id"] == model["version_id"] and e["batch"] == 2 for e in second)
    assert [e["source"] for e in second] == ["exploit", "exploit", "space-filling", "prior-free"]
    # proposals now predict what this lab measures: 0.7 × DiffMix
    ratio = [e["predicted"] / _prior(api, e["composition"]) for e in second]
    assert all(0.6 < r < 0.8 for r in ratio), ratio
    _measure_batch(api, bias=0.7)
    batches = api("GET", f"/v1/campaigns/{cid}/model", "analyst").json()["batches"]
    assert [b["batch"] for b in batches] == [1, 2] and batches[1]["mae"] < 0.5 * batches[0]["mae"]
    assert api("GET", f"/v1/campaigns/{cid}/summary", "analyst").json()["batches"] == batches
    versions = api("GET", f"/v1/campaigns/{cid}/model", "analyst").json()["history"]
    assert [v["n_measurements"] for v in versions][-1] == 8 and len({v["version_id"] for v in versions}) == len(versions)


def test_a_lab_that_contradicts_diffmix_is_said_to_and_the_proposals_rely_on_the_measurements(api):
    """A lab whose κ is the same whatever the blend, where DiffMix sees structure: after two batches the campaign's
    model says, in words and with the statistic, that the lab disagrees, and the batch's fourth point is no longer a
    space-filling insurance but the posterior's bound."""
    cid = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "budget": 12}).json()["id"]
    for _ in range(2):
        assert api("POST", f"/v1/campaigns/{cid}/proposals?n=4", "operator").status_code == 201
        while (r := api("POST", "/v1/robot/claim", "robot")).status_code == 200:
            e = r.json()
            res = api("POST", f"/v1/experiments/{e['id']}/result", "robot", json=result_body(e, kappa=5.0),
                      headers={"Idempotency-Key": f"flat-{e['id']:08d}", **lease(e)})
            assert res.status_code == 201, res.text
    model = api("GET", f"/v1/campaigns/{cid}/model", "analyst").json()
    ev = model["evidence"]
    assert ev["n"] == 8 and ev["disagrees"] and ev["prior_weight"] < 0.5, ev
    assert ev["summary"].startswith("the lab disagrees with DiffMix here; proposals now rely on the measurements")
    assert ev["conflict"] > 0 and ev["lpd_prior_free"] > ev["lpd_diffmix"]
    assert model["diagnostics"]["free_hyper"]["floor"] > 0  # the prior-free GP's own amplitude, stored with the version
    third = api("POST", f"/v1/campaigns/{cid}/proposals?n=4", "operator").json()
    assert [e["source"] for e in third] == ["exploit", "exploit", "explore", "prior-free"]
    # a version is rebuilt from its row with both models: the proposals' version re-predicts as it proposed
    assert all(0.5 < e["predicted"] / 5.0 < 2.0 for e in third), [e["predicted"] for e in third]


def test_a_checkpoint_finetuned_on_the_labs_results_can_be_served_and_chosen(api, tmp_path, tiny_models_dir):
    from typer.testing import CliRunner

    from diffmix.cli import app as cli

    cid = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "budget": 6}).json()["id"]
    api("POST", f"/v1/campaigns/{cid}/proposals?n=6", "operator")
    _measure_batch(api, bias=0.7)
    out = tmp_path / "tuned"
    r = CliRunner().invoke(cli, ["train", "--property", "ionic_conductivity", "--lab-results", api.url, "--out", str(out),
                                 "--base-model", str(tiny_models_dir / "ionic_conductivity")])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output.splitlines()[-1])
    assert report["measurements"] == 6 and report["mae_after_in_sample"] < 0.9 * report["mae_before"]
    assert json.loads((out / "config.json").read_text())["finetuned"]["measurements"] == 6
    bad = CliRunner().invoke(cli, ["train", "--property", "ionic_conductivity", "--lab-results", str(tmp_path / "none.json"),
                                   "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "not found" in bad.output

    settings = Settings(database_url=api.url, models_dir=tiny_models_dir, extra_models=[out])
    with TestClient(create_app(settings)) as client:
        lab = Api(client, api.keys, api.url)
        versions = lab("GET", "/v1/model-versions", "analyst").json()
        tuned = [v for v in versions if v["kind"] == "checkpoint" and v["name"].startswith("ionic_conductivity")
                 and v["checkpoint_hash"] not in {w["checkpoint_hash"] for w in versions[:1]}]
        c = lab("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "model_version_id": tuned[-1]["id"]})
        assert c.status_code == 201 and c.json()["model_version_id"] == tuned[-1]["id"]
        assert lab("POST", f"/v1/campaigns/{c.json()['id']}/proposals?n=2", "operator").status_code == 201


def test_bad_campaigns_are_refused_and_write_nothing(api):
    for bad in ({**CAMPAIGN, "space": {**CAMPAIGN["space"], "solvents": [PC, "C1CC", DMC]}},
                {**CAMPAIGN, "budget": 0}, {**CAMPAIGN, "temperature_K": 20.0},
                {**CAMPAIGN, "model_version_id": 999},
                {**CAMPAIGN, "space": {**CAMPAIGN["space"], "salt_fration": 0.05}}):  # misspelt, not ignored
        assert api("POST", "/v1/campaigns", "operator", json=bad).status_code == 422
    assert api("GET", "/v1/campaigns", "operator").json() == []


def test_lease_expiry_requeues_then_fails(db_url, tiny_models_dir):
    settings = Settings(database_url=db_url, models_dir=tiny_models_dir, lease_seconds=0.3, max_attempts=2)
    keys = make_keys(db_url)
    with TestClient(create_app(settings)) as client:
        api = Api(client, keys, db_url)
        cid = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "budget": 1}).json()["id"]
        api("POST", f"/v1/campaigns/{cid}/proposals?n=1", "operator")
        first = api("POST", "/v1/robot/claim", "robot").json()
        time.sleep(0.5)
        again = api("POST", "/v1/robot/claim", "robot2").json()
        assert again["id"] == first["id"] and again["attempts"] == 2
        # the silent robot's late result is refused: the lease was handed on
        late = api("POST", f"/v1/experiments/{first['id']}/result", "robot", json=result_body(first),
                   headers={"Idempotency-Key": "late-000001", **lease(first)})
        assert late.status_code == 409 and "claimed again (attempt 2)" in late.json()["detail"]
        time.sleep(0.5)
        assert api("POST", "/v1/robot/claim", "robot").status_code == 204
        exps = api("GET", f"/v1/campaigns/{cid}/experiments", "operator").json()
        assert exps[0]["status"] == "failed" and "lease expired" in exps[0]["failure_reason"]


def test_admin_keys(api):
    r = api("POST", "/v1/admin/keys", "admin", json={"role": "analyst", "name": "alice"})
    assert r.status_code == 201 and r.json()["key"].startswith("dmx_")
    key = r.json()["key"]
    assert api("GET", "/v1/results", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    api("DELETE", f"/v1/admin/keys/{r.json()['id']}", "admin")
    assert api("GET", "/v1/results", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert all("key_hash" not in k and "key" not in k for k in api("GET", "/v1/admin/keys", "admin").json())


def test_calibration_single_point(api):
    # 12.88 mS/cm KCl standard (0.1 M at 25 °C) measured at 77.6 Ω → K = 0.01288 · 77.6 = 0.99949 1/cm
    r = api("POST", "/v1/calibrations", "robot", json={"cell_id": "cell-1", "standard_conductivity_mS_cm": 12.88,
                                                        "measured_resistance_ohm": 77.6, "temperature_K": 298.15})
    assert r.status_code == 201 and r.json()["cell_constant_per_cm"] == pytest.approx(0.012888 * 77.6, rel=1e-3)
    assert api("GET", "/v1/calibrations/cell-1/latest", "robot").json()["id"] == r.json()["id"]
    assert api("GET", "/v1/calibrations/nope/latest", "robot").status_code == 404
    assert not math.isnan(r.json()["cell_constant_per_cm"])


def test_a_request_uses_one_database_session(api):
    """The caller's key is looked up in the route's own session, not in a second one."""
    state = api.client.app.state.diffmix
    made = []
    real = state.sessions

    def counting():
        made.append(1)
        return real()

    state.sessions = counting
    try:
        c = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN)
        assert c.status_code == 201, c.text
        assert len(made) == 1
        made.clear()
        r = api("POST", f"/v1/campaigns/{c.json()['id']}/proposals?n=2", "operator")
        assert r.status_code == 201 and len(made) == 1
        made.clear()
        assert api("POST", "/v1/robot/claim", "robot").status_code == 200 and len(made) == 1
    finally:
        state.sessions = real


def test_implausible_numbers_from_a_robot_are_refused_naming_the_field(api):
    c = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN).json()
    api("POST", f"/v1/campaigns/{c['id']}/proposals?n=1", "operator")
    exp = api("POST", "/v1/robot/claim", "robot").json()
    cal = api("POST", "/v1/calibrations", "robot", json={"cell_id": "cell-1", "standard_conductivity_mS_cm": 12.88,
                                                         "measured_resistance_ohm": 1e308, "temperature_K": 298.15})
    assert cal.status_code == 422 and cal.json()["errors"][0]["loc"] == ["body", "resistance_ohm"]
    huge = result_body(exp, kappa=9.0, k_cell=1e300)
    r = api("POST", f"/v1/experiments/{exp['id']}/result", "robot", json=huge,
            headers={"Idempotency-Key": "res-huge-01", **lease(exp)})
    assert r.status_code == 422 and "body.cell_constant_per_cm" in [e["field"] for e in r.json()["errors"]]
    for bad_cell in ("%00", "a%20b"):
        assert api("GET", f"/v1/calibrations/{bad_cell}/latest", "robot").status_code == 422
    assert api("GET", f"/v1/campaigns/{c['id']}/experiments", "operator").json()[0]["status"] == "leased"


def _chunked_upload(port, path, total_mb, key=None):
    """Stream a chunked JSON-ish body of total_mb MB; return the status line the server answers with."""
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    if key:
        head += f"Authorization: Bearer {key}\r\n"
    sock.sendall((head + "\r\n").encode())
    chunk = b" " * (1 << 20)
    try:
        for _ in range(total_mb):
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed while we were still sending: what we want
    try:
        answer = sock.recv(4096).decode("latin-1")
    finally:
        sock.close()
    return answer.split("\r\n", 1)[0]


def test_a_huge_chunked_body_is_cut_off_at_the_limit_and_never_read_without_a_key(live):
    """300 MB streamed to /v1/predict: 401 from the headers alone without a key; 413 at the limit with one; the
    service's resident memory stays within a few MB of where it was (sampled while the uploads run)."""
    import threading

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    peak, stop = [rss_mb()], threading.Event()

    def sample():
        while not stop.wait(0.01):
            peak.append(rss_mb())

    t = threading.Thread(target=sample, daemon=True)
    baseline = rss_mb()
    t.start()
    try:
        assert " 401 " in _chunked_upload(live.port, "/v1/predict", 300)
        # a key that does not exist is refused from the headers too (it was read up to the limit, then 413)
        assert " 401 " in _chunked_upload(live.port, "/v1/predict", 300, key="no-such-key-" + "x" * 20)
        assert " 413 " in _chunked_upload(live.port, "/v1/predict", 300, key=live.keys["operator"])
    finally:
        stop.set()
        t.join()
    assert max(peak) - baseline < 60, (baseline, max(peak))


def test_metrics_count_errors_by_status_class(api):
    def boom():
        raise RuntimeError("a bug")

    api.client.app.add_api_route("/v1/boom", boom, methods=["GET"])
    with TestClient(api.client.app, raise_server_exceptions=False) as c:
        assert c.get("/v1/boom").status_code == 500
        c.post("/v1/predict", content=b"{}", headers={"Content-Type": "application/json"})  # no key: 401
    m = api("GET", "/metrics").text
    assert 'route="/v1/boom",status="500",status_class="5xx"} 1.0' in m
    assert 'status="401",status_class="4xx"' in m


def test_every_error_is_a_problem_document_and_documented(api):
    """RFC 9457: one shape for 400 … 422 (and 500), served as application/problem+json and in the OpenAPI schema."""
    c = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN).json()
    answers = {
        401: api("GET", "/v1/campaigns"),
        403: api("GET", "/v1/admin/keys", "operator"),
        404: api("GET", "/v1/campaigns/999999", "operator"),
        409: api("POST", f"/v1/campaigns/{c['id']}/resume", "operator"),
        413: api("POST", "/v1/predict", "operator", json={"property": "ionic_conductivity", "records": [RECORD] * 3000}),
        422: api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "budget": 0}),
        400: api("POST", "/v1/predict", "operator", content=b"{}", headers={"Content-Length": "x2",
                                                                             "Content-Type": "application/json"}),
    }
    for status, r in answers.items():
        body = r.json()
        assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), (status, r.text)
        assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status and body["detail"]
    assert answers[422].json()["errors"][0]["field"] == "body.budget"
    spec = api.client.app.openapi()
    for path, ops in spec["paths"].items():
        if path.startswith("/v1/"):
            for method, op in ops.items():
                assert {"401", "404", "409", "422"} <= set(op["responses"]), (method, path)
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) >= {"type", "title", "status", "detail", "errors"}


def test_slow_clients_are_timed_out(db_url, tiny_models_dir):
    """Fifty connections that never finish their headers are closed after header_timeout_s; a body that stops
    half-way gets a 408 after body_timeout_s; the service answers others meanwhile."""
    import socket

    from tests.conftest import LiveService

    svc = LiveService(db_url, tiny_models_dir, header_timeout_s=0.5, body_timeout_s=0.5)
    try:
        slow = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
            s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ")
            slow.append(s)
        assert svc.http.get("/healthz").status_code == 200
        t0 = time.monotonic()
        for s in slow:
            assert s.recv(100) == b""  # closed by the server, no response
            s.close()
        assert time.monotonic() - t0 < 4
        body = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
        body.sendall(f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {svc.keys['operator']}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prop".encode())
        answer = b""
        while b"stopped arriving" not in answer:
            chunk = body.recv(4096)
            if not chunk:
                break
            answer += chunk
        body.close()
        assert answer.startswith(b"HTTP/1.1 408") and b"stopped arriving" in answer, answer
    finally:
        svc.stop()


def test_the_audit_log_records_refusals_listings_exports_and_replays(api):
    from sqlalchemy import text

    for _ in range(3):  # one row per minute for the same refusal, not three
        assert api("GET", "/v1/campaigns", headers={"Authorization": "Bearer dmx_not-a-key"}).status_code == 401
    assert api("GET", "/v1/admin/keys", "operator").status_code == 403
    assert api("GET", "/v1/admin/keys", "admin").status_code == 200
    assert api("GET", "/v1/results?format=csv", "analyst").status_code == 200
    c = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN).json()
    api("POST", f"/v1/campaigns/{c['id']}/proposals?n=1", "operator")
    exp = api("POST", "/v1/robot/claim", "robot").json()
    for _ in range(2):
        api("POST", f"/v1/experiments/{exp['id']}/result", "robot", json=result_body(exp),
            headers={"Idempotency-Key": "res-audit-01", **lease(exp)})
    engine = make_engine(api.url)
    with engine.connect() as conn:
        actions = [r[0] for r in conn.execute(text("SELECT action FROM audit_log ORDER BY id"))]
    engine.dispose()
    assert actions.count("denied_401") == 1 and actions.count("denied_403") == 1
    assert "list" in actions and "export" in actions and actions.count("result_replayed") == 1


def test_the_learners_caches_are_bounded_and_keep_the_recently_used():
    from service.learning import LRU, Learner

    cache = LRU(3)
    for k in range(3):
        cache[k] = str(k)
    assert cache.get(0) == "0"  # read: now the most recent
    cache[3] = "3"
    assert list(cache) == [2, 0, 3]
    assert cache.get(1) is None and len(cache) == 3
    learner = Learner()
    assert learner.cache.maxsize >= 16 and learner.versions.maxsize >= learner.cache.maxsize


def test_robots_declare_their_stocks_and_a_campaign_no_robot_can_make_is_refused(api):
    """Before any robot declares its stocks a campaign is accepted with a warning; once one has, a space needing a
    liquid no robot holds is a 422 naming the liquid and the robot, and nothing is stored."""
    first = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN)
    assert first.status_code == 201 and first.json()["lab"]["declared"] is False
    assert "no robot has declared" in first.json()["lab"]["warnings"][0]
    stocks = [{"name": "EC", "solvent": {EC: 1.0}}, {"name": "DMC", "solvent": {"COC(=O)OC": 1.0}},
              {"name": "LiPF6 2 m in EC", "solvent": {EC: 1.0}, "salt": LIPF6, "molality": 2.0}]
    r = api("PUT", "/v1/robot/status", "robot", json={"vessels": {}, "stocks": stocks})
    assert r.status_code == 200 and [st["name"] for st in r.json()["stocks"]] == ["EC", "DMC", "LiPF6 2 m in EC"]
    # a later report without stocks keeps them
    assert api("PUT", "/v1/robot/status", "robot", json={"vessels": {}}).json()["stocks"] == r.json()["stocks"]
    n_before = len(api("GET", "/v1/campaigns", "operator").json())
    refused = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN)  # PC is in the space; no stock has it
    assert refused.status_code == 422 and "PC (CC1COC(=O)O1)" in refused.text and "no stock with" in refused.text
    assert len(api("GET", "/v1/campaigns", "operator").json()) == n_before
    # the same space with PC excluded (or bounded to 0) is made by that robot
    ok = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "space": {**CAMPAIGN["space"], "exclude": [PC]}})
    assert ok.status_code == 201, ok.text
    assert ok.json()["lab"]["can_make"] and not ok.json()["lab"]["missing"]
    listed = {c["id"]: c for c in api("GET", "/v1/campaigns", "operator").json()}
    assert listed[first.json()["id"]]["lab"]["missing"]  # the first campaign's PC is now known to be missing
    # a stock whose SMILES does not parse is refused, and the stocks stay as they were
    bad = api("PUT", "/v1/robot/status", "robot", json={"vessels": {}, "stocks": [{"name": "x", "solvent": {"C1CC": 1}}]})
    assert bad.status_code == 422 and "C1CC" in bad.text
    assert len(api("GET", "/v1/robots", "operator").json()[0]["stocks"]) == 3


def test_the_landscape_is_the_posterior_over_the_space_with_the_measured_points(api):
    c = api("POST", "/v1/campaigns", "operator", json=CAMPAIGN).json()  # PC:EC:DMC, salt fixed: a ternary
    cid = c["id"]
    api("POST", f"/v1/campaigns/{cid}/proposals?n=2", "operator")
    before = api("GET", f"/v1/campaigns/{cid}/landscape?steps=10", "analyst").json()
    assert before["kind"] == "ternary" and [s["name"] for s in before["solvents"]] == ["PC", "EC", "DMC"]
    assert len(before["points"]) == 66 and all(abs(sum(p[:3]) - 1) < 1e-6 for p in before["points"])
    assert len(before["pending"]) == 2 and before["measured"] == [] and min(before["value"]) > 0
    a = api("POST", "/v1/robot/claim", "robot").json()
    api("POST", f"/v1/experiments/{a['id']}/result", "robot", json=result_body(a, kappa=2.0),
        headers={"Idempotency-Key": "res-landscape-1", **lease(a)})
    after = api("GET", f"/v1/campaigns/{cid}/landscape?steps=10", "analyst").json()
    (m,) = after["measured"]
    planned = next(p["z"] for p in before["pending"] if p["experiment_id"] == a["id"])
    assert m["measured"] == 2.0 and m["z"] == pytest.approx(planned, abs=1e-6)  # measured where it was planned
    assert after["version_id"] != before["version_id"]  # the posterior learnt the measurement
    near = min(range(66), key=lambda i: sum((p - q) ** 2 for p, q in zip(after["points"][i][:3], m["z"][:3])))
    assert abs(after["value"][near] - 2.0) < abs(before["value"][near] - 2.0)  # and moved toward it
    salt_scan = {**CAMPAIGN, "space": {"salt": LIPF6, "solvents": [EC, DMC], "solvent_ratio": [0.5, 0.5],
                                       "salt_molality_range": [0.5, 1.5]}}
    s = api("POST", "/v1/campaigns", "operator", json=salt_scan).json()
    scan = api("GET", f"/v1/campaigns/{s['id']}/landscape?steps=10", "analyst").json()
    assert scan["kind"] == "salt" and scan["salt"]["unit"] == "mol/kg"
    assert [p[-1] for p in scan["points"]] == pytest.approx(list(np.linspace(0.5, 1.5, 41)))
    binary = {**CAMPAIGN, "space": {"salt": LIPF6, "solvents": [EC, DMC], "bounds_basis": "mass", "lower": [0.2, 0],
                                    "salt_molality": 1.0}}
    b = api("GET", f"/v1/campaigns/{api('POST', '/v1/campaigns', 'operator', json=binary).json()['id']}/landscape?steps=10",
            "analyst").json()
    assert b["kind"] == "binary" and b["basis"] == "mass" and min(p[0] for p in b["points"]) >= 0.2 - 1e-9
    four = {**CAMPAIGN, "space": {**CAMPAIGN["space"], "solvents": [PC, EC, DMC, "CCOC(=O)OC"]}}
    f = api("GET", f"/v1/campaigns/{api('POST', '/v1/campaigns', 'operator', json=four).json()['id']}/landscape",
            "analyst").json()
    assert f["kind"] == "none" and f["points"] == [] and len(f["solvents"]) == 4  # no picture of a 4-D space


def test_species_drawings_whoami_and_calibrations(api):
    table = api("GET", "/v1/species").json()  # open: public chemistry
    names = {s["name"] for s in table}
    assert {"EC", "PC", "DMC", "EMC", "DEC", "FEC", "VC", "DME", "LiPF6", "LiFSI", "NaPF6"} <= names
    ec = next(s for s in table if s["name"] == "EC")
    assert ec["smiles"] == EC and ec["cas"] == "96-49-1" and ec["kind"] == "solvent"
    svg = api("GET", "/v1/structure.svg?smiles=EMC")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and "<svg" in svg.text
    bad = api("GET", "/v1/structure.svg?smiles=EMCC")
    assert bad.status_code == 422 and "did you mean" in bad.text
    assert api("GET", "/v1/whoami", "analyst").json()["role"] == "analyst"
    assert api("GET", "/v1/whoami", "admin").json()["role"] == "admin"
    assert api("GET", "/v1/whoami").status_code == 401
    for cell, k in (("cell-a", 1.1), ("cell-b", 0.9)):
        r = api("POST", "/v1/calibrations", "operator", json={"cell_id": cell, "standard_conductivity_mS_cm": 12.88,
                                                              "measured_resistance_ohm": 1000 * k / 12.88,
                                                              "temperature_K": 298.15})
        assert r.status_code == 201, r.text
    cals = api("GET", "/v1/calibrations", "analyst").json()
    assert [c["cell_id"] for c in cals] == ["cell-b", "cell-a"] and cals[0]["calibrated_at"]


def test_the_console_and_the_api_docs_are_served_without_any_other_host(api):
    import re

    for path in ("/", "/signin", "/campaigns/new", "/campaigns/1", "/lab", "/results", "/admin", "/docs", "/redoc"):
        r = api("GET", path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert "default-src 'self'" in r.headers["content-security-policy"], path
        external = [u for u in re.findall(r'(?:src|href)=["\']([^"\']+)', r.text) if "//" in u]
        assert external == [], (path, external)
        for asset in re.findall(r'(?:src|href)=["\'](/[^"\']+)', r.text):
            assert api("GET", asset).status_code == 200, (path, asset)
    assert b"cdn.redoc.ly" not in api("GET", "/console/vendor/redoc.standalone.js").content
    assert api("GET", "/console/vendor/nothing.js").status_code == 404


def test_a_proposal_cut_to_the_budget_says_how_many_and_why(api):
    cid = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "budget": 3, "strategy": "random"}).json()["id"]
    r = api("POST", f"/v1/campaigns/{cid}/proposals?n=5", "operator")
    assert r.status_code == 201 and len(r.json()) == 3
    assert r.headers["proposals-limited"] == "queued 3 of the 5 asked: the campaign has 3 of its budget of 3 experiments left"
    cid = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "budget": 8, "strategy": "random"}).json()["id"]
    assert "proposals-limited" not in api("POST", f"/v1/campaigns/{cid}/proposals?n=2", "operator").headers


def test_a_campaign_takes_its_temperature_in_celsius_as_predict_does(api):
    body = {k: v for k, v in CAMPAIGN.items() if k != "temperature_K"}
    r = api("POST", "/v1/campaigns", "operator", json={**body, "temperature_C": 25})
    assert r.status_code == 201 and r.json()["temperature_K"] == pytest.approx(298.15), r.text
    assert "temperature_C" not in r.json()  # stored as temperature_K
    both = api("POST", "/v1/campaigns", "operator", json={**CAMPAIGN, "temperature_C": 25})
    assert both.status_code == 422 and "one of them" in both.text
    assert api("POST", "/v1/campaigns", "operator", json={**body, "temperature_C": "warm"}).status_code == 422


def test_a_key_sent_without_the_word_bearer_is_told_so(api):
    key = api.keys["operator"]
    for method, path, body in (("GET", "/v1/campaigns", None), ("POST", "/v1/predict", {"property": "x"})):
        r = api.client.request(method, path, json=body, headers={"Authorization": key})
        assert r.status_code == 401 and "needs the word Bearer before the key" in r.json()["detail"], r.text
    assert "missing API key" in api.client.get("/v1/campaigns").json()["detail"]


def test_malformed_json_is_said_in_words(api):
    r = api("POST", "/v1/campaigns", "operator", content=b'{"name": "x", budget: 3}',
            headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "body: the body is not valid JSON (at character 14" in r.json()["detail"], r.text
