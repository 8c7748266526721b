"""db/crud.py directly, on SQLite and PostgreSQL: the rules the service relies on, without HTTP in between."""

from datetime import timedelta

import pytest

from db import crud
from db.enums import ExperimentStatus
from db.errors import Conflict, NotFound
from db.session import make_engine, make_sessionmaker

DESIGN = {"version": 1, "property": "ionic_conductivity", "objective": {"maximize": True}}


@pytest.fixture
def s(db_url):
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def campaign(s, budget=3, maximize=True):
    mv = crud.register_model_version(s, "ionic_conductivity", "m", "c" * 64, "-", {})
    design = {**DESIGN, "objective": {"maximize": maximize}}
    return crud.create_campaign(s, None, name="c", design=design, model_version_id=mv.id, strategy="gradient",
                                budget=budget)


def rows(k, start=0):
    return [{"composition": {"A": 1.0}, "recipe": {}, "point": [float(i)], "temperature_K": 303.15,
             "predicted": 10.0 + i, "predicted_std": 0.5, "gradient": {}} for i in range(start, start + k)]


def result_fields(kappa):
    return {"spectrum": {}, "resistance_ohm": 100.0, "cell_constant_per_cm": kappa / 10.0, "calibration_id": None,
            "temperature_K": 303.2, "conductivity_mS_cm": kappa, "method": "min-phase", "quality_flags": [],
            "measured_composition": {"A": 1.0}, "instrument_ids": {}, "started_at": None, "finished_at": None}


def test_keys_roles_and_revocation(s):
    with pytest.raises(ValueError, match="unknown role 'pilot'"):
        crud.create_api_key(s, "pilot")
    row, key = crud.create_api_key(s, "robot", "arm")
    assert key.startswith(crud.KEY_PREFIX) and row.key_hash != key and crud.key_for(s, key).id == row.id
    crud.revoke_api_key(s, row.id, None)
    assert crud.key_for(s, key) is None
    with pytest.raises(NotFound):
        crud.revoke_api_key(s, 999_999, None)


def test_transitions_and_cancel_withdraws_queued_work(s):
    c = campaign(s)
    with pytest.raises(Conflict, match="cannot resume"):
        crud.set_campaign_status(s, c.id, "resume", None)
    crud.queue_experiments(s, c, rows(2), None, 3)
    assert crud.set_campaign_status(s, c.id, "pause", None).status == "paused"
    with pytest.raises(Conflict, match="only active campaigns take proposals"):
        crud.open_for_proposals(s, c.id)
    crud.set_campaign_status(s, c.id, "resume", None)
    crud.set_campaign_status(s, c.id, "cancel", None)
    assert crud.campaign_counts(s, c.id) == {"cancelled": 2}


def test_budget_is_checked_when_proposing_and_when_queueing(s):
    c = campaign(s, budget=3)
    _, left, made = crud.open_for_proposals(s, c.id)
    assert (left, made) == (3, [])
    with pytest.raises(Conflict, match="3 of 3 experiments left; 4 proposed"):
        crud.queue_experiments(s, c, rows(4), None, 3)
    crud.queue_experiments(s, c, rows(3), None, 3)
    with pytest.raises(Conflict, match="spent its budget of 3"):
        crud.open_for_proposals(s, c.id)


def test_a_result_is_stored_once_and_completes_the_campaign(s):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=1)
    crud.queue_experiments(s, c, rows(1), None, 3)
    exp = crud.claim_next(s, robot, 60)
    assert exp.status == ExperimentStatus.leased and exp.attempts == 1 and crud.claim_next(s, robot, 60) is None
    m, created = crud.record_result(s, exp.id, robot, "key-00001", {"p": 1}, result_fields(8.0))
    again, created_again = crud.record_result(s, exp.id, robot, "key-00001", {"p": 1}, result_fields(8.0))
    assert created and not created_again and again.id == m.id
    with pytest.raises(Conflict, match="different result payload"):
        crud.record_result(s, exp.id, robot, "key-00001", {"p": 2}, result_fields(9.0))
    assert crud.get_campaign(s, c.id).status == "completed"
    summary = crud.campaign_summary(s, c.id)
    assert summary["measured"] == 1 and summary["mae"] == pytest.approx(2.0) and summary["best"]["measured"] == 8.0


def test_failures_requeue_while_attempts_remain_and_expired_leases_return(s):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=2)
    crud.queue_experiments(s, c, rows(1), None, max_attempts=2)
    exp = crud.claim_next(s, robot, 60)
    assert crud.fail_experiment(s, exp.id, robot, "bubble", retryable=True).status == "queued"
    exp = crud.claim_next(s, robot, 60)
    assert crud.fail_experiment(s, exp.id, robot, "bubble", retryable=True).status == "failed"  # attempts used up
    crud.queue_experiments(s, c, rows(1, start=5), None, max_attempts=2)
    exp = crud.claim_next(s, robot, 60)
    later = exp.lease_expires_at + timedelta(seconds=1)
    assert crud.expire_leases(s, later) == {"failed": [], "requeued": [exp.id]}
    s.commit()
    with pytest.raises(Conflict, match="not leased to this robot"):
        crud.heartbeat(s, exp.id, robot, 60)


def test_summary_picks_the_best_in_the_objectives_direction(s):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=2, maximize=False)
    crud.queue_experiments(s, c, rows(2), None, 3)
    for i, kappa in enumerate((5.0, 7.0)):
        exp = crud.claim_next(s, robot, 60)
        crud.record_result(s, exp.id, robot, f"key-{i:05d}", {"i": i}, result_fields(kappa))
    assert crud.campaign_summary(s, c.id)["best"]["measured"] == 5.0
    assert [r["measured"] for r in crud.results(s, c.id)] == [5.0, 7.0]
