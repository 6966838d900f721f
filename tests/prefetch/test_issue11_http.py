"""Issue 11 through the real app: the 412 body and the card read byte for byte the same whether
the FHIR server answers an OperationOutcome, a 500, a redirect, refuses the connection or hangs,
and none of its text ("SECRET...") or a redirect's Location reaches the caller."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cds_service.prefetch import PREFETCH_TEMPLATES
from tests.conftest import ConformantClient
from tests.prefetch.fhir_server import CannedAnswer, Fault, FhirTestServer, ehr_prefetch
from tests.test_fallback_http import EXAMPLE, TOKEN, URL, body
from tests.test_worked_examples_http import context_of

SECRET_OUTCOME = (
    b'{"resourceType": "OperationOutcome", "issue": [{"severity": "error", '
    b'"code": "processing", "diagnostics": "SECRET-DIAG-123"}]}'
)


Failing = Callable[[FhirTestServer], None]


def canned(answer: CannedAnswer) -> Failing:
    def configure(server: FhirTestServer) -> None:
        server.canned = answer

    return configure


def faulty(fault: Fault) -> Failing:
    def configure(server: FhirTestServer) -> None:
        server.fail("*", fault)

    return configure


FAILURES: dict[str, Failing | None] = {
    "operation-outcome": canned(CannedAnswer(200, SECRET_OUTCOME)),
    "500-body": canned(CannedAnswer(500, b"SECRET-BODY")),
    "redirect": canned(CannedAnswer(307, b"SECRET-BODY", {"Location": "http://SECRET-LOC/"})),
    "refused": None,  # the server is shut before the call
    "timeout": faulty(Fault.HANG),
}


@contextmanager
def failing_server(name: str, prefetch_keys: list[str] | None) -> Iterator[tuple[str, Any]]:
    """The FHIR server's URL failing as `name`, and the prefetch of `prefetch_keys` taken from
    it while it still worked (None: no prefetch)."""
    with FhirTestServer(EXAMPLE.resources) as server:
        prefetch = (
            None
            if prefetch_keys is None
            else ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(EXAMPLE), prefetch_keys)
        )
        failing = FAILURES[name]
        if failing is not None:
            failing(server)
            yield server.base_url, prefetch
            return
    yield server.base_url, prefetch  # shut: connecting is refused


def responses(clinical: ConformantClient, prefetch_keys: list[str] | None) -> dict[str, Any]:
    found = {}
    for name in FAILURES:
        with failing_server(name, prefetch_keys) as (url, prefetch):
            found[name] = clinical.post(URL, json=body(url, prefetch))
    return found


def without_uuids(answer: Any) -> Any:
    """The answer without the uuids of its cards and suggestions (new on every call)."""
    if isinstance(answer, dict):
        return {k: without_uuids(v) for k, v in answer.items() if k != "uuid"}
    if isinstance(answer, list):
        return [without_uuids(item) for item in answer]
    return answer


def test_issue11_412_body_is_identical_for_every_fhir_server_failure(
    clinical: ConformantClient,
) -> None:
    answers = responses(clinical, None)

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(FAILURES, 412)
    bodies = {r.content for r in answers.values()}
    assert len(bodies) == 1, {name: r.text for name, r in answers.items()}
    (text,) = {r.text for r in answers.values()}
    assert "SECRET" not in text and TOKEN not in text and "127.0.0.1" not in text
    diagnostics = answers["refused"].json()["issue"][0]["diagnostics"]
    assert "Medication orders could not be obtained from the FHIR server" in diagnostics


def test_issue11_card_is_identical_for_every_fhir_server_failure(
    clinical: ConformantClient,
) -> None:
    """Medications prefetched (no 412), the rest fails on the server: one card text."""
    keys = ["patient", "conditions", "medicationStatements", "medicationRequests"]
    answers = responses(clinical, keys)

    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(FAILURES, 200)
    cards = {name: json.dumps(without_uuids(r.json())) for name, r in answers.items()}
    assert len(set(cards.values())) == 1, cards
    for answer in answers.values():
        text = answer.text
        assert "SECRET" not in text and TOKEN not in text and "127.0.0.1" not in text
    [card] = answers["refused"].json()["cards"]
    assert "Laboratory results could not be obtained from the FHIR server" in card["detail"]
