"""The service, as the robot sees it: HTTP with an API key, retried with backoff on network and server errors."""

from __future__ import annotations

import logging
import random
import time

import httpx

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    def __init__(self, status: int, detail: str):
        super().__init__(f"service answered {status}: {detail}")
        self.status = status


class ServiceClient:
    def __init__(self, base_url: str, key: str, timeout: float = 10.0, max_backoff: float = 10.0):
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {key}"})
        self.max_backoff = max_backoff

    def request(self, method: str, path: str, attempts: int | None = 8, **kw) -> httpx.Response:
        """Retries connection errors and 5xx with exponential backoff and jitter; `attempts=None` retries forever
        (used for posting a measurement, which must never be lost). 4xx answers are final and raised."""
        delay, i = 0.2, 0
        while True:
            i += 1
            try:
                r = self.http.request(method, path, **kw)
                if r.status_code < 500:
                    if r.status_code >= 400:
                        try:
                            detail = r.json().get("detail")
                        except ValueError:
                            detail = r.text
                        raise ServiceError(r.status_code, str(detail))
                    return r
                problem = f"{r.status_code} {r.text[:200]}"
            except httpx.TransportError as e:
                problem = f"{type(e).__name__}: {e}"
            if attempts is not None and i >= attempts:
                raise ServiceError(503, f"service unreachable after {i} attempts ({problem})")
            log.warning(f"{method} {path}: {problem}; retrying in {delay:.1f} s")
            time.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(self.max_backoff, delay * 2)

    def claim(self) -> dict | None:
        r = self.request("POST", "/v1/robot/claim")
        return None if r.status_code == 204 else r.json()

    def heartbeat(self, experiment_id: int, lease_token: str) -> None:
        self.request("POST", f"/v1/experiments/{experiment_id}/heartbeat", attempts=3,
                     headers={"Lease-Token": lease_token})

    def result(self, experiment_id: int, body: dict, key: str, lease_token: str) -> dict:
        return self.request("POST", f"/v1/experiments/{experiment_id}/result", attempts=None, json=body,
                            headers={"Idempotency-Key": key, "Lease-Token": lease_token}).json()

    def fail(self, experiment_id: int, reason: str, retryable: bool, lease_token: str,
             cause: str = "measurement") -> None:
        self.request("POST", f"/v1/experiments/{experiment_id}/fail", attempts=None,
                     json={"reason": reason[:4000], "retryable": retryable, "cause": cause},
                     headers={"Lease-Token": lease_token})

    def latest_calibration(self, cell_id: str) -> dict | None:
        try:
            return self.request("GET", f"/v1/calibrations/{cell_id}/latest").json()
        except ServiceError as e:
            if e.status == 404:
                return None
            raise

    def post_calibration(self, body: dict) -> dict:
        return self.request("POST", "/v1/calibrations", json=body).json()

    def close(self) -> None:
        self.http.close()
