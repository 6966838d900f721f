"""The orjson fast path of the strict JSON reader (issue 14) accepts exactly what the standard
library reader with our own checks accepts, and reads it to the same value; what it refuses, the
strict reader refuses with its own reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.protocol.json_text import MAX_NESTING, InvalidJson, _decode_strictly, decode_json

TEXTS = [
    b"{}",
    b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte order mark is tolerated
    b"NaN",
    b"[Infinity]",
    b"[-Infinity]",
    b"[1e400]",
    b"[-1e999]",
    b"[12345678901234567890]",  # below 2**64: orjson keeps it exact
    b"[123456789012345678901234567890]",  # beyond: the strict reader keeps it exact
    b'{"id": "00000000000000000000000001"}',  # a long digit run inside a string
    b'["\\ud800"]',
    b'["\\udc00"]',
    b'{"\\ud800": 1}',
    b'["\\ud83d\\ude00"]',
    b'["\xed\xa0\x80"]',  # a surrogate encoded raw
    b'["\xff"]',
    '{"a": "b"}'.encode("utf-16"),
    '{"a": "b"}'.encode("utf-32-le"),
    b'["a\x01"]',
    b"[1,]",
    b'{"a": 1, "a": 2}',
    b"[" * MAX_NESTING + b"]" * MAX_NESTING,
    b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1),
    b"[" * 2000 + b"]" * 2000,
    b'[{"a": "[[[["}]',
    b"",
    b" ",
]


def _outcome(read: object, text: bytes) -> tuple[str, object]:
    try:
        return "value", read(text)  # type: ignore[operator]
    except InvalidJson as refused:
        return "refused", refused.issue.diagnostics


@pytest.mark.parametrize("text", TEXTS)
def test_fast_path_agrees_with_the_strict_reader(text: bytes) -> None:
    assert _outcome(decode_json, text) == _outcome(
        lambda body: _decode_strictly(body, MAX_NESTING), text
    )


def test_big_integers_stay_exact() -> None:
    assert decode_json(b"[123456789012345678901234567890]") == [123456789012345678901234567890]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=30,
)


@given(_JSON, st.booleans())
def test_any_json_value_reads_the_same_both_ways(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert _outcome(decode_json, text) == _outcome(
        lambda body: _decode_strictly(body, MAX_NESTING), text
    )
