"""Hostile JSON stays contained (issue 10, item 5 and item 7's non-standard JSON): every such
request is answered 400 with an OperationOutcome (checked for every response by the
ConformantClient), never 500, and nothing of it is stored. Log injection: test_log_injection."""

from __future__ import annotations

import codecs
import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.cards.extension import EXTENSION_KEY
from cds_service.feedback import FeedbackStore
from cds_service.http.body import MAX_NESTING, decode_json
from cds_service.protocol import BadRequest, FeedbackItem
from cds_service.storage import Database, ensure_schema
from tests.conftest import TODAY, ConformantClient, hook_request
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import FhirTestServer
from tests.test_fallback_http import URL as FALLBACK_URL
from tests.test_fallback_http import body as fallback_body

HOOK = "/cds-services/echo-patient-view"
FEEDBACK = f"{HOOK}/feedback"
JSON = {"content-type": "application/json"}
CLINICAL = "/cds-services/aza-withdrawal-patient-view"


def diagnostics(response: Any) -> str:
    return " ".join(issue["diagnostics"] for issue in response.json()["issue"])


def post(client: ConformantClient, url: str, body: bytes | str) -> Any:
    content = body.encode() if isinstance(body, str) else body
    return client.post(url, content=content, headers=JSON)


def feedback_item(**extra: Any) -> dict[str, Any]:
    return {
        "card": "c1",
        "outcome": "overridden",
        "outcomeTimestamp": "2026-11-22T10:00:00Z",
        **extra,
    }


def stored(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "feedback.sqlite3") as connection:
        (count,) = connection.execute("SELECT count(*) FROM feedback").fetchone()
    return int(count)


def nested(depth: int) -> str:
    """`depth` arrays inside one another: `[[[]]]` is 3."""
    return "[" * depth + "]" * depth


# --- item 5: nesting depth --------------------------------------------------------------------


def test_issue10_deep_nesting_is_400(client: ConformantClient, tmp_path: Path) -> None:
    deep = nested(100_000)
    hook = json.dumps(hook_request(extension={"x": 1})).replace("1}", deep + "}", 1)
    response = post(client, HOOK, hook)
    assert response.status_code == 400
    assert f"more than {MAX_NESTING} levels" in diagnostics(response)

    feedback = json.dumps({"feedback": [feedback_item(x=1)]}).replace("1}", deep + "}", 1)
    response = post(client, FEEDBACK, feedback)
    assert response.status_code == 400
    assert stored(tmp_path) == 0


def test_issue10_deep_nesting_unclosed_is_400(client: ConformantClient) -> None:
    response = post(client, HOOK, "[" * 1_000_000)
    assert response.status_code == 400


def test_issue10_deep_nesting_in_clinical_prefetch_is_400(clinical: ConformantClient) -> None:
    body = json.dumps(hook_request(prefetch={"patient": 1})).replace(
        '"patient": 1', f'"patient": {{"resourceType": "Patient", "x": {nested(5_000)}}}'
    )
    response = post(clinical, CLINICAL, body)
    assert response.status_code == 400


def test_issue10_nesting_up_to_the_limit_is_accepted(client: ConformantClient) -> None:
    # The body is one level, `extension` another: the array fills the rest.
    at_limit = json.dumps(hook_request(extension={"x": 1})).replace(
        "1}", nested(MAX_NESTING - 2) + "}", 1
    )
    assert post(client, HOOK, at_limit).status_code == 200
    over = at_limit.replace("[", "[[", 1).replace("]", "]]", 1)
    response = post(client, HOOK, over)
    assert response.status_code == 400
    assert f"more than {MAX_NESTING} levels" in diagnostics(response)


def test_issue10_brackets_inside_strings_do_not_count(client: ConformantClient) -> None:
    # Counted naively, the brackets in these strings would nest 400 deep.
    texts = ['[[[[\\"{{{{', "]]]]", '\\\\"[[[', "\\", "[" * 4] * 50
    assert post(client, HOOK, json.dumps(hook_request(extension={"x": texts}))).status_code == 200


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


TRICKY_TEXT = st.text(alphabet='[]{}"\\/:,ab\n\u00e9\U0001f600', max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES, ascii_only=st.booleans(), indent=st.sampled_from([None, 0, 2]))
def test_issue10_nesting_measured_exactly(value: Any, ascii_only: bool, indent: int | None) -> None:
    """The byte-level depth count agrees with the parsed structure's depth, strings holding
    brackets, quotes and backslashes included."""
    body = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    depth = depth_of(value)
    assert decode_json(body, max_nesting=depth) == value
    if depth > 0:
        with pytest.raises(BadRequest, match="levels deep"):
            decode_json(body, max_nesting=depth - 1)


# --- item 7: non-standard JSON ------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_issue10_non_standard_constants_are_400(
    client: ConformantClient, tmp_path: Path, constant: str
) -> None:
    hook = json.dumps(hook_request(extension={"x": 1})).replace("1}", constant + "}", 1)
    response = post(client, HOOK, hook)
    assert response.status_code == 400
    assert constant in diagnostics(response)

    feedback = json.dumps({"feedback": [feedback_item(x=1)]}).replace("1}", constant + "}", 1)
    assert post(client, FEEDBACK, feedback).status_code == 400
    assert stored(tmp_path) == 0


@pytest.mark.parametrize("literal", ["1e999", "-1e400"])
def test_issue10_number_overflowing_to_infinity_is_400(
    client: ConformantClient, literal: str
) -> None:
    hook = json.dumps(hook_request(extension={"x": 1})).replace("1}", literal + "}", 1)
    response = post(client, HOOK, hook)
    assert response.status_code == 400
    assert "too large" in diagnostics(response)


def test_issue10_ordinary_numbers_are_kept(client: ConformantClient) -> None:
    assert decode_json(b"[1, -0.5, 1e308, 2.5E-3, 12345678901234567890]") == [
        1,
        -0.5,
        1e308,
        0.0025,
        12345678901234567890,
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_issue10_utf16_and_utf32_bodies_are_400(
    client: ConformantClient, tmp_path: Path, encoding: str
) -> None:
    response = post(client, HOOK, json.dumps(hook_request()).encode(encoding))
    assert response.status_code == 400
    assert "UTF-8 (RFC 8259" in diagnostics(response)

    feedback = json.dumps({"feedback": [feedback_item()]}).encode(encoding)
    assert post(client, FEEDBACK, feedback).status_code == 400
    assert stored(tmp_path) == 0


def test_issue10_utf16_declared_in_charset_is_still_400(client: ConformantClient) -> None:
    body = json.dumps(hook_request()).encode("utf-16")
    headers = {"content-type": "application/json; charset=utf-16"}
    assert client.post(HOOK, content=body, headers=headers).status_code == 400


def test_issue10_invalid_utf8_is_400(client: ConformantClient) -> None:
    body = json.dumps(hook_request(extension={"x": "caf\u00e9"})).encode()
    response = post(client, HOOK, body.replace(b"\\u00e9", b"\xe9"))  # a Latin-1 e-acute
    assert response.status_code == 400
    assert "not valid UTF-8" in diagnostics(response)


def test_issue10_utf8_byte_order_mark_is_tolerated(client: ConformantClient) -> None:
    # RFC 8259 §8.1: a parser MAY ignore it; some EHR integration engines write one.
    body = codecs.BOM_UTF8 + json.dumps(hook_request()).encode()
    assert post(client, HOOK, body).status_code == 200


# --- item 5: text that is not Unicode -------------------------------------------------------


@pytest.mark.parametrize(
    "escape", ["\\ud800", "\\udfff", "\\uDC00\\uD800", "\\ud83d\\ud83d", "\\\\\\ud800"]
)
def test_issue10_lone_surrogate_in_unknown_feedback_field_is_400(
    client: ConformantClient, tmp_path: Path, escape: str
) -> None:
    body = json.dumps({"feedback": [feedback_item(note="x")]}).replace('"x"', f'"{escape}"')
    response = post(client, FEEDBACK, body)
    assert response.status_code == 400
    assert "surrogate" in diagnostics(response)
    assert stored(tmp_path) == 0


def test_issue10_lone_surrogate_in_a_key_or_hook_field_is_400(client: ConformantClient) -> None:
    key = json.dumps(hook_request(extension={"k": 1})).replace('"k"', '"\\ud800"')
    assert post(client, HOOK, key).status_code == 400
    instance = json.dumps(hook_request(hookInstance="x")).replace('"x"', '"\\udbff"')
    assert post(client, HOOK, instance).status_code == 400


def test_issue10_lone_surrogate_in_clinical_prefetch_is_400(clinical: ConformantClient) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"text": "x"}]}
    body = json.dumps(hook_request(prefetch={"patient": patient})).replace('"x"', '"\\ud800"')
    assert post(clinical, CLINICAL, body).status_code == 400


def test_issue10_surrogate_pairs_and_escaped_backslashes_are_accepted(
    client: ConformantClient, tmp_path: Path
) -> None:
    # An emoji as an ASCII-only encoder writes it, and a literal backslash before "ud800".
    texts = ('"\\ud83d\\ude00"', '"\\\\ud800"', '"\\\\\\\\ud800"')
    for number, text in enumerate(texts):
        item = feedback_item(card=f"c{number}", note="x")  # another card: not a resend
        body = json.dumps({"feedback": [item]}).replace('"x"', text)
        assert post(client, FEEDBACK, body).status_code == 200, text
    assert stored(tmp_path) == 3


def test_issue10_store_turns_encode_errors_into_400(tmp_path: Path) -> None:
    """Any other way such text reaches the store is a 400 too, with nothing stored."""
    database = Database(f"sqlite:///{tmp_path / 'direct.sqlite3'}")
    ensure_schema(database)
    store = FeedbackStore(database)
    good = FeedbackItem.model_validate(feedback_item())
    unknown_field = FeedbackItem.model_validate(feedback_item(note="\ud800"))
    known_field = good.model_copy(update={"card": "c\udfff"})  # no validation on copy
    for bad in (unknown_field, known_field):
        with pytest.raises(BadRequest, match="UTF-8"):
            anyio.run(store.save, "svc", [good, bad])
    with sqlite3.connect(tmp_path / "direct.sqlite3") as connection:
        assert connection.execute("SELECT count(*) FROM feedback").fetchone() == (0,)


def test_issue10_half_a_surrogate_pair_from_the_fhir_server_never_reaches_a_card(
    clinical: ConformantClient,
) -> None:
    """A FHIR answer whose CRP unit holds a lone `\ud800` escape is read as strictly as a
    request body: unreadable, its key unavailable and named on the card. It used to be read,
    and the half character travelled into the card's text ("unit 'mg/L\ud800'"), where a
    strict JSON reader on the EHR's side (or any UTF-8 encoding) fails on it."""
    example = worked_example(1, today=TODAY)
    resources = copy.deepcopy(example.resources)
    crp = next(r for r in resources if r.get("id") == "ex01-crp")
    crp["valueQuantity"]["unit"] = crp["valueQuantity"]["code"] = "mg/L\ud800"
    with FhirTestServer(resources) as fhir:
        response = clinical.post(FALLBACK_URL, json=fallback_body(fhir.base_url))
    assert response.status_code == 200
    cards = response.json()["cards"]
    assert cards
    recommendations = [card["extension"][EXTENSION_KEY]["recommendation"] for card in cards]
    assert "withdrawal-candidate" not in recommendations
    shown = json.dumps(cards)
    assert "\\ud800" not in shown
    assert "could not be obtained from the FHIR server" in shown
