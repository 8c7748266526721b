"""The schema is made by migrations only; they must agree with the models and go down and up again cleanly."""

import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from db.base import Base
from db.migrate import current, downgrade, upgrade
from db.session import make_engine
from model.contract import Recipe
from model.optimize.design import DesignSpec


def head() -> str:
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


HEAD = head()


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
    assert current(db_url) == HEAD
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) == HEAD and diffs(db_url) == []
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prediction_vs_measurement")).scalar() == 0
    engine.dispose()


@pytest.mark.postgres
def test_analyst_role_is_read_only(pg_server):
    import psycopg

    from tests.conftest import fresh_pg_database

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
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT detail FROM audit_log")
            # experiments without their live lease tokens and holders (a token posts a robot's result)
            assert conn.execute('SELECT id, status, recipe, "temperature_K", source FROM experiments').fetchall() == []
            for hidden in ("lease_token", "lease_owner"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT {hidden} FROM experiments")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM experiments")
    finally:
        drop()


def test_0002_moves_a_campaign_design_and_the_optimiser_point_and_back(db_url):
    """Rows written by revision 0001 keep their meaning through 0002 (design document, point column) and back."""
    downgrade(db_url, "0001")
    engine = make_engine(db_url)
    space = {"salt": "[Li+].F[P-](F)(F)(F)(F)F", "solvents": ["O=C1OCCO1", "COC(=O)OC"], "salt_fraction": 0.08}
    recipe = {"salt": space["salt"], "solvents": space["solvents"], "salt_cation_fraction": 0.08,
              "solvent_ratio": [0.3, 0.7], "salt_molality_mol_kg": 1.1, "fractions": {}, "z": [0.3, 0.7, 0.08]}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO model_versions (id, property, name, checkpoint_hash, path, metrics, created_at) "
                          "VALUES (1, 'ionic_conductivity', 'm', :h, '-', '{}', '2026-01-01 00:00:00')"), {"h": "a" * 64})
        conn.execute(text("INSERT INTO campaigns (id, name, property, objective, space, \"temperature_K\", "
                          "\"temperature_range_K\", model_version_id, strategy, budget, status, created_at) VALUES "
                          "(1, 'c', 'ionic_conductivity', :o, :s, 303.15, NULL, 1, 'gradient', 4, 'active', "
                          "'2026-01-01 00:00:00')"),
                     {"o": json.dumps({"maximize": True, "aggregate": "worst", "beta": 0.0}), "s": json.dumps(space)})
        conn.execute(text("INSERT INTO experiments (id, campaign_id, composition, recipe, \"temperature_K\", predicted, "
                          "predicted_std, gradient, model_version_id, status, attempts, max_attempts, created_at, "
                          "updated_at) VALUES (1, 1, '{}', :r, 303.15, 1.0, 0.1, '{}', 1, 'queued', 0, 3, "
                          "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"r": json.dumps(recipe)})
    engine.dispose()
    upgrade(db_url)
    assert diffs(db_url) == []
    engine = make_engine(db_url)
    with engine.connect() as conn:
        design, = conn.execute(text("SELECT design FROM campaigns")).one()
        stored_recipe, point = conn.execute(text("SELECT recipe, point FROM experiments")).one()
    engine.dispose()
    design, stored_recipe, point = (json.loads(v) if isinstance(v, str) else v for v in (design, stored_recipe, point))
    spec = DesignSpec.parse(design)
    assert spec.version == 1 and spec.temperature_K == 303.15 and spec.space.salt_fraction == 0.08
    assert point == [0.3, 0.7, 0.08] and "z" not in stored_recipe
    assert Recipe.model_validate(stored_recipe).solvent_ratio == [0.3, 0.7]
    downgrade(db_url, "0001")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        old_recipe, old_space = conn.execute(text("SELECT e.recipe, c.space FROM experiments e JOIN campaigns c "
                                                  "ON c.id = e.campaign_id")).one()
    engine.dispose()
    old_recipe, old_space = (json.loads(v) if isinstance(v, str) else v for v in (old_recipe, old_space))
    assert old_recipe["z"] == [0.3, 0.7, 0.08] and old_space["salt_fraction"] == 0.08
    upgrade(db_url)
