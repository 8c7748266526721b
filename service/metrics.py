"""The service's Prometheus metrics, in a registry of its own (one per app, so tests never share counters)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.requests import Request


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    queue_depth: Gauge

    def observe(self, request: Request, status: int, seconds: float) -> None:
        """Count one response (by its route template, so ids do not make new series) and its latency."""
        route = getattr(request.scope.get("route"), "path", "unmatched")
        self.requests.labels(request.method, route, str(status), f"{status // 100}xx").inc()
        self.latency.labels(request.method, route).observe(seconds)

    @classmethod
    def create(cls) -> Metrics:
        """Fresh counters, histogram and gauge in a registry of their own."""
        reg = CollectorRegistry()
        return cls(
            reg,
            Counter("diffmix_http_requests_total", "HTTP responses, by status and status class (2xx … 5xx)",
                    ["method", "route", "status", "status_class"], registry=reg),
            Histogram("diffmix_http_request_seconds", "HTTP request latency", ["method", "route"], registry=reg,
                      buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5)),
            Gauge("diffmix_queue_depth", "Experiments waiting in the robot queue", registry=reg),
        )
