"""Property (SPEC-35): no change to a signed token verifies, unless it is no change at all.

Two kinds of tampering with a valid ES384 token, keeping its signature: (1) any edit of its
header or claims as JSON, re-encoded; (2) any single-character edit of the token text. The
strict parser (canonical base64url, no duplicate names) makes "equivalent" mean "identical":
a token has exactly one spelling, so the only mutation that may verify is the identity.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.security import JwtSettings, Rejected, TokenVerifier, TrustedClient
from tests.security.tokens import ISS, SERVICE_URL, Signer, bearer, claims, segment, write_jwks

NOW = 1_750_000_000.0
SIGNER = Signer.es384(kid="prop-1")
_FOLDER = tempfile.TemporaryDirectory()
VERIFIER = TokenVerifier(
    [
        TrustedClient(
            name="ehr", iss=ISS, jwks_file=write_jwks(Path(_FOLDER.name) / "k.json", SIGNER)
        )
    ],
    JwtSettings(),
    clock=lambda: NOW,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
header_names = st.sampled_from(["alg", "typ", "kid", "jku", "crit", "jwk", "b64"]) | st.text(
    max_size=8
)
claim_names = st.sampled_from(
    ["iss", "aud", "exp", "iat", "nbf", "jti", "tenant", "sub"]
) | st.text(max_size=8)


def _edit(names: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str, Any]]:
    return st.tuples(st.sampled_from(["set", "delete"]), names, json_values)


def _apply(value: dict[str, Any], edits: list[tuple[str, str, Any]]) -> dict[str, Any]:
    result = dict(value)
    for action, name, new in edits:
        if action == "set":
            result[name] = new
        else:
            result.pop(name, None)
    return result


def _verifies(token: str) -> bool:
    async def attempt() -> bool:
        try:
            await VERIFIER.verify(bearer(token), SERVICE_URL)
        except Rejected:
            return False
        return True

    return anyio.run(attempt)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header_edits=st.lists(_edit(header_names), max_size=3),
    claim_edits=st.lists(_edit(claim_names), max_size=3),
)
def test_spec35_edited_header_or_claims_never_verify(
    header_edits: list[tuple[str, str, Any]], claim_edits: list[tuple[str, str, Any]]
) -> None:
    header, payload = SIGNER.header(), claims(now=NOW)
    token = SIGNER.token(payload)
    signature = token.split(".")[2]
    edited_header = segment(_apply(header, header_edits))
    edited_payload = segment(_apply(payload, claim_edits))
    tampered = f"{edited_header}.{edited_payload}.{signature}"
    assert _verifies(tampered) == (tampered == token)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ "


@settings(max_examples=200, deadline=None)
@given(
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    action=st.sampled_from(["replace", "insert", "delete"]),
    char=st.sampled_from(_ALPHABET),
)
def test_spec35_one_character_edit_never_verifies(where: float, action: str, char: str) -> None:
    token = SIGNER.token(claims(now=NOW))
    at = int(where * len(token))
    if action == "replace":
        edited = token[:at] + char + token[at + 1 :]
    elif action == "insert":
        edited = token[:at] + char + token[at:]
    else:
        edited = token[:at] + token[at + 1 :]
    # Spaces around the token are not part of it (HTTP trims header values).
    assert _verifies(edited) == (edited.strip(" ") == token)
