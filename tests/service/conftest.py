import pytest
from fastapi.testclient import TestClient

from diffmix.settings import Settings
from service.app import create_app
from tests.helpers import make_keys
from tests.service.client import Api


@pytest.fixture
def api(db_url, tiny_models_dir):
    settings = Settings(database_url=db_url, models_dir=tiny_models_dir, lease_seconds=60, max_attempts=2,
                        max_body_bytes=200_000, domain_min_rows=5)  # the tiny models' domain has 27 rows
    keys = make_keys(db_url)
    with TestClient(create_app(settings)) as client:
        yield Api(client, keys, db_url)
