"""decision-spec §9 against a real `cds-service serve --dev` process, called as an EHR calls it:
discovery first, then each prefetch template advertised there rendered and run against the
EHR's FHIR server (a loopback test server), then the hook call with that prefetch."""

from __future__ import annotations

from datetime import date

import httpx

from cds_service.prefetch import Unrenderable, render_template
from tests.conftest import check_wire
from tests.fixtures.worked_examples import NUMBERS, worked_example
from tests.prefetch.fhir_server import FhirTestServer
from tests.test_worked_examples_http import assert_expected_card, context_of


def test_s9_all_worked_examples_served_as_an_ehr_calls(served: str) -> None:
    today = date.today()
    services = httpx.get(f"{served}/cds-services", timeout=5).json()["services"]
    by_hook = {service["hook"]: service for service in services}
    assert set(by_hook) == {"patient-view", "order-select", "order-sign"}
    for number in NUMBERS:
        example = worked_example(number, today=today)
        service = by_hook[example.hook]
        context = context_of(example)
        with FhirTestServer(example.resources) as server, httpx.Client(timeout=5) as ehr:
            prefetch = {}
            for key, template in service["prefetch"].items():
                query = render_template(template, context)
                assert not isinstance(query, Unrenderable), (key, query)
                prefetch[key] = ehr.get(f"{server.base_url}/{query}").json()
            body = {
                "hook": example.hook,
                "hookInstance": f"11111111-0000-4000-8000-{number:012d}",
                "fhirServer": server.base_url,
                "context": context,
                "prefetch": prefetch,
            }
            response = ehr.post(f"{served}/cds-services/{service['id']}", json=body)
        assert response.status_code == 200, (number, response.text)
        check_wire(response)
        assert_expected_card(example, response.json())
