"""The start-up warm-up (issue 14): one synthetic call per service before the first real one,
which is not a call: no audit line, no metric, no issued card, no network."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import func, select

from cds_service.http import warm_up
from cds_service.http.app import create_app
from cds_service.observability.audit import recommendation_codes
from cds_service.observability.metrics import exposition
from cds_service.protocol import CONTEXT_MODELS, CdsResponse, HookRequest
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry
from cds_service.rules import Recommendation
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from cds_service.storage import issued_cards
from tests.conftest import TODAY, ConformantClient, echo_service
from tests.observability.test_issue11_metrics import samples


def test_issue14_the_synthetic_record_reaches_a_full_card_for_every_hook() -> None:
    """The warm-up runs what a real call runs only if its record gets as far: every criterion
    evaluated and the withdrawal card, with its suggestions, rendered on the service's clock."""
    settings = Settings(dev=True)
    registry = clinical_registry(settings, today=lambda: TODAY)
    for descriptor in registry.discovery().services:
        service = registry.get(descriptor.id)
        assert service is not None and service.clock is not None
        request = warm_up.reference_request(TODAY, descriptor.hook, descriptor.prefetch or {})
        hook_request = HookRequest.model_validate(request)
        context = CONTEXT_MODELS[descriptor.hook].model_validate(hook_request.context)
        offline = httpx.AsyncClient(transport=httpx.MockTransport(warm_up.no_network))
        call = HookCall(descriptor.id, hook_request, context, offline)
        response = anyio.run(service.handler, call)
        assert recommendation_codes(response.cards) == [Recommendation.WITHDRAWAL_CANDIDATE]
        assert all(card.suggestions for card in response.cards)


def test_issue14_warm_up_is_not_a_call(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = tmp_path / "feedback.sqlite3"
    settings = Settings(dev=True, feedback_database=database)
    before = samples(exposition()[0].decode())
    with caplog.at_level(logging.INFO):
        app = create_app(settings, clinical_registry(settings, today=lambda: TODAY))
        with ConformantClient(app):
            pass  # start-up (with its warm-up) and shutdown only
    after = samples(exposition()[0].decode())
    counted = ("aza_http_requests_total", "aza_cards_total", "aza_fhir_queries_total")
    assert {k: v for k, v in after.items() if k[0] in counted} == {
        k: v for k, v in before.items() if k[0] in counted
    }
    assert not [r.name for r in caplog.records if r.name.startswith("cds_service.audit")]
    rows = app.state.database.run(
        lambda c: c.execute(select(func.count()).select_from(issued_cards)).scalar()
    )
    assert rows == 0


def test_issue14_services_without_a_clock_are_not_warmed(tmp_path: Path) -> None:
    """Test doubles (no clock) are never called behind a test's back."""
    calls: list[HookCall] = []
    echo = echo_service("echo-patient-view", "patient-view")

    async def handler(call: HookCall) -> CdsResponse:
        calls.append(call)
        return await echo.handler(call)

    registry = ServiceRegistry([RegisteredService(echo.descriptor, handler)])
    with ConformantClient(create_app(Settings(dev=True), registry)):
        pass
    assert calls == []


def test_issue14_a_failing_warm_up_does_not_refuse_the_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    echo = echo_service("echo-patient-view", "patient-view")

    async def handler(call: HookCall) -> CdsResponse:
        raise RuntimeError("a pipeline bug")

    registry = ServiceRegistry([RegisteredService(echo.descriptor, handler, clock=lambda: TODAY)])
    app = create_app(Settings(dev=True), registry)
    with caplog.at_level(logging.WARNING), ConformantClient(app) as client:
        assert client.get("/healthz").status_code == 200
    failed = "warm-up of echo-patient-view failed (RuntimeError)"
    assert any(failed in record.getMessage() for record in caplog.records)
