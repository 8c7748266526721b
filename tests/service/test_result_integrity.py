"""Nothing impossible is stored, and nothing stored can break a read (issue 46, items 1–3), on SQLite and PostgreSQL."""

import csv
import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from db.models import Experiment, Measurement
from db.session import make_engine, make_sessionmaker
from model.eis import impedance
from tests.service.client import CAMPAIGN, EC, PC, lease, result_body

F = np.logspace(3, 6, 12)


def claimed(api, name=None, n=1):
    body = {**CAMPAIGN, "budget": 4} | ({"name": name} if name else {})
    cid = api("POST", "/v1/campaigns", "operator", json=body).json()["id"]
    api("POST", f"/v1/campaigns/{cid}/proposals?n={n}", "operator")
    return cid, api("POST", "/v1/robot/claim", "robot").json()


def good(exp, kappa=8.0, k_cell=1.0):
    """A result as the robot's procedure builds it: a real cell's spectrum, its min-phase resistance and κ."""
    r = 1000 * k_cell / kappa
    z = impedance(r, 8e-12, 2e-6, 0.88, F)
    i = int(np.argmin(np.abs(np.angle(z))))
    body = result_body(exp, kappa=1000 * k_cell / float(z.real[i]), k_cell=k_cell)
    body["resistance_ohm"] = float(z.real[i])
    body["spectrum"] = {"frequency_Hz": F.tolist(), "z_real_ohm": z.real.tolist(), "z_imag_ohm": z.imag.tolist()}
    return body


def post(api, exp, body, key="integrity"):
    return api("POST", f"/v1/experiments/{exp['id']}/result", "robot", json=body,
               headers={"Idempotency-Key": f"{key}-{exp['id']:08d}", **lease(exp)})


def test_a_plausible_result_is_stored(api):
    _, e = claimed(api)
    now = datetime.now(UTC)
    r = post(api, e, good(e) | {"started_at": now.isoformat(), "finished_at": (now + timedelta(seconds=30)).isoformat()})
    assert r.status_code == 201, r.text


def _with(body, path, value):
    out = {**body, "spectrum": {**body["spectrum"]}}
    *head, last = path
    d = out
    for p in head:
        d = d[p]
    d[last] = value
    return out


def _impedances(body, value):
    n = len(body["spectrum"]["z_real_ohm"])
    return _with(body, ("spectrum", "z_real_ohm"), [value] * n)


@pytest.mark.parametrize("change, field", [
    # the resistance tripled, and κ made to match it: the spectrum says otherwise
    (lambda b: {**b, "resistance_ohm": 3 * b["resistance_ohm"], "conductivity_mS_cm": b["conductivity_mS_cm"] / 3},
     "resistance_ohm"),
    (lambda b: _impedances(b, -1.0), "z_real_ohm"),
    (lambda b: _impedances(b, 0.0), "z_real_ohm"),
    (lambda b: _impedances(b, 1e40), "spectrum"),
    (lambda b: _with(b, ("spectrum", "frequency_Hz"), [1e40] * len(F)), "frequency_Hz"),
    (lambda b: {**b, "started_at": "0001-01-01T00:00:00Z"}, "started_at"),
    (lambda b: {**b, "started_at": -1}, "started_at"),
    (lambda b: {**b, "started_at": 0}, "started_at"),
    (lambda b: {**b, "started_at": "0"}, "started_at"),
    (lambda b: {**b, "started_at": "2030-01-01T00:00:00Z"}, "started_at"),
    (lambda b: {**b, "finished_at": "2030-01-01T00:00:00Z"}, "finished_at"),
    (lambda b: {**b, "version": True}, "version"),
    (lambda b: {**b, "quality_flags": ["fit_poor"]}, "quality_flags"),
], ids=["R x3", "Z -1", "Z 0", "Z 1e40", "f 1e40", "year 1", "t -1", "t 0", "t '0'", "start 2030", "finish 2030",
        "version true", "fit_poor"])
def test_an_implausible_result_is_refused_naming_the_field_and_nothing_is_stored(api, change, field):
    _, e = claimed(api)
    r = post(api, e, change(good(e)))
    assert r.status_code == 422, r.text
    assert any(field in [str(p) for p in err["loc"]] for err in r.json()["errors"]), r.json()
    assert api("GET", f"/v1/campaigns/{e['campaign_id']}/experiments", "analyst").json()[0]["status"] == "leased"
    assert post(api, e, good(e), key="then-good").status_code == 201  # the same experiment takes a plausible one


def test_what_was_weighed_in_must_be_what_was_planned(api):
    _, e = claimed(api)
    # the tester's case: a PC-rich liquid posted in an experiment of the campaign's blend, with other ions
    other = {PC: 0.9, "[Li+]": 0.05, "F[P-](F)(F)(F)(F)F": 0.05}
    r = post(api, e, good(e) | {"measured_composition": {**other, EC: 0.0}})
    assert r.status_code == 422 and "measured_composition" in r.json()["errors"][0]["loc"], r.text
    foreign = {"CC(=O)OC": 0.1, **{k: v * 0.9 for k, v in e["composition"].items()}}
    r = post(api, e, good(e) | {"measured_composition": foreign})
    assert r.status_code == 422 and "did not plan: CC(=O)OC" in r.json()["errors"][0]["msg"], r.text
    # within the tolerance (0.02 absolute by default), a composition a balance weighs is accepted
    near = dict(e["composition"])
    a, b = sorted(near, key=lambda k: -near[k])[:2]
    near[a], near[b] = near[a] + 0.01, near[b] - 0.01
    assert post(api, e, good(e) | {"measured_composition": near}).status_code == 201


def test_a_stored_row_that_cannot_be_presented_breaks_no_read(api):
    """A result stored before the composition check (an out-of-space species): the export reports that row's error
    and goes on; the landscape leaves it out and says so."""
    cid, e = claimed(api)
    assert post(api, e, good(e)).status_code == 201
    cid2, e2 = claimed(api, name="second")
    assert post(api, e2, good(e2)).status_code == 201
    engine = make_engine(api.url)
    with make_sessionmaker(engine)() as s:  # as an older service stored it
        m = s.query(Measurement).filter_by(experiment_id=e["id"]).one()
        m.measured_composition = {PC: 0.9, "[Li+]": 0.05, "F[P-](F)(F)(F)(F)F": 0.05, "CC(C)=O": 0.0}
        s.commit()
    engine.dispose()
    rows = api("GET", "/v1/results", "analyst").json()
    bad = next(r for r in rows if r["experiment_id"] == e["id"])
    assert bad["lab"] is None and "cannot present what was made" in bad["error"]
    assert next(r for r in rows if r["experiment_id"] == e2["id"])["error"] is None
    text = api("GET", "/v1/results?format=csv", "analyst").text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][-1] == "error" and len(table) == 4  # two header rows, both results
    by_id = {int(r[0]): r for r in table[2:]}
    assert by_id[e["id"]][-1].startswith("cannot present") and by_id[e2["id"]][-1] == ""
    land = api("GET", f"/v1/campaigns/{cid}/landscape", "analyst")
    assert land.status_code == 200 and land.json()["measured"] == [] and land.json()["unplaced"][0]["experiment_id"] == e["id"]


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx"])
def test_the_csv_writes_formulas_as_text(api, name):
    _, e = claimed(api, name=name)
    assert post(api, e, good(e) | {"quality_flags": ["=1+1"]}).status_code == 201
    table = list(csv.reader(io.StringIO(api("GET", "/v1/results?format=csv", "analyst").text)))
    row = table[2]
    assert row[2] == "'" + name
    flags = table[0].index("quality_flags")
    assert row[flags] == "'=1+1"
    assert float(row[table[0].index("residual")]) == pytest.approx(float(row[table[0].index("residual")]))  # numbers stay numbers


def test_a_lease_posted_with_another_robots_key_names_the_mismatch(api):
    _, e = claimed(api)
    other = api.keys["robot2"]
    r = api.client.post(f"/v1/experiments/{e['id']}/result", json=good(e),
                        headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "other-robot-0001", **lease(e)})
    assert r.status_code == 409 and "held by another robot" in r.json()["detail"], r.text
    assert "expired" not in r.json()["detail"]


def test_a_405_lists_every_method_of_the_path(api):
    for path, methods in (("/v1/campaigns", {"GET", "POST"}), ("/v1/calibrations", {"GET", "POST"}),
                          ("/v1/admin/keys", {"GET", "POST"})):
        r = api("DELETE", path, "admin")
        assert r.status_code == 405, r.text
        assert set(r.headers["allow"].split(", ")) >= methods | {"HEAD"}, (path, r.headers["allow"])


def test_metrics_are_documented_as_the_prometheus_text_they_are(api):
    doc = api("GET", "/openapi.json").json()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(doc) == ["text/plain"]
    assert api("GET", "/metrics").headers["content-type"].startswith("text/plain")


def test_a_claim_that_cannot_be_served_leaves_no_orphaned_lease(api):
    """A stored experiment whose recipe is not the contract's (make bench's old fixture): the claim answers 500
    naming it, the experiment fails with the reason instead of staying leased to nobody, and the next is served."""
    cid, first = claimed(api, n=2)
    post(api, first, good(first))
    engine = make_engine(api.url)
    with make_sessionmaker(engine)() as s:
        broken = s.query(Experiment).filter_by(campaign_id=cid, status="queued").one()
        broken.recipe = {}
        s.commit()
        broken_id = broken.id
    engine.dispose()
    r = api("POST", "/v1/robot/claim", "robot")
    assert r.status_code == 500 and f"experiment {broken_id}" in r.json()["detail"], r.text
    engine = make_engine(api.url)
    with make_sessionmaker(engine)() as s:
        row = s.get(Experiment, broken_id)
        assert row.status == "failed" and "cannot be served" in row.failure_reason
        assert row.lease_token is None and row.lease_owner is None
    engine.dispose()
    assert api("POST", "/v1/robot/claim", "robot").status_code == 204  # nothing else queued, nothing stuck


def _calibration(r_ohm, **extra):
    return {"cell_id": "cell-9", "standard_conductivity_mS_cm": 12.88, "measured_resistance_ohm": r_ohm,
            "temperature_K": 298.15} | extra


def test_who_may_calibrate_and_a_cell_constant_that_jumps_is_refused_unless_forced_with_a_reason(api):
    """Robots post the calibrations they measure; operators and admins may post one made by hand; analysts may not.
    Each is audited with who posted it; a constant more than 20 % from the cell's last needs force and a reason."""
    from sqlalchemy import select

    from db.models import AuditLog

    assert api("POST", "/v1/calibrations", "robot", json=_calibration(87.0)).status_code == 201
    assert api("POST", "/v1/calibrations", "analyst", json=_calibration(87.0)).status_code == 403
    assert api("POST", "/v1/calibrations", "operator", json=_calibration(95.0)).status_code == 201  # 9 % off: fine
    r = api("POST", "/v1/calibrations", "operator", json=_calibration(130.0))  # 37 % from the last
    assert r.status_code == 422 and "37% from cell cell-9's last calibration" in r.text, r.text
    assert api("GET", "/v1/calibrations/cell-9/latest", "robot").json()["measured_resistance_ohm"] == 95.0  # unchanged
    r = api("POST", "/v1/calibrations", "operator", json=_calibration(130.0, force=True))
    assert r.status_code == 422 and "force needs a reason" in r.text
    r = api("POST", "/v1/calibrations", "admin", json=_calibration(130.0, force=True, reason="new cell fitted"))
    assert r.status_code == 201, r.text
    engine = make_engine(api.url)
    with make_sessionmaker(engine)() as s:
        rows = s.scalars(select(AuditLog).where(AuditLog.action == "calibrate").order_by(AuditLog.id)).all()
        assert [r.detail["role"] for r in rows] == ["robot", "operator", "admin"]
        assert rows[-1].detail["forced"] is True and rows[-1].detail["reason"] == "new cell fitted"
    engine.dispose()
