"""Property-based API testing from the OpenAPI schema: no generated request may produce a server error."""

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from db.migrate import upgrade
from diffmix.settings import Settings
from service.app import create_app
from tests.conftest import save_tiny_models
from tests.helpers import make_keys

_tmp = Path(tempfile.mkdtemp(prefix="diffmix-schemathesis-"))
(_tmp / "models").mkdir()
URL = f"sqlite:///{_tmp / 'st.db'}"
upgrade(URL)
KEYS = make_keys(URL)
APP = create_app(Settings(database_url=URL, models_dir=save_tiny_models(_tmp / "models"), max_body_bytes=100_000))
APP.state.diffmix.load_models()  # the ASGI transport does not run the lifespan
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def role_for(path: str) -> str:
    if "/robot/" in path or "/experiments/" in path:
        return "robot"
    return "admin" if "/admin/" in path else "operator"


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call(headers={"Authorization": f"Bearer {KEYS[role_for(case.path)]}"})
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
