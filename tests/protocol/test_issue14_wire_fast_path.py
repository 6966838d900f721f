"""Issue 14: `CdsResponse.wire()` lets orjson write answers holding nothing to drop or convert.

Whatever a card's free-form parts hold (null, empty values, NaN, dates, tuples, enums, keys
that are not strings, text that looks like an empty value), the answer is exactly what the
walk over the models gives (SPEC-02; test_response_wire.py holds the walk equal to pydantic's
serialiser), or the same refusal; and card and
suggestion UUIDs stay random version-4 UUIDs (SPEC-26).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.protocol import CdsResponse
from cds_service.protocol.response import (
    Action,
    Card,
    Source,
    Suggestion,
    _new_uuid,
    _plain_text,
    _wire_model,
    wire_json,
)


class _Colour(StrEnum):
    RED = "red"


class _Size(Enum):
    LARGE = 3.5


LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["null", '""', "[]", "{}", 'a\\"', "", "x"]),
    st.just(date(2026, 12, 2)),
    st.just(datetime(2026, 12, 2, 6, 45, tzinfo=UTC)),
    st.sampled_from([_Colour.RED, _Size.LARGE]),
)
KEYS = st.one_of(st.text(max_size=4), st.sampled_from(["", "null", _Colour.RED]), st.integers(0, 3))
JSON_LIKE = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(KEYS, inner, max_size=3),
    ),
    max_leaves=12,
)


def _card(extension: Any, resource: Any, detail: str | None) -> Card:
    card = Card(
        summary="s",
        indicator="info",
        detail=detail,
        source=Source(label="aza-advisor"),
        suggestions=[
            Suggestion(
                label="order", actions=[Action(type="create", description="d", resource={"r": 1})]
            )
        ],
        selectionBehavior="any",
    )
    card.extension = extension  # free-form parts as any code might leave them
    assert card.suggestions and card.suggestions[0].actions
    card.suggestions[0].actions[0].resource = resource
    return card


def _outcome(wire: Any) -> Any:
    try:
        return wire()
    except (ValueError, TypeError) as error:
        return type(error)


FREE_FORM = st.one_of(st.none(), st.dictionaries(KEYS, JSON_LIKE, max_size=4))


@given(FREE_FORM, FREE_FORM, st.sampled_from([None, "", "detail"]))
def test_issue14_wire_is_the_pydantic_serialiser_for_any_free_form_content(
    extension: Any, resource: Any, detail: str | None
) -> None:
    response = CdsResponse(cards=[_card(extension, resource, detail)])
    assert _outcome(response.wire) == _outcome(lambda: _wire_model(response))
    assert _outcome(response.wire_text) == _outcome(lambda: wire_json(_wire_model(response)))


def test_issue14_wire_refuses_non_finite_numbers_in_free_form_parts() -> None:
    for value in (math.nan, math.inf):
        with pytest.raises(ValueError):
            CdsResponse(cards=[_card({"k": [value]}, {"r": 1}, None)]).wire()


def test_issue14_wire_is_a_copy_sharing_nothing_with_the_cards() -> None:
    card = _card({"k": {"v": [1]}}, {"r": 1}, "d")
    wire = CdsResponse(cards=[card]).wire()
    wire["cards"][0]["extension"]["k"]["v"].append(2)
    assert card.extension == {"k": {"v": [1]}}


def test_spec26_issue14_new_uuids_are_canonical_random_version_4() -> None:
    seen = {_new_uuid() for _ in range(2000)}
    assert len(seen) == 2000
    for text in seen:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_issue14_a_clean_answer_takes_orjson_and_equals_the_walk() -> None:
    response = CdsResponse(cards=[_card({"k": {"v": [1, 2.5, True, "x"]}}, {"r": "s"}, "d")])
    assert _plain_text(response) is not None
    assert response.wire() == _wire_model(response)
    assert _plain_text(CdsResponse()) is None  # `cards: []` is kept: the walk says so
