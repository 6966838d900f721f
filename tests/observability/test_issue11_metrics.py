"""Issue 11, metrics: `/metrics` counts what was served, exactly, with several workers too.

The served test runs `serve --dev --workers 2` with a trusted client, spreads its calls over
fresh connections until both workers have served some (each worker writes its own files in
the multiprocess directory, named by its pid), and compares a scrape with what it sent. The
in-process tests (single-process mode, one registry for the whole test process) compare
deltas."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_service.http.app import create_app
from cds_service.prefetch import PREFETCH_TEMPLATES, FetchSettings
from cds_service.security import RejectReason, rejections
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from tests.conftest import TODAY, ConformantClient
from tests.observability.served import (
    HOOK_PATH,
    SERVICE,
    Served,
    serve_logged,
    served_env,
    trusted_ehr,
)
from tests.observability.test_issue11_logs import EXAMPLE, hook_body
from tests.prefetch.fhir_server import Fault, FhirTestServer, ehr_prefetch
from tests.test_worked_examples_http import context_of

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def total(scraped: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scraped.items() if n == name and wanted <= ls)


# --- several workers -------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def multiproc_dir(pid: int) -> Path:
    """The directory the served process made for its workers, read from a worker's
    environment (the parent's /proc environ is the one it was started with)."""
    for child in children(pid):
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        for entry in environ:
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return Path(entry.split(b"=", 1)[1].decode())
    raise AssertionError("no worker with PROMETHEUS_MULTIPROC_DIR")


def counting_pids(directory: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}


def feedback(card: str) -> dict[str, Any]:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}


def eventually(check: Callable[[], bool], seconds: float = 3.0) -> None:
    """A worker counts a request just after its last byte is sent: a scrape answered by the
    other worker at that instant may not see it yet."""
    until = time.monotonic() + seconds
    while not check() and time.monotonic() < until:
        time.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads worker pids in /proc")
def test_issue11_metrics_are_exact_with_two_workers(tmp_path: Path) -> None:
    args = ("--dev", "--workers", "2")
    with FhirTestServer(EXAMPLE.resources) as fhir:
        ehr = trusted_ehr(tmp_path, [fhir.base_url])
        prefetch = ehr_prefetch(fhir, PREFETCH_TEMPLATES, context_of(EXAMPLE))
        with serve_logged(tmp_path, args=args, env=served_env(ehr)) as served:
            directory = multiproc_dir(served.pid)
            statuses, cards = _calls(served, ehr, fhir, prefetch)
            discovery = 0
            while len(counting_pids(directory)) < 2 and discovery < 200:
                path = "/cds-services"
                headers = ehr.authorization(path)
                assert httpx.get(served.base + path, headers=headers).status_code == 200
                discovery += 1
            assert len(counting_pids(directory)) == 2, "one worker served every request"
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700  # private
            for probe in ("/healthz", "/readyz", "/metrics"):
                assert httpx.get(served.base + probe).status_code == 200  # no token needed

            def scrape() -> Samples:
                return samples(httpx.get(served.base + "/metrics").text)

            def complete(scraped: Samples) -> bool:
                return total(scraped, "aza_http_requests_total") == len(statuses) + discovery

            eventually(lambda: complete(scrape()))
            scraped = scrape()
    assert not directory.exists()  # removed with the server

    requests = "aza_http_requests_total"
    hook = {"endpoint": "hook", "service": SERVICE}
    assert value(scraped, requests, **hook, status="200") == 6
    assert value(scraped, requests, **hook, status="412") == 1
    assert value(scraped, requests, **hook, status="401") == 2
    assert value(scraped, requests, endpoint="hook", service="unknown", status="404") == 1
    assert value(scraped, requests, endpoint="feedback", service=SERVICE, status="200") == 2
    assert value(scraped, requests, endpoint="discovery", service="none", status="200") == (
        discovery
    )
    assert total(scraped, requests) == len(statuses) + discovery  # probes, scrapes: none
    latency = "aza_http_request_duration_seconds_count"
    assert value(scraped, latency, **hook, status="200") == 6
    assert (
        value(scraped, "aza_http_request_duration_seconds_bucket", **hook, status="200", le="+Inf")
        == 6
    )

    for recommendation in set(cards):
        counted = value(scraped, "aza_cards_total", service=SERVICE, recommendation=recommendation)
        assert counted == cards.count(recommendation), recommendation
    assert total(scraped, "aza_cards_total") == len(cards) >= 6

    queries = "aza_fhir_queries_total"
    assert value(scraped, queries, key="conditions", outcome="ok") == 3
    assert value(scraped, queries, key="labs", outcome="ok") == 2
    assert value(scraped, queries, key="labs", outcome="http-status") == 1
    assert value(scraped, queries, key="labs", outcome="no-fhir-server") == 1
    audited = sum(
        len(e.get("fhir_queries", {})) for e in served.events("cds_service.audit", "hook")
    )
    assert total(scraped, queries) == audited

    assert value(scraped, "aza_jwt_rejections_total", reason="no-token") == 1
    assert value(scraped, "aza_jwt_rejections_total", reason="expired") == 1
    assert total(scraped, "aza_jwt_rejections_total") == 2
    assert value(scraped, "aza_feedback_items_received_total", service=SERVICE) == 4
    assert value(scraped, "aza_feedback_items_stored_total", service=SERVICE) == 3
    assert total(scraped, "aza_http_requests_in_progress") == 0


def _calls(
    served: Served, ehr: Any, fhir: FhirTestServer, prefetch: dict[str, Any]
) -> tuple[list[int], list[str]]:
    """The calls, each on a new connection; the statuses and the cards' recommendations."""
    statuses: list[int] = []
    cards: list[str] = []

    def post(path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        headers = ehr.authorization(path) if headers is None else headers
        response = httpx.post(served.base + path, json=body, headers=headers, timeout=20)
        statuses.append(response.status_code)
        return response

    for number in range(3):
        body = hook_body(f"prefetched-{number}", fhir_server=fhir.base_url, prefetch=prefetch)
        answer = post(HOOK_PATH, body).json()
        cards.extend(c["extension"]["aza-advisor"]["recommendation"] for c in answer["cards"])
    for number in range(3):
        if number == 2:
            fhir.fail("Observation", Fault.ERROR_500)
        answer = post(HOOK_PATH, hook_body(f"fallback-{number}", fhir_server=fhir.base_url)).json()
        cards.extend(c["extension"]["aza-advisor"]["recommendation"] for c in answer["cards"])
    post(HOOK_PATH, hook_body("no-data", fhir_server=None))
    post(HOOK_PATH, hook_body("no-token", fhir_server=None), headers={})
    now = int(time.time())
    expired = ehr.authorization(HOOK_PATH, iat=now - 120, exp=now - 60)
    post(HOOK_PATH, hook_body("expired", fhir_server=None), headers=expired)
    post("/cds-services/nope", hook_body("unknown", fhir_server=None))
    feedback_path = f"{HOOK_PATH}/feedback"
    post(feedback_path, {"feedback": [feedback("card-1"), feedback("card-2")]})
    post(feedback_path, {"feedback": [feedback("card-2"), feedback("card-3")]})  # one again
    assert statuses == [200] * 6 + [412, 401, 401, 404, 200, 200], statuses
    return statuses, cards


# --- one process (TestClient) ----------------------------------------------------------------


@pytest.fixture
def app_client(tmp_path: Path) -> Any:
    settings = Settings(
        dev=True,
        feedback_database=tmp_path / "feedback.sqlite3",
        fhir=FetchSettings(deadline_ms=300, request_timeout_ms=250, backstop_ms=50),
    )
    app = create_app(settings, clinical_registry(settings, today=lambda: TODAY))
    with ConformantClient(app) as client:
        yield client


def test_issue11_fallback_timeouts_and_connection_failures_are_counted(
    app_client: ConformantClient,
) -> None:
    before = samples(app_client.get("/metrics").text)
    with FhirTestServer(EXAMPLE.resources) as fhir:
        fhir.fail("Observation", Fault.HANG)
        assert (
            app_client.post(
                HOOK_PATH, json=hook_body("hang", fhir_server=fhir.base_url)
            ).status_code
            == 200
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/fhir"
    assert (
        app_client.post(HOOK_PATH, json=hook_body("refused", fhir_server=closed)).status_code == 412
    )
    after = samples(app_client.get("/metrics").text)

    def delta(**labels: str) -> float:
        return value(after, "aza_fhir_queries_total", **labels) - value(
            before, "aza_fhir_queries_total", **labels
        )

    assert delta(key="labs", outcome="timeout") == 1
    assert delta(key="conditions", outcome="ok") == 1
    assert delta(key="conditions", outcome="connection") == 1
    assert delta(key="medicationRequests", outcome="connection") == 1


def test_issue11_probes_and_scrapes_are_not_counted_and_labels_stay_bounded(
    app_client: ConformantClient,
) -> None:
    before = samples(app_client.get("/metrics").text)
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert app_client.get(probe).status_code == 200
    unchanged = samples(app_client.get("/metrics").text)
    requests = "aza_http_requests_total"
    assert total(unchanged, requests) == total(before, requests)

    for number in range(3):
        app_client.post(f"/cds-services/made-up-{number}", json={})
        app_client.get(f"/no/such/path/{number}")
    app_client.post(f"{HOOK_PATH}/feedback/extra", json={})
    after = samples(app_client.get("/metrics").text)
    unknown = {"endpoint": "hook", "service": "unknown", "status": "404"}
    assert value(after, requests, **unknown) - value(before, requests, **unknown) == 3
    other = {"endpoint": "other", "service": "none", "status": "404"}
    assert value(after, requests, **other) - value(before, requests, **other) == 4
    services = {dict(labels).get("service") for name, labels in after if name == requests}
    assert not any(s and s.startswith("made-up") for s in services)


def test_issue11_jwt_rejections_counted_once_per_refusal_however_many_apps(
    tmp_path: Path,
) -> None:
    for _ in range(2):  # two apps in one process: still one subscription
        create_app(Settings(dev=True, feedback_database=tmp_path / "f.sqlite3"))
    with ConformantClient(create_app(Settings(dev=True))) as client:
        before = samples(client.get("/metrics").text)
        rejections.note(RejectReason.REPLAYED)
        after = samples(client.get("/metrics").text)
    name = "aza_jwt_rejections_total"
    assert value(after, name, reason="replayed") - value(before, name, reason="replayed") == 1


def test_issue11_metrics_directory_is_fresh_private_and_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cds_service.observability.multiproc import VARIABLE, metrics_directory

    monkeypatch.delenv(VARIABLE, raising=False)
    with metrics_directory() as made:
        assert os.environ[VARIABLE] == str(made)
        assert stat.S_IMODE(made.stat().st_mode) == 0o700 and not any(made.iterdir())
        (made / "counter_1.db").write_bytes(b"")
    assert not made.exists() and VARIABLE not in os.environ
    given = tmp_path / "operator-metrics"
    monkeypatch.setenv(VARIABLE, str(given))
    with metrics_directory() as used:
        assert used == given and given.is_dir()
    assert given.is_dir()  # the operator's: kept


def test_issue11_directories_of_dead_servers_are_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from cds_service.observability import multiproc

    monkeypatch.delenv(multiproc.VARIABLE, raising=False)
    monkeypatch.setattr(multiproc.tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    abandoned = tmp_path / f"aza-advisor-metrics-{dead.stdout.strip()}-x1"
    running = tmp_path / f"aza-advisor-metrics-{os.getppid()}-x2"
    for path in (abandoned, running):
        path.mkdir()
        (path / "counter_1.db").write_bytes(b"")
    with multiproc.metrics_directory() as made:
        assert made.parent == tmp_path
    assert not abandoned.exists() and running.exists()


def test_issue11_served_process_removes_its_metrics_directory_on_sigterm(
    tmp_path: Path,
) -> None:
    """uvicorn raises SIGTERM again once it has shut down; the directory must go anyway."""
    with serve_logged(tmp_path, env=served_env()) as served:
        assert httpx.get(served.base + "/cds-services").status_code == 200
        pattern = f"aza-advisor-metrics-{served.pid}-*"
        assert len(list(Path(tempfile.gettempdir()).glob(pattern))) == 1
    assert not list(Path(tempfile.gettempdir()).glob(f"aza-advisor-metrics-{served.pid}-*"))
