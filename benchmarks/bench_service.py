"""HTTP latency and throughput of the service (uvicorn process, shipped model, loopback only).

    .venv/bin/python -m benchmarks.bench_service

predict: 1 record (p50/p99 over 500 requests), 1,000 records in one request, requests/s with 8 concurrent
clients; claim: p50/p99 with 10,000 queued experiments on PostgreSQL (127.0.0.1:5432).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from db import crud
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker
from model.contract import Recipe

RECORD = {"components": [{"smiles": "O=C1OCCO1", "amount": 1.506}, {"smiles": "[Li+].F[P-](F)(F)(F)(F)F", "amount": 0.3006}],
          "basis": "mass", "temperature_K": 298.15}
PG = os.environ.get("DIFFMIX_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def start(db_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "OMP_NUM_THREADS": "1", "DIFFMIX_LEASE_SECONDS": "3600"}
    p = subprocess.Popen([sys.executable, "-m", "diffmix", "serve", "--port", str(port), "--no-upgrade"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("service did not start")


def keys(db_url):
    e = make_engine(db_url)
    with make_sessionmaker(e)() as s:
        k = {r: crud.create_api_key(s, r)[1] for r in ("operator", "robot")}
    e.dispose()
    return k


def bench_predict(tmp: Path) -> dict:
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(url)
    k = keys(url)
    p = start(url, 8123)
    h = {"Authorization": f"Bearer {k['operator']}"}
    try:
        c = httpx.Client(base_url="http://127.0.0.1:8123", headers=h, timeout=60)
        one = {"property": "ionic_conductivity", "records": [RECORD]}
        for _ in range(20):
            c.post("/v1/predict", json=one)
        lat = []
        for _ in range(500):
            t = time.perf_counter()
            r = c.post("/v1/predict", json=one)
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200
        many = {"property": "ionic_conductivity", "records": [RECORD] * 1000}
        big = []
        for _ in range(10):
            t = time.perf_counter()
            assert c.post("/v1/predict", json=many).status_code == 200
            big.append(time.perf_counter() - t)
        n_each, failures = 150, []

        def client():
            cc = httpx.Client(base_url="http://127.0.0.1:8123", headers=h, timeout=60)
            for _ in range(n_each):
                try:
                    r = cc.post("/v1/predict", json=one)
                    if r.status_code != 200:
                        failures.append(f"HTTP {r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as e:
                    failures.append(repr(e))

        t = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        rps = 8 * n_each / (time.perf_counter() - t)
        if failures:  # a throughput with failed requests in it is not a throughput
            raise RuntimeError(f"{len(failures)} of {8 * n_each} concurrent requests failed, e.g. {failures[0]}")
    finally:
        p.terminate()
        p.wait(10)
    return {"predict_1_record_ms_p50": round(1000 * np.median(lat), 2), "predict_1_record_ms_p99": round(1000 * np.percentile(lat, 99), 2),
            "predict_1000_records_ms_median": round(1000 * np.median(big), 1),
            "predict_requests_per_s_8_clients": round(rps, 1)}


def bench_claim() -> dict:
    import psycopg

    name = "diffmix_bench_claim"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    e = make_engine(url)
    with make_sessionmaker(e)() as s:
        mv = crud.register_model_version(s, "ionic_conductivity", "bench", "f" * 64, "-", {})
        c = crud.create_campaign(s, None, name="bench", design={"property": "ionic_conductivity"}, model_version_id=mv.id,
                                 strategy="gradient", budget=10_000)
        # a real recipe, as a proposal stores it: a claim's response carries it, validated (an empty one was a 500)
        recipe = Recipe.make("[Li+].F[P-](F)(F)(F)(F)F", ["O=C1OCCO1", "COC(=O)OC"], 0.08, [0.5, 0.5])
        rows = [{"composition": {"[Li+]": 0.08, "F[P-](F)(F)(F)(F)F": 0.08, "O=C1OCCO1": 0.42, "COC(=O)OC": 0.42},
                 "recipe": recipe.model_dump(mode="json"), "point": [0.5, 0.5, 0.08], "temperature_K": 303.15,
                 "predicted": 1.0, "predicted_std": 0.1, "gradient": {}} for _ in range(10_000)]
        crud.queue_experiments(s, c, rows, None, 3)
    e.dispose()
    k = keys(url)
    p = start(url, 8124)
    try:
        c = httpx.Client(base_url="http://127.0.0.1:8124", headers={"Authorization": f"Bearer {k['robot']}"}, timeout=60)
        lat = []
        for _ in range(300):
            t = time.perf_counter()
            r = c.post("/v1/robot/claim")
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200
    finally:
        p.terminate()
        p.wait(10)
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"claim_ms_p50_10k_queued_postgres": round(1000 * np.median(lat), 2),
            "claim_ms_p99_10k_queued_postgres": round(1000 * np.percentile(lat, 99), 2)}


def main():
    with tempfile.TemporaryDirectory() as d:
        out = bench_predict(Path(d))
    out.update(bench_claim())
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
