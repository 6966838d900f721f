"""Shared fixtures. `client` is a TestClient that checks every response it sees: hook and
discovery answers against the CDS Hooks conformance checker, errors for an OperationOutcome.
So conformance is asserted on every response of the suite, not only in dedicated tests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from cds_service.http.app import create_app
from cds_service.prefetch import FetchSettings
from cds_service.protocol import CdsResponse, ServiceDescriptor
from cds_service.protocol.conformance import check_discovery, check_response
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry
from cds_service.services import clinical_registry
from cds_service.settings import Settings

# The team's shared folder (CDS Hooks spec examples, hook contexts): `AZA_SHARED_DIR`, or the
# `shared` folder beside the repository. Tests that read it skip, saying so, when it is absent.
SHARED = Path(os.environ.get("AZA_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
ARTIFACTS = SHARED / "cds-hooks-artifacts"
needs_artifacts = pytest.mark.skipif(
    not ARTIFACTS.is_dir(),
    reason=f"CDS Hooks artifacts not found at {ARTIFACTS}: set AZA_SHARED_DIR to the shared folder",
)

_HOOK_PATH = re.compile(r"^/cds-services/[^/]+$")


class ConformantClient(TestClient):
    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        check_wire(response)
        return response


def check_wire(response: Response) -> None:
    """Assert what CDS Hooks (and our error contract) require of `response`."""
    method, path = response.request.method, response.request.url.path
    if response.status_code >= 400 and method != "OPTIONS":
        body = response.json()
        assert body.get("resourceType") == "OperationOutcome", body
        assert body["issue"], body
        assert "Traceback" not in response.text
    elif method == "POST" and _HOOK_PATH.match(path):
        assert check_response(response.json()) == []
    elif method == "GET" and path == "/cds-services":
        assert check_discovery(response.json()) == []


def echo_service(service_id: str, hook: str) -> RegisteredService:
    """A stand-in service that answers with no cards: protocol tests need no clinical logic."""

    async def handler(call: HookCall) -> CdsResponse:
        return CdsResponse()

    descriptor = ServiceDescriptor(
        id=service_id,
        hook=hook,
        title=f"Echo {hook}",
        description="Test double answering with no cards",
        prefetch={"patient": "Patient/{{context.patientId}}"},
    )
    return RegisteredService(descriptor=descriptor, handler=handler)


@pytest.fixture(autouse=True)
def _isolated_feedback_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app a test builds stores feedback under the test's own temporary directory."""
    monkeypatch.setenv("AZA_FEEDBACK_DATABASE", str(tmp_path / "feedback.sqlite3"))


TODAY = date.today()


def clinical_client(
    tmp_path_factory: pytest.TempPathFactory, **settings: Any
) -> Iterator[ConformantClient]:
    """The real app with the clinical services, evaluating on TODAY (the fixtures' date)."""
    database = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    configured = Settings(dev=True, feedback_database=database, **settings)
    registry = clinical_registry(configured, today=lambda: TODAY)
    with ConformantClient(create_app(configured, registry)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def clinical(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformantClient]:
    yield from clinical_client(tmp_path_factory)


@pytest.fixture(scope="module")
def unhurried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConformantClient]:
    """`clinical` with a fallback deadline a loaded machine cannot miss, for tests that compare
    fallback with prefetch (tests/prefetch/test_deadline.py is where the deadline is tested)."""
    yield from clinical_client(tmp_path_factory, fhir=FetchSettings(deadline_ms=10_000))


@pytest.fixture
def settings() -> Settings:
    return Settings(dev=True)


@pytest.fixture
def registry() -> ServiceRegistry:
    return ServiceRegistry(
        echo_service(f"echo-{hook}", hook)
        for hook in ("patient-view", "order-select", "order-sign")
    )


@pytest.fixture
def client(settings: Settings, registry: ServiceRegistry) -> Iterator[ConformantClient]:
    app = create_app(settings, registry)
    with ConformantClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def hook_request(hook: str = "patient-view", **overrides: Any) -> dict[str, Any]:
    """A minimal valid request body for `hook`."""
    context: dict[str, Any] = {"userId": "Practitioner/1", "patientId": "p1"}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {"resourceType": "Bundle", "entry": []}
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/1"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": context,
    }
    body.update(overrides)
    return body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_SERVED_LOGS: dict[int, Path] = {}


def served_output(process: subprocess.Popen[bytes]) -> bytes:
    """What a `serve_dev(capture=True)` process has written so far (all of it once it ended)."""
    return _SERVED_LOGS[process.pid].read_bytes()


@contextmanager
def serve_dev(
    cwd: Path,
    *,
    capture: bool = True,
    args: Sequence[str] = ("--dev",),
    env: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real `python -m cds_service serve --dev` process on a free loopback port, and its base
    URL. With `capture` its output goes to a file in `cwd`, read with `served_output(process)`
    (a pipe that nobody drains fills after a few dozen JSON log lines and then blocks the
    service); without, it is discarded. `args` replace `--dev` (e.g. production mode,
    `--workers 2`); `env` adds `AZA_*` variables."""
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AZA_")}
    environment["AZA_EVALUATION_DATE"] = TODAY.isoformat()  # the fixtures' date, across midnight
    if "--dev" not in args:
        del environment["AZA_EVALUATION_DATE"]  # a fixed date is refused outside dev mode
    environment.update(env or {})
    log = cwd / f"served-{port}.log"
    with log.open("wb") if capture else open(os.devnull, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cds_service", "serve", *args, "--port", str(port)],
            env=environment,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if capture:
        _SERVED_LOGS[process.pid] = log
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if process.poll() is not None:
                break  # it refused to start; the test reads why from its output
            try:
                httpx.get(f"{base}/healthz", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serve_dev(tmp_path) as (base, process):
        yield base
    assert b"DEVELOPMENT MODE" in served_output(process)
