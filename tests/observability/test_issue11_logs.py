"""Issue 11, logs: a served process writes one JSON object per line, one audit `hook` event
per hook call with who called, what was asked and answered, and no PHI, no token, no JWT."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from cds_service.http.app import create_app
from cds_service.observability.payloads import REDACTED
from cds_service.prefetch import PREFETCH_TEMPLATES
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from tests.conftest import TODAY, check_wire
from tests.fixtures.worked_examples import worked_example
from tests.observability.served import (
    CLIENT,
    HOOK_PATH,
    ISS,
    SERVICE,
    serve_logged,
    served_env,
    trusted_ehr,
)
from tests.prefetch.fhir_server import FhirTestServer, ehr_prefetch
from tests.test_worked_examples_http import context_of

TOKEN = "opaque-fhir-access-token-3b9d"
EXAMPLE = worked_example(1, today=TODAY)  # withdrawal-candidate when all data is there
PATIENT = next(r for r in EXAMPLE.resources if r["resourceType"] == "Patient")
PHI = (
    PATIENT["name"][0]["family"],
    json.dumps(PATIENT["name"][0]["given"][0]),
    PATIENT["identifier"][0]["value"],
    PATIENT["birthDate"],
    EXAMPLE.patient_id,
    "ex01-",  # every other resource's id: nothing of the record is logged
)
AUDIT = "cds_service.audit"


def hook_body(
    hook_instance: str, *, fhir_server: str | None, prefetch: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": hook_instance,
        "context": context_of(EXAMPLE),
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        body["fhirAuthorization"] = {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "scope": "patient/*.read",
            "subject": "aza-advisor",
        }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def test_issue11_served_hook_calls_log_one_audit_event_each_without_phi(tmp_path: Path) -> None:
    with FhirTestServer(EXAMPLE.resources) as fhir:
        ehr = trusted_ehr(tmp_path, [fhir.base_url])
        prefetch = ehr_prefetch(fhir, PREFETCH_TEMPLATES, context_of(EXAMPLE))
        calls = {
            "prefetched-0001": hook_body(
                "prefetched-0001", fhir_server=fhir.base_url, prefetch=prefetch
            ),
            "fallback-0002": hook_body("fallback-0002", fhir_server=fhir.base_url),
            "no-data-0003": hook_body("no-data-0003", fhir_server=None),
        }
        jwts = []
        with serve_logged(tmp_path, env=served_env(ehr)) as served:
            statuses = {}
            for hook_instance, body in calls.items():
                headers = ehr.authorization(HOOK_PATH)
                jwts.append(headers["Authorization"].removeprefix("Bearer "))
                response = httpx.post(
                    served.base + HOOK_PATH, json=body, headers=headers, timeout=20
                )
                check_wire(response)
                statuses[hook_instance] = response.status_code
        assert {request.authorization for request in fhir.requests} == {f"Bearer {TOKEN}"}
    assert statuses == {"prefetched-0001": 200, "fallback-0002": 200, "no-data-0003": 412}

    text = served.output.decode()
    for secret in (*PHI, TOKEN, *jwts):
        assert secret not in text, secret
    records = served.records()  # every line is one JSON object
    assert all({"timestamp", "level", "logger", "event"} <= set(r) for r in records)
    assert all(r["timestamp"].endswith("Z") for r in records)  # ISO 8601, UTC
    events = {e["hookInstance"]: e for e in served.events(AUDIT, "hook")}
    assert len(served.events(AUDIT, "hook")) == len(events) == 3

    keys = set(PREFETCH_TEMPLATES)
    common = {"service": SERVICE, "hook": "patient-view", "client": CLIENT, "iss": ISS}
    prefetched, fallback, no_data = (events[h] for h in calls)
    for event in events.values():
        assert event.items() >= common.items(), event
        assert event["tenant"] is None
        assert event["policy"] == "seed-2026" and event["policy_version"]
        assert isinstance(event["latency_ms"], float)
    assert prefetched["status"] == 200
    assert prefetched["recommendations"] == ["withdrawal-candidate"]
    assert set(prefetched["prefetch_received"]) == set(prefetched["prefetch_used"]) == keys
    assert prefetched["fetched"] == [] and prefetched["fhir_queries"] == {}

    assert fallback["status"] == 200
    assert fallback["recommendations"] == ["withdrawal-candidate"]
    assert fallback["prefetch_received"] == fallback["prefetch_used"] == []
    assert set(fallback["fetched"]) == keys
    assert fallback["fhir_queries"] == {key: "ok" for key in keys}

    assert no_data["status"] == 412 and no_data["recommendations"] == []
    assert set(no_data["fhir_queries"].values()) == {"no-fhir-server"}
    assert set(no_data["missing_required"]) == {"medicationStatements", "medicationRequests"}


def test_issue11_served_without_clients_audits_no_caller(tmp_path: Path) -> None:
    with serve_logged(tmp_path, env=served_env()) as served:
        body = hook_body("dev-0001", fhir_server=None)
        response = httpx.post(served.base + HOOK_PATH, json=body, timeout=20)
        assert response.status_code == 412
        missing = httpx.post(served.base + "/cds-services/nope", json=body, timeout=20)
        assert missing.status_code == 404
    [event] = served.events(AUDIT, "hook")  # none for the unknown service: nothing is known
    assert event["client"] is event["iss"] is event["tenant"] is None
    assert event["status"] == 412 and event["hookInstance"] == "dev-0001"


def test_issue11_audit_event_for_a_4xx_after_the_service_was_found(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(dev=True, feedback_database=tmp_path / "feedback.sqlite3")
    app = create_app(settings, clinical_registry(settings, today=lambda: TODAY))
    caplog.set_level(logging.INFO, logger=AUDIT)
    with TestClient(app) as client:
        wrong_hook = {**hook_body("wrong-0001", fhir_server=None), "hook": "order-sign"}
        assert client.post(HOOK_PATH, json=wrong_hook).status_code == 400
        assert (
            client.post(
                HOOK_PATH, content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 400
        )
    first, second = (r.audit for r in caplog.records if r.name == AUDIT)  # type: ignore[attr-defined]
    assert first["status"] == 400 and first["hookInstance"] == "wrong-0001"
    assert first["hook"] == "order-sign" and first["service"] == SERVICE
    assert second["status"] == 400 and second["hookInstance"] is None  # unreadable body


def test_issue11_log_payloads_is_refused_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="log_payloads may only be set in dev mode"):
        Settings(dev=False, log_payloads=True)
    assert Settings(dev=True, log_payloads=True).log_payloads
    assert not Settings(dev=True).log_payloads


def test_issue11_log_payloads_logs_bodies_at_debug_without_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(dev=True, log_payloads=True, feedback_database=tmp_path / "f.sqlite3")
    app = create_app(settings, clinical_registry(settings, today=lambda: TODAY))
    caplog.set_level(logging.DEBUG, logger="cds_service.payloads")
    with FhirTestServer(EXAMPLE.resources) as fhir, TestClient(app) as client:
        prefetch = ehr_prefetch(fhir, PREFETCH_TEMPLATES, context_of(EXAMPLE))
        body = hook_body("payload-0001", fhir_server=fhir.base_url, prefetch=prefetch)
        body["extension"] = {"echo": TOKEN}  # an EHR quoting the token elsewhere
        assert client.post(HOOK_PATH, json=body).status_code == 200
    request, response = (r for r in caplog.records if r.name == "cds_service.payloads")
    assert request.levelno == response.levelno == logging.DEBUG
    logged = json.loads(request.payload)  # type: ignore[attr-defined]
    assert logged["fhirAuthorization"]["access_token"] == REDACTED
    assert logged["extension"] == {"echo": REDACTED}
    assert logged["hookInstance"] == "payload-0001"
    assert json.loads(response.payload)["cards"]  # type: ignore[attr-defined]
    assert TOKEN not in caplog.text and all(TOKEN not in str(vars(r)) for r in caplog.records)


def test_issue11_no_payload_logged_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(dev=True, feedback_database=tmp_path / "f.sqlite3")
    app = create_app(settings, clinical_registry(settings, today=lambda: TODAY))
    caplog.set_level(logging.DEBUG)
    with TestClient(app) as client:
        client.post(HOOK_PATH, json=hook_body("quiet-0001", fhir_server=None))
    assert not [r for r in caplog.records if r.name == "cds_service.payloads"]
