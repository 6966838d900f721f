"""The conformance checker itself: each rule it enforces is shown to catch a violation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cds_service.protocol.conformance import check_discovery, check_response

GOOD_CARD: dict[str, Any] = {
    "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
    "summary": "Azathioprine withdrawal can be considered",
    "indicator": "info",
    "detail": "- trough: met, 11.5 mg/L on 2026-10-01 (Observation/1), threshold > 10 mg/L",
    "source": {"label": "aza-advisor", "url": "https://example.org/aza"},
    "selectionBehavior": "any",
    "suggestions": [
        {
            "label": "Remove the draft azathioprine order",
            "uuid": "e56e1945-20b3-4393-8503-a1a20fd73152",
            "actions": [
                {"type": "delete", "description": "Remove", "resourceId": "MedicationRequest/1"}
            ],
        }
    ],
    "overrideReasons": [{"code": "x", "system": "http://example.org/reasons", "display": "X"}],
    "links": [
        {"label": "SONIC", "url": "https://doi.org/10.1056/NEJMoa0904492", "type": "absolute"}
    ],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    card = copy.deepcopy(GOOD_CARD)
    target = card
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return {"cards": [card]}


def test_good_card_passes() -> None:
    assert check_response({"cards": [GOOD_CARD]}) == []
    assert check_response({"cards": []}) == []


@pytest.mark.parametrize(
    ("path", "value", "spec"),
    [
        ("detail", None, "SPEC-02"),
        ("links", [], "SPEC-02"),
        ("summary", "x" * 140, "SPEC-18"),
        ("indicator", "hard-stop", "SPEC-18"),
        ("source", {"url": "https://example.org"}, "SPEC-18"),
        ("detail", "<b>bold</b>", "SPEC-19"),
        ("detail", "| a | b |\n|---|---|", "SPEC-19"),
        ("selectionBehavior", KeyError, "SPEC-20"),
        ("suggestions.0.actions.0.resourceId", KeyError, "SPEC-22"),
        ("overrideReasons.0.display", KeyError, "SPEC-23"),
        ("links.0.type", "relative", "SPEC-24"),
        ("source.url", "/aza", "SPEC-25"),
        ("uuid", "not-a-uuid", "SPEC-26"),
        ("suggestions.0.uuid", KeyError, "SPEC-26"),
    ],
)
def test_checker_catches_violation(path: str, value: Any, spec: str) -> None:
    problems = check_response(with_change(path, value))
    assert any(problem.startswith(spec) for problem in problems), problems


def test_spec16_response_without_cards_rejected() -> None:
    assert check_response({}) == ["SPEC-16: response must be an object with a cards array"]


def test_spec27_system_actions_checked() -> None:
    problems = check_response({"cards": [], "systemActions": [{"type": "update"}]})
    assert any(problem.startswith("SPEC-27") for problem in problems)


def test_spec06_discovery_template_tokens() -> None:
    service = {"hook": "patient-view", "id": "x", "description": "d"}
    good = {**service, "prefetch": {"p": "Patient/{{context.patientId}}"}}
    bad = {**service, "prefetch": {"p": "Patient/{{Patient.id}}"}}
    assert check_discovery({"services": [good]}) == []
    assert check_discovery({"services": [bad]})[0].startswith("SPEC-06")
    assert check_discovery({"services": []}) == []
