"""Issue 10, item 1: when every FHIR request fails to connect or times out for a while,
/readyz says so (503, OperationOutcome) and the shared FHIR client is rebuilt."""

from __future__ import annotations

import time

from cds_service.http.app import create_app
from cds_service.prefetch import FetchSettings
from cds_service.prefetch.client import FallbackWatchdog
from cds_service.registry import ServiceRegistry
from cds_service.settings import Settings
from tests.conftest import ConformantClient, echo_service


def test_watchdog_trips_after_failures_over_time() -> None:
    now = [0.0]
    watchdog = FallbackWatchdog(3, 5.0, clock=lambda: now[0])
    for _ in range(5):
        watchdog.failed()
    assert watchdog.unready_reason() is None  # many failures, but not for long enough
    now[0] = 6.0
    watchdog.failed()
    assert watchdog.unready_reason() is not None
    watchdog.answered()
    assert watchdog.unready_reason() is None


def test_stuck_fallback_makes_readyz_503_and_rebuilds_the_client() -> None:
    fetch = FetchSettings(watchdog_failures=3, watchdog_seconds=0.5)
    settings = Settings(dev=True, fhir=fetch)
    registry = ServiceRegistry([echo_service("echo", "patient-view")])
    with ConformantClient(create_app(settings, registry)) as client:
        assert client.get("/readyz").status_code == 200
        app = client.app
        watchdog: FallbackWatchdog = app.state.fallback_watchdog  # type: ignore[attr-defined]
        first = app.state.http  # type: ignore[attr-defined]
        for _ in range(3):
            watchdog.failed()
        time.sleep(0.6)
        watchdog.failed()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "FHIR fallback unavailable" in response.text
        for _ in range(50):
            if app.state.http is not first:  # type: ignore[attr-defined]
                break
            time.sleep(0.02)
        assert app.state.http is not first  # type: ignore[attr-defined]
        watchdog.answered()
        assert client.get("/readyz").status_code == 200
