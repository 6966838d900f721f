"""The wire models refuse to build what CDS Hooks forbids."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from cds_service.protocol import (
    Action,
    Card,
    CdsResponse,
    Discovery,
    HookRequest,
    Link,
    OverrideReason,
    Source,
    Suggestion,
)
from tests.conftest import hook_request

SOURCE = Source(label="aza-advisor")


def card(**fields: Any) -> Card:
    return Card.model_validate({"summary": "s", "indicator": "info", "source": SOURCE, **fields})


def test_spec18_summary_under_140() -> None:
    assert card(summary="x" * 139).summary
    with pytest.raises(ValidationError, match="139"):
        card(summary="x" * 140)


def test_spec18_indicator_restricted() -> None:
    with pytest.raises(ValidationError):
        card(indicator="hard-stop")


def test_spec20_suggestions_require_selection_behavior() -> None:
    suggestion = Suggestion(label="Order CRP")
    with pytest.raises(ValidationError, match="selectionBehavior"):
        card(suggestions=[suggestion])
    assert card(suggestions=[suggestion], selectionBehavior="any").suggestions


def test_spec21_several_recommended_need_any() -> None:
    both = [Suggestion(label="a", isRecommended=True), Suggestion(label="b", isRecommended=True)]
    with pytest.raises(ValidationError, match="any"):
        card(suggestions=both, selectionBehavior="at-most-one")


def test_spec22_delete_requires_resource_id() -> None:
    with pytest.raises(ValidationError, match="resourceId"):
        Action(type="delete", description="Remove the draft order")
    assert Action(type="delete", description="d", resourceId="MedicationRequest/1").resourceId


def test_spec22_create_requires_resource() -> None:
    with pytest.raises(ValidationError, match="resource"):
        Action(type="create", description="Order CRP")


def test_spec23_override_reason_needs_system_code_display() -> None:
    with pytest.raises(ValidationError):
        OverrideReason.model_validate({"code": "x", "system": "http://example.org"})
    reason = OverrideReason(code="x", system="http://example.org", display="Patient refused")
    assert card(overrideReasons=[reason]).overrideReasons


def test_spec24_app_context_only_on_smart_links() -> None:
    with pytest.raises(ValidationError, match="smart"):
        Link(label="l", url="https://example.org", type="absolute", appContext="x")
    assert Link(label="l", url="https://example.org", type="smart", appContext="x").appContext


def test_spec25_source_url_absolute() -> None:
    with pytest.raises(ValidationError, match="absolute"):
        Source(label="l", url="/relative")


def test_spec26_card_and_suggestion_uuids_always_set() -> None:
    wire = card(suggestions=[Suggestion(label="a")], selectionBehavior="any").wire()
    uuid.UUID(wire["uuid"])
    uuid.UUID(wire["suggestions"][0]["uuid"])


def test_spec02_no_null_or_empty_on_the_wire() -> None:
    extension = {"com.example": {"kept": 1, "dropped": None, "empty": [], "blank": ""}}
    wire = card(detail=None, links=[], extension=extension).wire()
    assert "detail" not in wire and "links" not in wire
    assert wire["extension"] == {"com.example": {"kept": 1}}


def test_spec02_empty_cards_array_is_kept() -> None:
    assert CdsResponse().wire() == {"cards": []}


def test_spec04_empty_discovery_keeps_services() -> None:
    assert Discovery().wire() == {"services": []}


def test_spec09_authorization_requires_fhir_server() -> None:
    auth = {"access_token": "secret-token", "token_type": "Bearer"}
    with pytest.raises(ValidationError, match="fhirServer"):
        HookRequest.model_validate(hook_request(fhirAuthorization=auth))


def test_spec09_token_type_must_be_bearer() -> None:
    auth = {"access_token": "t", "token_type": "MAC"}
    body = hook_request(fhirServer="https://fhir.example.org", fhirAuthorization=auth)
    with pytest.raises(ValidationError, match="Bearer"):
        HookRequest.model_validate(body)


def test_spec10_access_token_never_in_repr_or_errors() -> None:
    auth = {"access_token": "s3cr3t-token-value", "token_type": "Bearer"}
    request = HookRequest.model_validate(
        hook_request(fhirServer="https://fhir.example.org", fhirAuthorization=auth)
    )
    assert "s3cr3t-token-value" not in repr(request)
    assert request.access_token == "s3cr3t-token-value"
    with pytest.raises(ValidationError) as error:
        HookRequest.model_validate(hook_request(fhirAuthorization=auth))
    assert "s3cr3t-token-value" not in str(error.value)


def test_spec39_unknown_request_fields_tolerated() -> None:
    body = hook_request(extension={"com.example.x": 1}, somethingNew={"a": 1})
    assert HookRequest.model_validate(body).extension == {"com.example.x": 1}
