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


def in_parallel(target, argsets):
    """Run target(*args) for every args at once, in threads, and wait for them all."""
    import threading

    threads = [threading.Thread(target=target, args=args) for args in argsets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


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
    m, created = crud.record_result(s, exp.id, robot, exp.lease_token, "key-00001", {"p": 1}, result_fields(8.0))
    again, created_again = crud.record_result(s, exp.id, robot, exp.lease_token, "key-00001", {"p": 1}, result_fields(8.0))
    assert created and not created_again and again.id == m.id
    with pytest.raises(Conflict, match="different result payload"):
        crud.record_result(s, exp.id, robot, exp.lease_token, "key-00001", {"p": 2}, result_fields(9.0))
    assert crud.get_campaign(s, c.id).status == "completed"
    summary = crud.campaign_summary(s, c.id)
    assert summary["measured"] == 1 and summary["mae"] == pytest.approx(2.0) and summary["best"]["measured"] == 8.0


def test_failures_requeue_while_attempts_remain_and_expired_leases_return(s):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=2)
    crud.queue_experiments(s, c, rows(1), None, max_attempts=2)
    exp = crud.claim_next(s, robot, 60)
    assert crud.fail_experiment(s, exp.id, robot, exp.lease_token, "bubble", retryable=True).status == "queued"
    exp = crud.claim_next(s, robot, 60)
    assert crud.fail_experiment(s, exp.id, robot, exp.lease_token, "bubble", retryable=True).status == "failed"  # attempts used up
    crud.queue_experiments(s, c, rows(1, start=5), None, max_attempts=2)
    exp = crud.claim_next(s, robot, 60)
    token, later = exp.lease_token, exp.lease_expires_at + timedelta(seconds=1)
    assert crud.expire_leases(s, later) == {"failed": [], "requeued": [exp.id]}
    s.commit()
    with pytest.raises(Conflict, match="this lease expired and the experiment went back in the queue"):
        crud.heartbeat(s, exp.id, robot, token, 60)


def test_summary_picks_the_best_in_the_objectives_direction(s):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=2, maximize=False)
    crud.queue_experiments(s, c, rows(2), None, 3)
    for i, kappa in enumerate((5.0, 7.0)):
        exp = crud.claim_next(s, robot, 60)
        crud.record_result(s, exp.id, robot, exp.lease_token, f"key-{i:05d}", {"i": i}, result_fields(kappa))
    assert crud.campaign_summary(s, c.id)["best"]["measured"] == 5.0
    assert [r["measured"] for r in crud.results(s, c.id)] == [5.0, 7.0]


def test_concurrent_proposers_never_overspend_the_budget(db_url):
    """Eight proposers at once, 16 experiments each, budget 64: exactly four get in, the rest are refused (409)."""
    import threading

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        cid = campaign(s, budget=64).id
    outcomes, barrier = [], threading.Barrier(8)

    def propose(k):
        with sessions() as s:
            c = crud.get_campaign(s, cid)
            s.commit()
            barrier.wait()
            try:
                crud.queue_experiments(s, c, rows(16, start=100 * k), None, 3)
                outcomes.append("queued")
            except Conflict:
                outcomes.append("refused")

    in_parallel(propose, [(k,) for k in range(8)])
    with sessions() as s:
        assert crud.campaign_counts(s, cid) == {"queued": 64}
    engine.dispose()
    assert sorted(outcomes) == ["queued"] * 4 + ["refused"] * 4


def test_a_campaign_cancelled_while_proposals_are_computed_queues_nothing(db_url):
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        c, _, _ = crud.open_for_proposals(s, campaign(s).id)
        s.commit()
        with sessions() as other:  # the operator cancels while the optimiser runs
            crud.set_campaign_status(other, c.id, "cancel", None)
        with pytest.raises(Conflict, match="became cancelled while its proposals were computed"):
            crud.queue_experiments(s, c, rows(2), None, 3)
        assert crud.campaign_counts(s, c.id) == {}
    engine.dispose()


def test_leased_work_of_a_cancelled_campaign_is_not_requeued_when_its_lease_expires(s):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=2)
    crud.queue_experiments(s, c, rows(2), None, 3)
    exp = crud.claim_next(s, robot, 60)
    crud.set_campaign_status(s, c.id, "cancel", None)
    assert crud.queue_depth(s) == 0
    out = crud.expire_leases(s, exp.lease_expires_at + timedelta(seconds=1))
    s.commit()
    assert out["cancelled"] == [exp.id] and out["requeued"] == []
    assert crud.campaign_counts(s, c.id) == {"cancelled": 2}


def test_the_queue_depth_counts_only_work_a_robot_may_claim(s):
    c = campaign(s, budget=3)
    crud.queue_experiments(s, c, rows(3), None, 3)
    assert crud.queue_depth(s) == 3
    crud.set_campaign_status(s, c.id, "pause", None)
    assert crud.queue_depth(s) == 0


def test_concurrent_retries_of_one_result_all_get_the_stored_answer(db_url):
    """The same Idempotency-Key and body posted four times at once, ten times over: one row, never a 409."""
    import threading

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        robot = crud.create_api_key(s, "robot")[0].id
        c = campaign(s, budget=10)
        crud.queue_experiments(s, c, rows(10), None, 3)
    def post(exp_id, token, trial, barrier, answers):
        with sessions() as s:
            barrier.wait()
            try:
                m, created = crud.record_result(s, exp_id, robot, token, f"key-t{trial:04d}", {"t": trial}, result_fields(8.0))
                answers.append((m.id, created))
            except Conflict as e:
                answers.append(("conflict", str(e)))

    for trial in range(10):
        with sessions() as s:
            claimed = crud.claim_next(s, robot, 60)
            exp_id, token = claimed.id, claimed.lease_token
        answers, barrier = [], threading.Barrier(4)
        in_parallel(post, [(exp_id, token, trial, barrier, answers)] * 4)
        assert len({a[0] for a in answers}) == 1 and sum(a[1] is True for a in answers) == 1, answers
    engine.dispose()


def test_a_lease_is_the_claim_not_the_key(s):
    """The same robot key re-claims after its lease expired: the first claim's token is stale everywhere."""
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=1)
    crud.queue_experiments(s, c, rows(1), None, 3)
    first = crud.claim_next(s, robot, 60)
    token1, expires = first.lease_token, first.lease_expires_at
    second = crud.claim_next(s, robot, 60, now=expires + timedelta(seconds=1))
    assert second.id == first.id and second.attempts == 2 and second.lease_token != token1
    for call in (lambda: crud.heartbeat(s, first.id, robot, token1, 60),
                 lambda: crud.record_result(s, first.id, robot, token1, "key-stale1", {"a": 1}, result_fields(8.0)),
                 lambda: crud.fail_experiment(s, first.id, robot, token1, "late", retryable=True)):
        with pytest.raises(Conflict, match=r"claimed again \(attempt 2\) after this lease expired"):
            call()
    m, created = crud.record_result(s, second.id, robot, second.lease_token, "key-fresh1", {"a": 2}, result_fields(8.0))
    assert created and crud.campaign_counts(s, c.id) == {"measured": 1}


def test_an_expired_lease_is_refused_and_swept_without_waiting_for_a_claim(s, monkeypatch):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=1)
    crud.queue_experiments(s, c, rows(1), None, 3)
    exp = crud.claim_next(s, robot, 60)
    token, expired = exp.lease_token, exp.lease_expires_at + timedelta(seconds=1)
    monkeypatch.setattr(crud, "utcnow", lambda: expired)
    with pytest.raises(Conflict, match="expired at .* this attempt is void"):
        crud.heartbeat(s, exp.id, robot, token, 60)
    assert crud.campaign_counts(s, c.id) == {"queued": 1}


def test_agent_restarts_use_up_no_attempt_and_say_so(s):
    robot = crud.create_api_key(s, "robot")[0].id
    c = campaign(s, budget=1)
    crud.queue_experiments(s, c, rows(1), None, max_attempts=1)
    for k in range(1, 4):  # three crashes of the agent: with one attempt allowed, it is still made again
        exp = crud.claim_next(s, robot, 60)
        out = crud.fail_experiment(s, exp.id, robot, exp.lease_token, "robot restarted mid-experiment", True,
                                   cause="robot_restart", max_restarts=3)
        assert out.status == "queued" and out.failure_reason == f"attempt {k} interrupted: robot restarted mid-experiment"
    exp = crud.claim_next(s, robot, 60)
    out = crud.fail_experiment(s, exp.id, robot, exp.lease_token, "robot restarted mid-experiment", True,
                               cause="robot_restart", max_restarts=3)
    assert out.status == "failed" and "restarted in the middle of this experiment 4 times; not made again" in out.failure_reason


def test_robots_show_their_leases_expiry_and_what_they_said(s, monkeypatch):
    robot = crud.create_api_key(s, "robot", "arm-1")[0].id
    c = campaign(s, budget=1)
    crud.queue_experiments(s, c, rows(1), None, 3)
    exp = crud.claim_next(s, robot, 60)
    crud.report_robot_status(s, robot, {"vial": "dirty", "cell": "clean"}, None, {"balance": "B1"})
    (r,) = [r for r in crud.robots(s) if r["key_id"] == robot]
    assert r["leases"][0]["experiment_id"] == exp.id and not r["leases"][0]["lease_expired"]
    assert r["vessels"] == {"vial": "dirty", "cell": "clean"} and r["stopped_reason"] is None
    later = exp.lease_expires_at + timedelta(seconds=1)
    monkeypatch.setattr(crud, "utcnow", lambda: later)
    (r,) = [r for r in crud.robots(s) if r["key_id"] == robot]
    assert r["leases"][0]["lease_expired"]  # visible at once, before any claim sweeps it
    crud.report_robot_status(s, robot, {"vial": "unknown", "cell": "unknown"}, "the cell could not be rinsed", {})
    assert [r for r in crud.robots(s) if r["key_id"] == robot][0]["stopped_reason"] == "the cell could not be rinsed"
