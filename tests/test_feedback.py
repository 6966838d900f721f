"""Feedback (SPEC-28, SPEC-29) is stored durably before the EHR gets its answer."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ARTIFACTS, ConformantClient, needs_artifacts

URL = "/cds-services/echo-patient-view/feedback"
EXAMPLES = sorted((ARTIFACTS / "spec-2.0.1-examples").glob("feedback-*.json"))


def stored_rows(tmp_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as connection:
        return connection.execute(
            "SELECT service_id, card_uuid, outcome, item_json FROM feedback"
        ).fetchall()


@needs_artifacts
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_spec28_feedback_example_stored_before_answer(
    client: ConformantClient, tmp_path: Path, example: Path
) -> None:
    body = json.loads(example.read_text())
    response = client.post(URL, json=body)
    assert response.status_code == 200
    assert response.json() == {"received": 1, "stored": 1}
    [(service, card, outcome, item_json)] = stored_rows(tmp_path)
    assert (service, card, outcome) == (
        "echo-patient-view",
        body["feedback"][0]["card"],
        body["feedback"][0]["outcome"],
    )
    assert json.loads(item_json)["outcomeTimestamp"].startswith(
        body["feedback"][0]["outcomeTimestamp"][:19]
    )


@needs_artifacts
def test_spec29_feedback_resent_is_recorded_once(client: ConformantClient, tmp_path: Path) -> None:
    body = json.loads((ARTIFACTS / "spec-2.0.1-examples/feedback-accepted.json").read_text())
    assert client.post(URL, json=body).json() == {"received": 1, "stored": 1}
    assert client.post(URL, json=body).json() == {"received": 1, "stored": 0}
    assert len(stored_rows(tmp_path)) == 1


def test_spec29_batch_with_unknown_cards_accepted(client: ConformantClient, tmp_path: Path) -> None:
    items = [
        {
            "card": f"unknown-{n}",
            "outcome": "overridden",
            "outcomeTimestamp": "2026-11-22T10:00:00Z",
        }
        for n in range(3)
    ]
    assert client.post(URL, json={"feedback": items}).json() == {"received": 3, "stored": 3}
    assert len(stored_rows(tmp_path)) == 3


def test_spec28_malformed_feedback_400_and_nothing_stored(
    client: ConformantClient, tmp_path: Path
) -> None:
    body = {"feedback": [{"card": "c1", "outcome": "accepted", "outcomeTimestamp": "x"}]}
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert "acceptedSuggestions" in response.text or "outcomeTimestamp" in response.text
    assert stored_rows(tmp_path) == []


def test_spec28_feedback_for_unknown_service_404(client: ConformantClient) -> None:
    body = {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-01-01"}]}
    assert client.post("/cds-services/nope/feedback", json=body).status_code == 404


_ACCEPTED = {
    "card": "c0ffee00-0000-4000-8000-000000000001",
    "outcome": "accepted",
    "acceptedSuggestions": [{"id": "s-1"}, {"id": "s-2"}],
    "outcomeTimestamp": "2026-11-22T10:00:00Z",
}


@pytest.mark.parametrize(
    "resent",
    [
        {**_ACCEPTED, "outcomeTimestamp": "2026-11-22T11:00:00+01:00"},
        {**_ACCEPTED, "acceptedSuggestions": [{"id": "s-2"}, {"id": "s-1"}]},
        {**_ACCEPTED, "vendorTrackingId": "abc"},
    ],
    ids=["other-utc-offset", "suggestions-reordered", "extra-field"],
)
def test_issue10_feedback_identity_by_meaning_not_bytes(
    client: ConformantClient, tmp_path: Path, resent: dict[str, Any]
) -> None:
    assert client.post(URL, json={"feedback": [_ACCEPTED]}).json()["stored"] == 1
    assert client.post(URL, json={"feedback": [resent]}).json() == {"received": 1, "stored": 0}
    assert len(stored_rows(tmp_path)) == 1


@pytest.mark.parametrize(
    "other",
    [
        {**_ACCEPTED, "outcomeTimestamp": "2026-11-22T10:00:01Z"},
        {**_ACCEPTED, "acceptedSuggestions": [{"id": "s-1"}]},
        {**_ACCEPTED, "card": "c0ffee00-0000-4000-8000-000000000002"},
    ],
    ids=["another-instant", "other-suggestions", "another-card"],
)
def test_issue10_feedback_with_another_meaning_is_stored(
    client: ConformantClient, tmp_path: Path, other: dict[str, Any]
) -> None:
    client.post(URL, json={"feedback": [_ACCEPTED]})
    assert client.post(URL, json={"feedback": [other]}).json()["stored"] == 1
    assert len(stored_rows(tmp_path)) == 2
