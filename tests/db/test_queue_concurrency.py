"""Several robots claiming at once never get the same experiment (threads, separate connections)."""

import threading

import pytest
from sqlalchemy import select, text

from db import crud
from db.migrate import upgrade
from db.models import Campaign
from db.session import make_engine, make_sessionmaker


def seed_queue(sessions, n):
    with sessions() as s:
        mv = crud.register_model_version(s, "ionic_conductivity", "test", "0" * 64, "/nowhere", {})
        robots = [crud.create_api_key(s, "robot", f"robot {i}")[0].id for i in range(6)]
        c = crud.create_campaign(s, None, name="c", design={"property": "ionic_conductivity"}, model_version_id=mv.id,
                                 strategy="gradient", budget=n)
        rows = [{"composition": {"A": 1.0}, "recipe": {"i": i}, "point": [i], "temperature_K": 303.15, "predicted": 1.0,
                 "predicted_std": 0.1, "gradient": {}} for i in range(n)]
        crud.queue_experiments(s, c, rows, None, max_attempts=3)
    return robots


def test_concurrent_claims_are_disjoint(db_url):
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    n = 60
    robots = seed_queue(sessions, n)
    got: dict[int, list[int]] = {r: [] for r in robots}
    errors = []
    barrier = threading.Barrier(len(robots))

    def worker(robot_id):
        try:
            barrier.wait()
            while True:
                with sessions() as s:
                    e = crud.claim_next(s, robot_id, lease_seconds=60)
                if e is None:
                    return
                got[robot_id].append(e.id)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(r,)) for r in robots]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    engine.dispose()
    assert not errors, errors
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == n  # every experiment exactly once
    assert sum(1 for ids in got.values() if ids) >= 2  # and the work was actually shared


@pytest.mark.postgres
def test_a_bulk_queue_refreshes_the_planner_statistics_on_postgres(pg_server):
    """Without fresh statistics PostgreSQL sorts the whole queue on every claim (see crud.queue_experiments)."""
    from tests.conftest import fresh_pg_database

    url, drop = fresh_pg_database(pg_server)
    engine = make_engine(url)
    try:
        upgrade(url)
        sessions = make_sessionmaker(engine)

        def planned_rows():
            with sessions() as s:
                return s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'experiments'"))

        assert planned_rows() <= 0  # never analysed
        seed_queue(sessions, crud.BULK_ANALYZE_ROWS - 1)  # below the threshold: left to autovacuum
        with sessions() as s:
            c = s.scalar(select(Campaign))
            c.budget = 10 * crud.BULK_ANALYZE_ROWS
            s.commit()
            rows = [{"composition": {"A": 1.0}, "recipe": {"i": i}, "point": [i], "temperature_K": 303.15, "predicted": 1.0,
                     "predicted_std": 0.1, "gradient": {}} for i in range(crud.BULK_ANALYZE_ROWS)]
            crud.queue_experiments(s, c, rows, None, max_attempts=3)
        assert planned_rows() == 2 * crud.BULK_ANALYZE_ROWS - 1
    finally:
        engine.dispose()
        drop()
