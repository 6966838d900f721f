"""The records the benchmarks send: one patient's history at a chosen size, as hook requests.

A record is worked example 1 of decision-spec §9 (a withdrawal candidate) plus a history of
infliximab trough, CRP and platelet results in mixed units (ug/mL, mg/dL, 10*3/uL), so unit
conversion, sorting, the medication chains and every card part run as in real use.

The prefetch is what each advertised template returns when run over the record
(`cds_service.offline.request_from_bundle`). With `ignore_count`, an EHR that ignores `_count`
sends every match: the `labs` and `recentLabs` keys then overlap, so a 2,000-resource record
makes about 3,900 prefetch entries (the issue's "sent whole" case).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cds_service.offline import request_from_bundle
from cds_service.prefetch import PREFETCH_TEMPLATES, render_template
from tests.fixtures.worked_examples import worked_example

TODAY = date(2026, 11, 22)
"""The evaluation date of every benchmark record (the served process gets it as
`AZA_EVALUATION_DATE`), so the answer is the same on any day the benchmark runs."""

PATIENT = "aza-ex01"
BASE_RECORD = 59
"""The patient-view record of the issue: 59 resources."""

_LABS = (("39803-2", 9.5, "ug/mL"), ("1988-5", 0.4, "mg/dL"), ("777-3", 280, "10*3/uL"))
_COUNT = re.compile(r"&_count=\d+")


def resources(size: int) -> list[dict[str, Any]]:
    """Worked example 1 grown to `size` resources with older lab results (newest first, at
    most ten years back, so the current results still decide)."""
    found = list(worked_example(1, today=TODAY).resources)
    spacing = max(1, min(30, 3650 // max(1, size)))
    index = 0
    while len(found) < size:
        index += 1
        loinc, value, unit = _LABS[len(found) % len(_LABS)]
        found.append(
            {
                "resourceType": "Observation",
                "id": f"history-{len(found)}",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "observation-category",
                                "code": "laboratory",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                "subject": {"reference": f"Patient/{PATIENT}"},
                "effectiveDateTime": (TODAY - timedelta(days=90 + spacing * index)).isoformat(),
                "valueQuantity": {
                    "value": value,
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            }
        )
    return found[:size]


def hook_request(size: int, *, ignore_count: bool = False) -> dict[str, Any]:
    """The patient-view request an EHR sends for a record of `size` resources, prefetched."""
    templates = {key: template.template for key, template in PREFETCH_TEMPLATES.items()}
    if ignore_count:
        templates = {key: _COUNT.sub("", template) for key, template in templates.items()}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources(size)],
    }
    return request_from_bundle(bundle, hook="patient-view", templates=templates)


def fallback_request(fhir_server: str) -> dict[str, Any]:
    """The same patient-view call with no prefetch: every key is queried on `fhir_server`."""
    request = hook_request(BASE_RECORD)
    del request["prefetch"]
    request["fhirServer"] = fhir_server
    return request


def prefetch_entries(request: dict[str, Any]) -> int:
    """How many resources the request's prefetch carries, counting each key's copy."""
    total = 0
    for value in request.get("prefetch", {}).values():
        if isinstance(value, dict):
            total += len(value.get("entry", [])) if value.get("resourceType") == "Bundle" else 1
    return total


def canned_answers(fhir_server: str) -> dict[str, tuple[int, bytes]]:
    """What the fallback of `fallback_request(fhir_server)` queries, each with the answer the
    tests' FHIR server gives for it (so both servers answer alike): every key's rendered
    template, and a read of each Medication of the record."""
    from tests.prefetch.fhir_server import FhirTestServer, RecordedRequest

    context = hook_request(BASE_RECORD)["context"]
    record = resources(BASE_RECORD)
    base_path = urlsplit(fhir_server).path.rstrip("/")
    targets = [
        f"{base_path}/{render_template(t.template, context)}" for t in PREFETCH_TEMPLATES.values()
    ]
    targets += [
        f"{base_path}/Medication/{r['id']}" for r in record if r["resourceType"] == "Medication"
    ]
    answers: dict[str, tuple[int, bytes]] = {}
    with FhirTestServer(record) as server:
        for target in targets:
            url = urlsplit(target)
            request = RecordedRequest(
                "GET",
                "/fhir" + url.path.removeprefix(base_path),
                parse_qs(url.query, keep_blank_values=True),
                None,
                None,
                0,
            )
            status, body = server.answer(request)
            # The test server's fullUrls name its own port: name the canned server instead.
            answers[target] = (status, body.replace(server.base_url.encode(), fhir_server.encode()))
    return answers
