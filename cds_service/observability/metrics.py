"""The Prometheus metrics (issue 11), correct with several uvicorn workers.

With `PROMETHEUS_MULTIPROC_DIR` set (by `cds-service serve`, see `multiproc`), prometheus-client
runs in multiprocess mode: each worker writes its values to files there, and a scrape, answered
by whichever worker, adds up every worker's files (`exposition`). Without it (TestClient, a
bare `uvicorn cds_service.http.app:app`) the process's own registry answers. The mode is fixed
when prometheus-client is first imported, which is why only the app imports this module.

Every label has a bounded set of values: service ids are the registry's (anything else is
`unknown`), endpoints and statuses are few, recommendation codes, FHIR failure kinds and JWT
rejection reasons are closed enums, prefetch keys are the templates'.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from cds_service.observability.audit import CallRecord
from cds_service.observability.multiproc import alive
from cds_service.rules import Recommendation
from cds_service.security import RejectReason, rejections

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

UNKNOWN = "unknown"
"""The label value of a service id the registry does not know."""
NONE = "none"
"""The service label of requests that name no service (discovery, other paths)."""

REQUESTS = Counter(
    "aza_http_requests",
    "HTTP requests answered, by endpoint (hook, feedback, discovery, other), service and status.",
    ["endpoint", "service", "status"],
)
LATENCY = Histogram(
    "aza_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response.",
    ["endpoint", "service", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0),
)
IN_PROGRESS = Gauge(
    "aza_http_requests_in_progress",
    "Requests being served, by endpoint (summed over the live workers).",
    ["endpoint"],
    multiprocess_mode="livesum",
)
CARDS = Counter(
    "aza_cards",
    "Cards answered to hook calls, by service and recommendation code.",
    ["service", "recommendation"],
)
FHIR_QUERIES = Counter(
    "aza_fhir_queries",
    "Prefetch keys queried on the FHIR server (fallback), by key and outcome (ok or the "
    "failure kind: timeout, connection, http-status, no-fhir-server, ...).",
    ["key", "outcome"],
)
JWT_REJECTIONS = Counter(
    "aza_jwt_rejections",
    "Bearer tokens refused (401), by reason.",
    ["reason"],
)
FEEDBACK_RECEIVED = Counter(
    "aza_feedback_items_received",
    "Feedback items received, by service.",
    ["service"],
)
FEEDBACK_STORED = Counter(
    "aza_feedback_items_stored",
    "Feedback items newly stored (a repeated item is received, not stored again), by service.",
    ["service"],
)

FEEDBACK_UNKNOWN_CARD = Counter(
    "aza_feedback_items_unknown_card",
    "Feedback items received about a card uuid the service has no record of issuing, by service.",
    ["service"],
)
ISSUED_UNRECORDED = Counter(
    "aza_issued_cards_unrecorded",
    "Cards answered but not recorded in issued_cards, by reason (database, queue-full, error).",
    ["reason"],
)

_RECOMMENDATIONS = frozenset(code.value for code in Recommendation)


def _count_rejection(reason: RejectReason) -> None:
    JWT_REJECTIONS.labels(reason=reason.value).inc()


# Once per process: this module is imported once, however many apps a test process builds.
rejections.observe(_count_rejection)


# The children of the per-request metrics, looked up once per label set: `labels(...)` takes
# a lock and builds a key on every call, several microseconds each. The label sets are bounded
# (see the module's docstring), so are these caches. A child stays valid for the process.


@cache
def _in_progress_child(endpoint: str) -> Gauge:
    return IN_PROGRESS.labels(endpoint=endpoint)


@cache
def _request_children(endpoint: str, service: str, status: int) -> tuple[Counter, Histogram]:
    labels = {"endpoint": endpoint, "service": service, "status": str(status)}
    return REQUESTS.labels(**labels), LATENCY.labels(**labels)


@cache
def _card_child(service: str, recommendation: str) -> Counter:
    return CARDS.labels(service=service, recommendation=recommendation)


@contextmanager
def in_progress(endpoint: str) -> Iterator[None]:
    gauge = _in_progress_child(endpoint)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


def count_request(endpoint: str, service: str, status: int, seconds: float) -> None:
    requests, latency = _request_children(endpoint, service, status)
    requests.inc()
    latency.observe(seconds)


def count_call(record: CallRecord) -> None:
    """Cards and FHIR fallback outcomes of one hook call whose service was found."""
    service = record.service
    if service is None:
        return
    for code in record.recommendations or ():
        recommendation = code if code in _RECOMMENDATIONS else UNKNOWN
        _card_child(service, recommendation).inc()
    for key, outcome in record.fhir_queries().items():
        FHIR_QUERIES.labels(key=key, outcome=outcome).inc()


def count_feedback(service: str, received: int, stored: int, unknown_cards: int = 0) -> None:
    FEEDBACK_RECEIVED.labels(service=service).inc(received)
    FEEDBACK_STORED.labels(service=service).inc(stored)
    FEEDBACK_UNKNOWN_CARD.labels(service=service).inc(unknown_cards)


def count_unrecorded_cards(reason: str, cards: int) -> None:
    ISSUED_UNRECORDED.labels(reason=reason).inc(cards)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format, of every worker in multiprocess mode."""
    directory = os.environ.get(MULTIPROC_VARIABLE)
    if not directory:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


_LIVE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db$")


def worker_started() -> None:
    """At a worker's start: the live-gauge files of workers that died without their shutdown
    (killed, crashed; uvicorn started this one in their place) are removed, so that their
    in-progress requests stop counting. Counters and histograms of dead workers stay: they
    are part of the totals."""
    directory = os.environ.get(MULTIPROC_VARIABLE)
    if not directory:
        return
    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _LIVE_FILE.search(path)
        if match and not alive(int(match.group(1))):
            mark_process_dead(int(match.group(1)), directory)  # type: ignore[no-untyped-call]


def worker_stopped() -> None:
    """At a worker's orderly shutdown: its live gauges no longer count."""
    directory = os.environ.get(MULTIPROC_VARIABLE)
    if directory:
        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]
