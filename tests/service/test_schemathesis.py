"""Property-based API testing from the OpenAPI schema: no generated request may produce a server error, on SQLite
and on PostgreSQL (NUL bytes, lone surrogates and NaN only fail in JSONB), with each route's own role (the robot
routes with a robot key)."""

import atexit
import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from db.migrate import upgrade
from diffmix.settings import Settings
from service.app import create_app
from tests.conftest import PG_ADMIN_URL, _pg_available, fresh_pg_database, save_tiny_models
from tests.helpers import make_keys

_tmp = Path(tempfile.mkdtemp(prefix="diffmix-schemathesis-"))
MODELS = save_tiny_models(_tmp / "models")


def _app(url):
    upgrade(url)
    keys = make_keys(url)
    app = create_app(Settings(database_url=url, models_dir=MODELS, max_body_bytes=100_000))
    app.state.diffmix.load_models()  # the ASGI transport does not run the lifespan
    return app, keys


SQLITE_APP, SQLITE_KEYS = _app(f"sqlite:///{_tmp / 'st.db'}")
sqlite_schema = schemathesis.openapi.from_asgi("/openapi.json", SQLITE_APP)

if _pg_available():
    _pg_url, _drop = fresh_pg_database(PG_ADMIN_URL)
    PG_APP, PG_KEYS = _app(_pg_url)

    def _dispose():
        PG_APP.state.diffmix.sessions.kw["bind"].dispose()
        _drop()

    atexit.register(_dispose)
    pg_schema = schemathesis.openapi.from_asgi("/openapi.json", PG_APP)
else:
    if os.environ.get("CI"):
        raise RuntimeError(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; .ci/run should have started it")
    PG_KEYS = None
    pg_schema = sqlite_schema  # the PostgreSQL test below skips itself


def role_for(path: str) -> str:
    if "/robot/" in path or "/experiments/" in path:
        return "robot"
    return "admin" if "/admin/" in path else "operator"


def check(case, keys):
    response = case.call(headers={"Authorization": f"Bearer {keys[role_for(case.path)]}"})
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])


@sqlite_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_on_sqlite(case):
    check(case, SQLITE_KEYS)


@pytest.mark.postgres
@pg_schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_on_postgres(case):
    if PG_KEYS is None:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    check(case, PG_KEYS)
