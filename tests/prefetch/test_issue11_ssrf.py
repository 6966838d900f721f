"""Issue 11 (SSRF): the fallback fetches only from a trusted fhirServer, follows no redirect,
and tells the caller nothing about the target it could use to scan ports or read error pages.

`may_fetch=False` is what the protocol layer passes when the request's fhirServer is not one of
the caller's FHIR servers: then nothing is contacted and the prefetch alone serves. In every
mode, all failures of the FHIR server read the same to the caller (descriptions, 412 reasons);
the precise kind stays on the result as data and in the audit line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cds_service.prefetch import (
    PREFETCH_TEMPLATES,
    Failure,
    FetchSettings,
    KeySource,
    PrefetchResult,
    resolve_prefetch,
)
from cds_service.prefetch import resolve as resolve_module
from cds_service.protocol import PreconditionFailed
from tests.prefetch.fhir_server import CannedAnswer, Fault, FhirTestServer, ehr_prefetch
from tests.prefetch.records import CONTEXT, PATIENT_ID, TOKEN, small_record

pytestmark = pytest.mark.anyio

DEV = FetchSettings(require_https=False, deadline_ms=3000, request_timeout_ms=1500)
REQUIRED = ("medicationStatements", "medicationRequests")
UNTRUSTED = "fhirServer is not a FHIR server this service may query for the caller"
AUDIT_LOGGER = "cds_service.audit.prefetch"


def unobtainable(key: str) -> str:
    label = PREFETCH_TEMPLATES[key].label
    return f"{label[:1].upper()}{label[1:]} could not be obtained from the FHIR server"


# What the caller reads when no key could be obtained, whatever the FHIR server did.
EVERY_KEY_UNOBTAINABLE = tuple(unobtainable(key) for key in PREFETCH_TEMPLATES)


async def resolve(fhir_server: str | None, **overrides: Any) -> PrefetchResult:
    arguments: dict[str, Any] = {
        "context": CONTEXT,
        "prefetch": None,
        "fhir_server": fhir_server,
        "access_token": TOKEN,
        "settings": DEV,
    }
    arguments.update(overrides)
    return await resolve_prefetch(**arguments)


def precondition_text(result: PrefetchResult) -> str:
    """The 412 OperationOutcome's diagnostics, as the protocol layer builds it."""
    error = PreconditionFailed.missing(result.missing_required, result.problem_descriptions())
    return " ".join(issue.diagnostics for issue in error.issues)


@pytest.fixture
def ehr(fhir_server: FhirTestServer) -> FhirTestServer:
    fhir_server.add(*small_record())
    return fhir_server


@pytest.fixture
def no_client_made(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt of the resolver to open its own HTTP client fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        raise AssertionError("an HTTP client was created although nothing may be fetched")

    monkeypatch.setattr(resolve_module, "new_fhir_client", refuse)


def refusing_transport() -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"a request was sent although nothing may be fetched: {request}")

    return httpx.MockTransport(handle)


# --- may_fetch=False: nothing contacted, prefetch alone -----------------------------------------


@pytest.mark.usefixtures("no_client_made")
async def test_issue11_untrusted_fhir_server_is_never_contacted(ehr: FhirTestServer) -> None:
    result = await resolve(ehr.base_url, may_fetch=False)

    assert ehr.connections == 0 and ehr.requests == []
    assert {o.source for o in result.per_key.values()} == {KeySource.FAILED}
    assert {o.problem.kind for o in result.per_key.values() if o.problem} == {
        Failure.UNTRUSTED_FHIR_SERVER
    }
    assert result.missing_required == REQUIRED  # so the protocol layer answers 412
    assert result.per_key["medicationRequests"].describe() == (
        f"Medication orders could not be fetched: {UNTRUSTED}"
    )
    shown = precondition_text(result) + "\n".join(result.problem_descriptions())
    host_and_port = ehr.base_url.removeprefix("http://").removesuffix("/fhir")
    assert ehr.base_url not in shown and host_and_port not in shown
    assert TOKEN not in repr(result)


async def test_issue11_untrusted_fhir_server_not_contacted_through_the_callers_client(
    ehr: FhirTestServer,
) -> None:
    async with httpx.AsyncClient(transport=refusing_transport()) as client:
        result = await resolve(ehr.base_url, may_fetch=False, client=client)

    assert result.missing_required == REQUIRED
    assert ehr.connections == 0


@pytest.mark.usefixtures("no_client_made")
async def test_issue11_untrusted_fhir_server_served_from_the_prefetch(ehr: FhirTestServer) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    ehr.connections = 0
    trusted = await resolve(ehr.base_url, prefetch=prefetch, may_fetch=True)
    untrusted = await resolve(ehr.base_url, prefetch=prefetch, may_fetch=False)

    assert ehr.connections == 0
    assert untrusted.problems() == () and untrusted.missing_required == ()
    assert untrusted.resources == trusted.resources
    assert {o.source for o in untrusted.per_key.values()} == {KeySource.PREFETCH}


@pytest.mark.usefixtures("no_client_made")
async def test_issue11_untrusted_server_prefetch_with_next_link_kept_and_named_incomplete(
    ehr: FhirTestServer,
) -> None:
    ehr.page_size = 1
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT, ["labs"])
    first = httpx.get(f"{ehr.base_url}/Observation", params={"patient": PATIENT_ID, "_count": 1})
    prefetch["labs"] = first.json()
    assert any(link["relation"] == "next" for link in prefetch["labs"]["link"])
    ehr.connections, ehr.requests[:] = 0, []

    result = await resolve(ehr.base_url, prefetch=prefetch, may_fetch=False)

    labs = result.per_key["labs"]
    assert labs.source is KeySource.PREFETCH and labs.resource_count == 1
    assert labs.describe() == (
        f"Laboratory results may be incomplete: next page not read: {UNTRUSTED}"
    )
    assert ehr.connections == 0


@pytest.mark.usefixtures("no_client_made")
async def test_issue11_untrusted_server_referenced_medications_not_read(
    ehr: FhirTestServer,
) -> None:
    prefetch = ehr_prefetch(ehr, PREFETCH_TEMPLATES, CONTEXT)
    reference = {
        "resourceType": "MedicationRequest",
        "id": "rx-ref",
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "Medication/m-1"},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    prefetch["medicationRequests"].setdefault("entry", []).append({"resource": reference})
    ehr.connections = 0

    result = await resolve(ehr.base_url, prefetch=prefetch, may_fetch=False)

    medications = result.per_key["referencedMedications"]
    assert medications.problem is not None
    assert medications.problem.kind is Failure.UNTRUSTED_FHIR_SERVER
    assert result.missing_required == ()
    assert ehr.connections == 0


async def test_issue11_missing_fhir_server_is_named_as_missing_even_when_untrusted() -> None:
    result = await resolve(None, may_fetch=False)

    assert {o.problem.kind for o in result.per_key.values() if o.problem} == {
        Failure.NO_FHIR_SERVER
    }


# --- no redirect is ever followed ----------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[FhirTestServer]:
    """Another origin, holding the patient's data, that must never be reached."""
    with FhirTestServer(small_record()) as server:
        yield server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("follows_by_default", [False, True])
async def test_issue11_redirect_to_another_origin_is_not_followed(
    fhir_server: FhirTestServer,
    elsewhere: FhirTestServer,
    caplog: pytest.LogCaptureFixture,
    status: int,
    follows_by_default: bool,
) -> None:
    """Even on a caller's client that would follow redirects: every request says not to."""
    location = f"{elsewhere.base_url}/Patient/{PATIENT_ID}?mark=LOCATION-MARK"
    fhir_server.canned = CannedAnswer(status, b"", {"Location": location})
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    async with httpx.AsyncClient(follow_redirects=follows_by_default) as client:
        result = await resolve(fhir_server.base_url, client=client)

    assert fhir_server.requests, "the allowlisted server was asked"
    assert elsewhere.connections == 0 and elsewhere.requests == []
    assert {(o.problem.kind, o.problem.http_status) for o in result.problems() if o.problem} == {
        (Failure.REDIRECT, status)
    }
    assert result.problem_descriptions() == EVERY_KEY_UNOBTAINABLE
    shown = precondition_text(result) + "\n".join(result.problem_descriptions())
    assert "LOCATION-MARK" not in shown and elsewhere.base_url not in shown
    # Nor in our audit line (httpcore's own DEBUG trace logs response headers: keep it off).
    assert "LOCATION-MARK" not in caplog.text and TOKEN not in caplog.text


# --- one text for every failure of the FHIR server ---------------------------------------------


def _outcome(diagnostics: str) -> bytes:
    return (
        b'{"resourceType": "OperationOutcome", "issue": [{"severity": "error", '
        b'"code": "processing", "diagnostics": "' + diagnostics.encode() + b'"}]}'
    )


async def test_issue14_server_naming_the_patient_does_not_put_it_in_the_log(
    fhir_server: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    """No PHI in logs: a server's diagnostics may name the patient, so the audit line keeps
    only the outcome's coded severity and issue type, never its words (nor details.text, nor
    a code that is not one of FHIR's)."""
    fhir_server.canned = CannedAnswer(
        404,
        b'{"resourceType": "OperationOutcome", "issue": [{"severity": "error", '
        b'"code": "not-found", "diagnostics": "No record for John Smith, MRN 5551234", '
        b'"details": {"text": "Smith", "coding": [{"code": "Smith-5551234"}]}}, '
        b'{"severity": "Smith", "code": "5551234"}]}',
    )
    caplog.set_level(logging.DEBUG)

    await resolve(fhir_server.base_url)

    assert "Smith" not in caplog.text and "5551234" not in caplog.text
    (record,) = [r.audit for r in caplog.records if r.name == AUDIT_LOGGER]  # type: ignore[attr-defined]
    assert record["keys"]["labs"]["detail"] == "HTTP 404 (OperationOutcome: error not-found)"


@dataclass(frozen=True)
class Mode:
    """One way for the FHIR server to fail, and the kind the result keeps for it."""

    name: str
    kind: Failure
    canned: CannedAnswer | None = None
    fault: Fault | None = None
    settings: FetchSettings = DEV


SECRET_OUTCOME = _outcome("SECRET-DIAG-123")
MODES = [
    Mode("operation-outcome", Failure.OPERATION_OUTCOME, CannedAnswer(200, SECRET_OUTCOME)),
    Mode("404-outcome", Failure.HTTP_STATUS, CannedAnswer(404, SECRET_OUTCOME)),
    Mode("401-outcome", Failure.HTTP_STATUS, CannedAnswer(401, SECRET_OUTCOME)),
    Mode("500-body", Failure.HTTP_STATUS, CannedAnswer(500, b"SECRET-BODY")),
    Mode("503-html", Failure.HTTP_STATUS, CannedAnswer(503, b"<h1>SECRET-BODY</h1>")),
    Mode("garbage", Failure.UNREADABLE, CannedAnswer(200, b"<html>SECRET-BODY</html>")),
    Mode("redirect", Failure.REDIRECT, CannedAnswer(302, b"", {"Location": "http://SECRET/"})),
    Mode(
        "too-large",
        Failure.TOO_LARGE,
        CannedAnswer(200, b'{"SECRET-BODY": "' + b"x" * 4096 + b'"}'),
        settings=DEV.model_copy(update={"max_answer_bytes": 1024}),
    ),
    Mode("reset", Failure.CONNECTION, fault=Fault.RESET),
    Mode(
        "request-timeout",
        Failure.TIMEOUT,
        fault=Fault.HANG,
        settings=DEV.model_copy(update={"deadline_ms": 2000, "request_timeout_ms": 200}),
    ),
    Mode(
        "deadline",
        Failure.TIMEOUT,
        fault=Fault.HANG,
        settings=DEV.model_copy(update={"deadline_ms": 300, "request_timeout_ms": 5000}),
    ),
]


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
async def test_issue11_every_server_failure_reads_the_same_to_the_caller(
    fhir_server: FhirTestServer, caplog: pytest.LogCaptureFixture, mode: Mode
) -> None:
    if mode.canned is not None:
        fhir_server.canned = mode.canned
    if mode.fault is not None:
        fhir_server.fail("*", mode.fault)
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)

    result = await resolve(fhir_server.base_url, settings=mode.settings)

    assert result.problem_descriptions() == EVERY_KEY_UNOBTAINABLE
    assert precondition_text(result) == REFUSED_412
    assert "SECRET" not in repr(result.problem_descriptions()) + precondition_text(result)
    assert {o.problem.kind for o in result.problems() if o.problem} == {mode.kind}  # as data
    (record,) = [r.audit for r in caplog.records if r.name == AUDIT_LOGGER]  # type: ignore[attr-defined]
    assert {key["problem"] for key in record["keys"].values()} == {mode.kind.value}


REFUSED_412 = "required data unavailable: medicationStatements, medicationRequests; " + "; ".join(
    EVERY_KEY_UNOBTAINABLE
)


async def test_issue11_refused_connection_reads_the_same(closed_port_url: str) -> None:
    result = await resolve(closed_port_url)

    assert {o.problem.kind for o in result.problems() if o.problem} == {Failure.CONNECTION}
    assert result.problem_descriptions() == EVERY_KEY_UNOBTAINABLE
    assert precondition_text(result) == REFUSED_412


async def test_issue11_dns_failure_reads_the_same() -> None:
    def unresolvable(request: httpx.Request) -> httpx.Response:
        message = "[Errno -2] Name or service not known: SECRET-DNS"
        raise httpx.ConnectError(message, request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(unresolvable)) as client:
        result = await resolve("http://fhir.invalid/fhir", client=client)

    assert {o.problem.kind for o in result.problems() if o.problem} == {Failure.CONNECTION}
    assert result.problem_descriptions() == EVERY_KEY_UNOBTAINABLE
    assert "SECRET" not in precondition_text(result)


async def test_issue11_server_quoting_the_token_does_not_put_it_in_the_log(
    fhir_server: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    fhir_server.canned = CannedAnswer(401, _outcome(f"token {TOKEN} expired"))
    caplog.set_level(logging.DEBUG)

    result = await resolve(fhir_server.base_url)

    assert TOKEN not in caplog.text and TOKEN not in repr(result)
    (record,) = [r.audit for r in caplog.records if r.name == AUDIT_LOGGER]  # type: ignore[attr-defined]
    # The server's words are not kept at all (no PHI in logs): only its coded issue.
    assert record["keys"]["labs"]["detail"] == "HTTP 401 (OperationOutcome: error processing)"
