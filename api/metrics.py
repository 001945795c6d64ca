"""The api's Prometheus metrics (prometheus-client), and what a scrape of them reads.

`secureforms api` runs in prometheus-client's multiprocess mode (cli.metrics sets
PROMETHEUS_MULTIPROC_DIR before anything imports prometheus-client): each api process
writes its counts to files there, and a scrape of any process adds them all up. Without
that variable (an app built in a test) the counts live in this process's registry.

Labels are bounded: a route is its template (never a raw path: visitor links carry keys),
a refusal is one of the DomainError kinds below.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from api.errors import STORE_UNAVAILABLE
from configs import Settings
from core.errors import InvalidOrExpired, NotFound, Unavailable, ValidationFailed
from core.runtime import Runtime
from core.submit import Publish, submit_answers
from producers import QueueCollector

REQUESTS = Counter(
    "secureforms_http_requests",
    "HTTP requests by route template, method and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "secureforms_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SUBMITS = Counter(
    "secureforms_submits",
    "Visitor submits: accepted, or refused by reason (invalid_answers, invalid_or_expired, "
    "not_found, unavailable, error).",
    ["outcome"],
)
PUBLISH_FAILED = Counter(
    "secureforms_submits_publish_failed",
    "Submits the broker did not take: the visitor was answered 503 and kept their key.",
)
RATE_LIMITED = Counter(
    "secureforms_rate_limit_hits",
    "Requests refused by a rate limit (429), by the limit's kind.",
    ["kind"],
)

_REFUSALS: dict[type[Exception], str] = {
    ValidationFailed: "invalid_answers",
    InvalidOrExpired: "invalid_or_expired",
    NotFound: "not_found",
    Unavailable: "unavailable",
}


def counted_submit(rt: Runtime, publish: Publish, otk: str, values: dict[str, Any]) -> None:
    """core.submit.submit_answers, counted by outcome (the JSON API and the page both)."""
    try:
        submit_answers(rt, publish, otk, values)
    except Exception as exc:
        # A store that did not answer is answered 503 `unavailable` (api.errors) too.
        unavailable = "unavailable" if isinstance(exc, STORE_UNAVAILABLE) else "error"
        SUBMITS.labels(outcome=_REFUSALS.get(type(exc), unavailable)).inc()
        raise
    SUBMITS.labels(outcome="accepted").inc()


class _ThisProcess(Collector):
    """The default registry's metrics, for a registry of our own (tests, no multiprocess)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry(settings: Settings) -> CollectorRegistry:
    """What one scrape of the api reads: every api process's counts, and the queue."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(QueueCollector(settings))
    return registry


def process_exited() -> None:
    """Multiprocess mode: this process's live gauges go with it (counts stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


__all__ = [
    "LATENCY",
    "PUBLISH_FAILED",
    "RATE_LIMITED",
    "REQUESTS",
    "SUBMITS",
    "counted_submit",
    "process_exited",
    "scrape_registry",
]
