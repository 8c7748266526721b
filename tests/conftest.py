import os
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # tests may run beside other work; avoid OpenMP oversubscription

ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    from diffmix.settings import Settings

    d = Settings().data_dir or ROOT.parent / "shared" / "data"
    return d if (d / "calisol23.csv").exists() else None


@pytest.fixture
def real_data_dir():
    d = shared_data_dir()
    if d is None:
        pytest.skip("the public data folder (../shared/data or $DIFFMIX_DATA_DIR) is not on this machine")
    return d


# ---------------------------------------------------------------------------------------------- databases

PG_ADMIN_URL = os.environ.get("DIFFMIX_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_server():
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; .ci/run should have started it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    return PG_ADMIN_URL


def fresh_pg_database(admin_url: str) -> tuple[str, callable]:
    import psycopg

    name = f"diffmix_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name

    def drop():
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A migrated, empty database of each kind."""
    from db.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        upgrade(url)
        yield url
        return
    admin = request.getfixturevalue("pg_server")
    url, drop = fresh_pg_database(admin)
    upgrade(url)
    yield url
    from sqlalchemy.orm import close_all_sessions

    close_all_sessions()
    drop()


def save_tiny_models(root):
    """Small untrained-but-real ensembles for every property, saved as checkpoints the service can load."""
    from model.ensemble import Ensemble
    from model.nn.models import build
    from model.properties import PROPERTIES

    for name, prop in PROPERTIES.items():
        members = []
        for k in range(2):
            torch.manual_seed(k)
            hyper = {"hidden": 16, "gnn_layers": 2} | ({} if prop.log_scale else {"target_scale": 100.0})
            members.append(build("diffmix", prop.law, log_scale=prop.log_scale, **hyper))
        ens = Ensemble(members, prop, "diffmix", hyper, {"split": "random"})
        ens.domain = tiny_domain(prop)
        ens.save(root / name)
    return root


def tiny_domain(prop):
    """A small, real applicability domain: what a model trained on these rows would know (LiPF6 in EC:DMC
    binaries at 0.3–1.5 mol/kg and 253–333 K, or EC:DMC / EC:PC excess-property series at 288–318 K, all at
    101.325 kPa)."""
    from model.data.dataset import MixtureTable
    from model.domain import Domain
    from model.mixture import from_amounts

    ec, dmc, pc, lipf6 = "O=C1OCCO1", "COC(=O)OC", "CC1COC(=O)O1", "[Li+].F[P-](F)(F)(F)(F)F"
    mixtures = []
    for T in (253.15, 293.15, 333.15):
        for w in (0.2, 0.5, 0.8):
            if prop.excess:
                mixtures += [from_amounts([(ec, w), (other, 1 - w)], "mole", T + (35 if T < 260 else 0))
                             for other in (dmc, pc)]
            else:
                mixtures += [from_amounts([(ec, w), (dmc, 1 - w), (lipf6, b * 0.15190)], "mass", T) for b in (0.3, 1.0, 1.5)]
    table = MixtureTable.from_mixtures(mixtures, np.ones(len(mixtures)))
    return Domain.build(table)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory):
    return save_tiny_models(tmp_path_factory.mktemp("models"))


# ---------------------------------------------------------------------------------------------- a live service
import socket as _socket  # noqa: E402
import threading as _threading  # noqa: E402
import time as _time  # noqa: E402


def free_port() -> int:
    with _socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveService:
    """The real app under uvicorn on a loopback port, in a thread."""

    def __init__(self, db_url, models_dir, _port=None, _keys=None, **settings):
        import httpx
        import uvicorn

        from diffmix.settings import Settings
        from service.app import create_app
        from tests.helpers import make_keys

        self.keys = _keys or make_keys(db_url)
        self.port = _port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from service.server import config

        self.settings = Settings(database_url=db_url, models_dir=models_dir, log_level="WARNING", **settings)
        app = create_app(self.settings)
        self.server = uvicorn.Server(config(app, self.settings, "127.0.0.1", self.port))
        self.thread = _threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = _time.monotonic() + 30
        while _time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                _time.sleep(0.05)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def call(self, method, path, role="operator", **kw):
        import httpx

        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        # The service closes a kept-alive connection after ``keep_alive_timeout_s`` (5 s) idle. A test that waits
        # about that long (for the agent, say) and then reuses the pooled connection can send its request just
        # as the server closes it, and read "connection reset by peer". A GET changes nothing, so it is sent
        # again on a fresh connection, as robot/client.py does for every call; other methods are not repeated.
        for _ in range(2):
            try:
                return self.http.request(method, path, headers=headers, **kw)
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                if method.upper() != "GET":
                    raise
        return self.http.request(method, path, headers=headers, **kw)  # the third try's error is the test's

    def campaign(self, budget=4, n=None, **extra):
        body = {"name": "test", "space": {"salt": "[Li+].F[P-](F)(F)(F)(F)F",
                                          "solvents": ["CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"],
                                          "salt_fraction": 0.08}, "temperature_K": 303.15, "budget": budget, **extra}
        c = self.call("POST", "/v1/campaigns", json=body)
        assert c.status_code == 201, c.text
        cid = c.json()["id"]
        r = self.call("POST", f"/v1/campaigns/{cid}/proposals?n={n or budget}")
        assert r.status_code == 201, r.text
        return cid, r.json()

    def experiments(self, cid):
        return self.call("GET", f"/v1/campaigns/{cid}/experiments").json()

    def stop(self):
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live(db_url, tiny_models_dir):
    svc = LiveService(db_url, tiny_models_dir, lease_seconds=30, max_attempts=3)
    yield svc
    svc.stop()


@pytest.fixture
def start_emulator():
    """start_emulator(EmulatorClass, world, **kw) → a running emulator, closed when the test ends."""
    started = []

    def start(cls, *args, **kw):
        started.append(cls(*args, **kw))
        return started[-1]

    yield start
    for e in started:
        e.close()


# The suite's exit status is pytest's own. Once in a while, after every test has run and the summary is printed, a
# C++ thread left by a daemon thread (a test's uvicorn server or robot agent, or a worker that was still in
# torch) is torn down with the interpreter and std::terminate aborts the process (exit code 134), which would turn
# a green run red. The status is kept at the end of the session and the process leaves with it, without C++
# static destructors (the results are already written; nothing is lost).
_EXIT = pytest.StashKey[int]()


def pytest_sessionfinish(session, exitstatus):
    session.config.stash[_EXIT] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    import sys

    status = config.stash.get(_EXIT, None)
    if status is not None and os.environ.get("DIFFMIX_TEST_HARD_EXIT", "1") == "1":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
