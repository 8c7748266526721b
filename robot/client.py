"""The service, as the robot sees it: HTTP with an API key, retried with backoff on network and server errors."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential, wait_random

log = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    def __init__(self, status: int, detail: str, url: str = ""):
        super().__init__(f"service answered {status}: {detail}")
        self.status = status
        self.detail = detail
        self.url = url  # the service's base URL


class _Retryable(Exception):
    """A 5xx answer or a network error: worth another try."""


UNREACHABLE = 503  # the status a ServiceError carries when every try failed on the network or with a 5xx


class ServiceClient:
    """The robot's HTTP client. One retry policy (tenacity): connection errors and 5xx are retried with exponential
    backoff and jitter up to ``attempts`` times, then raised as ServiceError(503); 4xx answers are final."""

    def __init__(self, base_url: str, key: str, timeout: float = 10.0, max_backoff: float = 10.0,
                 attempts: int = 8) -> None:
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {key}"})
        self.max_backoff = max_backoff
        self.attempts = attempts

    def request(self, method: str, path: str, attempts: int | None = None, **kw: Any) -> httpx.Response:
        """One call with the retry policy (``attempts`` overrides the client's bound for this call)."""
        def once() -> httpx.Response:
            try:
                r = self.http.request(method, path, **kw)
            except httpx.TransportError as e:
                raise _Retryable(f"{type(e).__name__}: {e}") from e
            if r.status_code >= 500:
                raise _Retryable(f"{r.status_code} {r.text[:200]}")
            if r.status_code >= 400:
                try:
                    detail = r.json().get("detail")
                except ValueError:
                    detail = r.text
                raise ServiceError(r.status_code, str(detail), str(self.http.base_url))
            return r

        tries = attempts or self.attempts
        policy = Retrying(
            stop=stop_after_attempt(tries), reraise=True, retry=retry_if_exception_type(_Retryable),
            wait=wait_exponential(multiplier=0.2, max=self.max_backoff) + wait_random(0, 0.1),  # doubling, jittered
            before_sleep=lambda s: log.warning(f"{method} {path}: {s.outcome.exception()}; retrying "
                                               f"(try {s.attempt_number} of {tries})"))
        try:
            return policy(once)
        except _Retryable as e:
            raise ServiceError(UNREACHABLE, f"service unreachable after {tries} attempts ({e})",
                               str(self.http.base_url)) from None

    def claim(self) -> dict | None:
        r = self.request("POST", "/v1/robot/claim")
        return None if r.status_code == 204 else r.json()

    def heartbeat(self, experiment_id: int, lease_token: str) -> None:
        self.request("POST", f"/v1/experiments/{experiment_id}/heartbeat", attempts=3,
                     headers={"Lease-Token": lease_token})

    def result(self, experiment_id: int, body: dict, key: str, lease_token: str) -> dict:
        return self.request("POST", f"/v1/experiments/{experiment_id}/result", json=body,
                            headers={"Idempotency-Key": key, "Lease-Token": lease_token}).json()

    def fail(self, experiment_id: int, reason: str, retryable: bool, lease_token: str,
             cause: str = "measurement") -> None:
        self.request("POST", f"/v1/experiments/{experiment_id}/fail",
                     json={"reason": reason[:4000], "retryable": retryable, "cause": cause},
                     headers={"Lease-Token": lease_token})

    def report_status(self, vessels: dict[str, str], stopped_reason: str | None,
                      instrument_ids: dict[str, str], stocks: list[dict] | None = None) -> None:
        """Tell the service this robot's vessels, whether (and why) it refuses work, and the stocks its lab file
        declares; GET /v1/robots shows it, and campaign creation checks the stocks."""
        body: dict = {"vessels": vessels, "stopped_reason": stopped_reason and stopped_reason[:4000],
                      "instrument_ids": instrument_ids}
        if stocks is not None:
            body["stocks"] = stocks
        self.request("PUT", "/v1/robot/status", attempts=3, json=body)

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
