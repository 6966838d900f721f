"""A site's own laboratory codes (decision-spec §7: antibodies often carry a lab's local code)
are configured without code changes, and are then searched for, not only recognised: the whole
antibody history arrives, so an old positive result beyond the latest-results window is seen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cds_service.http.app import create_app
from cds_service.services import clinical_registry
from cds_service.settings import Settings
from tests.conftest import TODAY, ConformantClient
from tests.fixtures.routine_labs import routine_labs
from tests.fixtures.worked_examples import LOCAL_LAB, worked_example
from tests.prefetch.fhir_server import FhirTestServer
from tests.test_worked_examples_http import advice, call

SITE_CODES = f"""
[systems]
stlab = ["{LOCAL_LAB}"]

[lists.antibodies]
source = "St Example laboratory catalogue, 2026: anti-infliximab antibody assays"
codes.stlab = ["IFXAB", "IFXABQ"]
"""


@pytest.fixture
def site_client(tmp_path: Path) -> Iterator[ConformantClient]:
    site_file = tmp_path / "site-codes.toml"
    site_file.write_text(SITE_CODES)
    settings = Settings(dev=True, mapping_file=site_file, feedback_database=tmp_path / "f.db")
    registry = clinical_registry(settings, today=lambda: TODAY)
    with ConformantClient(create_app(settings, registry)) as client:
        yield client


def test_s7_site_antibody_codes_are_searched_with_their_uri_as_written(
    site_client: ConformantClient,
) -> None:
    services = site_client.get("/cds-services").json()["services"]
    labs = services[0]["prefetch"]["labs"]
    assert f"{LOCAL_LAB}|IFXAB" in labs and f"{LOCAL_LAB}|IFXABQ" in labs


def _antibody_status(client: ConformantClient) -> tuple[str, str]:
    example = worked_example(8, today=TODAY)  # negative now, positive 3 years ago
    with FhirTestServer(
        [
            *example.resources,
            *routine_labs(example.patient_id, 120, newest=TODAY - timedelta(days=30)),
        ]
    ) as server:
        [card] = call(client, example, server, None)["cards"]
    statuses = {c["id"]: c["status"] for c in advice(card)["criteria"]}
    return advice(card)["recommendation"], statuses["antibodies"]


def test_s3_old_positive_beyond_window_is_unknown_without_site_codes(
    clinical: ConformantClient,
) -> None:
    assert _antibody_status(clinical) == ("insufficient-data", "unknown")


def test_s3_old_positive_beyond_window_found_with_site_codes(
    site_client: ConformantClient,
) -> None:
    assert _antibody_status(site_client) == ("continue-combination", "not-met")


def test_s8_site_order_code_reaches_the_service_request(tmp_path: Path) -> None:
    orders = tmp_path / "orders.toml"
    orders.write_text(
        '[orders.antibodies]\nsystem = "http://lab.example.org/orders"\ncode = "IFXAB"\n'
        'display = "Infliximab antibodies"\nsource = "site lab catalogue"\n'
    )
    settings = Settings(dev=True, order_catalogue=orders, feedback_database=tmp_path / "f.db")
    example = worked_example(7, today=TODAY)  # antibodies never tested: order trough + antibodies
    with (
        ConformantClient(
            create_app(settings, clinical_registry(settings, today=lambda: TODAY))
        ) as client,
        FhirTestServer(example.resources) as server,
    ):
        [card] = call(client, example, server, None)["cards"]
    codings = [
        coding
        for suggestion in card["suggestions"]
        for action in suggestion["actions"]
        for coding in action["resource"]["code"]["coding"]
    ]
    assert {
        "system": "http://lab.example.org/orders",
        "code": "IFXAB",
        "display": "Infliximab antibodies",
    } in codings
