"""The access token is transient (SPEC-10), and the audit line says where data came from."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from cds_service.prefetch import PREFETCH_TEMPLATES, FetchSettings, resolve_prefetch
from tests.prefetch.fhir_server import Fault, FhirTestServer, ehr_prefetch
from tests.prefetch.records import CONTEXT, PATIENT_ID, TOKEN, small_record

pytestmark = pytest.mark.anyio

AUDIT_LOGGER = "cds_service.audit.prefetch"
DEV = FetchSettings(require_https=False, deadline_ms=300, request_timeout_ms=250)


async def resolve(fhir_server: str, prefetch: dict[str, Any] | None = None):
    return await resolve_prefetch(
        context=CONTEXT,
        prefetch=prefetch,
        fhir_server=fhir_server,
        access_token=TOKEN,
        settings=DEV,
        hook_instance="d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    )


@pytest.fixture
def ehr(fhir_server: FhirTestServer) -> FhirTestServer:
    fhir_server.add(*small_record())
    return fhir_server


def audit_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.audit for r in caplog.records if r.name == AUDIT_LOGGER]  # type: ignore[attr-defined]


@pytest.mark.parametrize("fault", [None, *Fault])
async def test_spec10_token_never_logged(
    ehr: FhirTestServer, caplog: pytest.LogCaptureFixture, fault: Fault | None
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    if fault is not None:
        ehr.fail("*", fault)

    result = await resolve(ehr.base_url)

    assert {r.authorization for r in ehr.requests} == {f"Bearer {TOKEN}"}  # it was used
    assert caplog.records  # something was logged, so the check below means something
    assert TOKEN not in caplog.text
    assert all(TOKEN not in repr(vars(record)) for record in caplog.records)
    assert TOKEN not in repr(result)


async def test_spec10_token_not_logged_when_connection_refused(
    closed_port_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    result = await resolve(closed_port_url)

    assert result.missing_required
    assert TOKEN not in caplog.text and TOKEN not in repr(result)
    assert all(TOKEN not in repr(vars(record)) for record in caplog.records)


async def test_audit_line_reports_sources_and_timings_per_key(
    ehr: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT, ["patient", "conditions"])
    prefetch["genetics"] = None
    ehr.fail("MedicationAdministration", Fault.ERROR_500)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    await resolve(ehr.base_url, prefetch)

    (record,) = audit_records(caplog)
    assert record["hookInstance"] == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    keys = record["keys"]
    assert set(keys) == set(PREFETCH_TEMPLATES)
    assert keys["patient"]["source"] == keys["conditions"]["source"] == "prefetch"
    assert keys["genetics"]["source"] == keys["genetics"]["prefetch"] == "null"
    assert keys["genetics"]["resources"] == keys["genetics"]["pages"] == 0
    assert keys["labs"]["source"] == "fetched" and keys["labs"]["prefetch"] == "absent"
    assert keys["labs"]["resources"] == 3 and keys["labs"]["pages"] == 1
    assert keys["medicationAdministrations"]["source"] == "failed"
    assert keys["medicationAdministrations"]["problem"] == "http-status"
    assert keys["medicationAdministrations"]["http_status"] == 500
    assert all(isinstance(k["ms"], float) for k in keys.values())
    assert record["missing_required"] == []
    # The message carries the same record as JSON, for plain-text handlers.
    (message,) = [r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER]
    assert json.loads(message.removeprefix("prefetch ")) == record


async def test_audit_line_holds_no_phi_of_ours(
    ehr: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    ehr.fail("Observation", Fault.ERROR_500)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    await resolve(ehr.base_url)

    (message,) = [r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER]
    assert PATIENT_ID not in message
    assert TOKEN not in message


async def test_issue11_audit_line_carries_the_failure_detail_sanitised(
    ehr: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The caller hears one sentence for every failure; the operator reads the precise one
    here: kind, status and the outcome's coded issue (never its words, issue 14: no PHI in
    logs), and what the EHR's prefetch reported."""
    ehr.fail("Observation", Fault.ERROR_500)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    forged = "x\n" + "INFO forged line\u2028" + "y" * 500
    prefetch = {
        "conditions": {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "timeout", "diagnostics": forged}],
        }
    }

    await resolve(ehr.base_url, prefetch)

    (record,) = audit_records(caplog)
    labs = record["keys"]["labs"]
    assert labs["problem"] == "http-status" and labs["http_status"] == 500
    assert labs["detail"] == "HTTP 500 (OperationOutcome: error exception)"
    # The EHR's and the server's own words are not kept (no PHI in logs): their coded issue is.
    note = record["keys"]["conditions"]["prefetch_note"]
    assert note == "OperationOutcome: error timeout"
    assert "forged" not in caplog.text and "internal error" not in caplog.text
    (message,) = [r.getMessage() for r in caplog.records if r.name == AUDIT_LOGGER]
    assert "\n" not in message and "\u2028" not in message
