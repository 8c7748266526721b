"""The schema is made by migrations only; they must agree with the models and go down and up again cleanly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from db.base import Base
from db.migrate import current, downgrade, upgrade
from db.session import make_engine


def diffs(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        out = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return out


def test_models_and_migrations_agree(db_url):
    assert diffs(db_url) == []


def test_upgrade_downgrade_upgrade(db_url):
    assert current(db_url) == "0001"
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) == "0001" and diffs(db_url) == []
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prediction_vs_measurement")).scalar() == 0
    engine.dispose()


@pytest.mark.postgres
def test_analyst_role_is_read_only(pg_server):
    import psycopg

    from .conftest import fresh_pg_database

    url, drop = fresh_pg_database(pg_server)
    try:
        upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET ROLE diffmix_analyst")
            assert conn.execute("SELECT count(*) FROM prediction_vs_measurement").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM campaigns").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO molecules (smiles) VALUES ('CCO')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT key_hash FROM api_keys")
    finally:
        drop()
