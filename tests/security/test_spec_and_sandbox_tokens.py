"""The shared CDS Hooks artifacts (SPEC-35/37): the spec's example token with its example JWKS,
and the public sandbox's JWKS. Both are static files, so nothing is fetched. Skipped, saying
so, when the shared folder is absent."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from cds_service.security import JwtSettings, Rejected, RejectReason, TokenVerifier, TrustedClient
from tests.conftest import ARTIFACTS, needs_artifacts
from tests.security.conftest import FakeClock
from tests.security.tokens import Signer, bearer, claims

pytestmark = [pytest.mark.anyio, needs_artifacts]

SPEC = ARTIFACTS / "spec-2.0.1-examples"
SANDBOX_JWKS = ARTIFACTS / "sandbox" / "sandbox-jwks-public.json"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"


def _part(token: str, index: int) -> dict[str, Any]:
    segment = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def _spec_token() -> tuple[str, dict[str, Any], dict[str, Any]]:
    token = (SPEC / "jwt-example-token.txt").read_text().strip()
    return token, _part(token, 0), _part(token, 1)


def _spec_verifier(clock: FakeClock) -> TokenVerifier:
    _, header, payload = _spec_token()
    client = TrustedClient(
        name="spec-example",
        iss=payload["iss"],
        jku=[header["jku"]],
        jwks_file=SPEC / "jwks-public.json",
        tenants=[payload["tenant"]],
    )
    return TokenVerifier([client], JwtSettings(), clock=clock)


async def test_spec37_spec_example_token_rejected_as_expired() -> None:
    token, _, payload = _spec_token()
    verifier = _spec_verifier(FakeClock())  # today: long after its 2015 exp
    with pytest.raises(Rejected) as caught:
        await verifier.verify(bearer(token), payload["aud"])
    assert caught.value.reason is RejectReason.EXPIRED
    assert verifier.jwks_fetches == 0


async def test_spec35_spec_example_token_verifies_at_its_iat() -> None:
    # Its signature really is valid for the example JWKS: only time refuses it.
    token, _, payload = _spec_token()
    verifier = _spec_verifier(FakeClock(payload["iat"]))
    caller = await verifier.verify(bearer(token), payload["aud"])
    assert (caller.client, caller.iss, caller.tenant) == (
        "spec-example",
        payload["iss"],
        payload["tenant"],
    )
    assert verifier.jwks_fetches == 0


async def test_spec32_spec_example_token_for_another_endpoint_rejected() -> None:
    token, _, payload = _spec_token()
    verifier = _spec_verifier(FakeClock(payload["iat"]))
    with pytest.raises(Rejected) as caught:
        await verifier.verify(bearer(token), "https://cds.example.org/cds-services/other")
    assert caught.value.reason is RejectReason.AUDIENCE


async def test_spec36_spec_example_token_with_its_jku_not_listed_rejected() -> None:
    token, _, payload = _spec_token()
    client = TrustedClient(
        name="spec-example", iss=payload["iss"], jwks_file=SPEC / "jwks-public.json"
    )
    verifier = TokenVerifier([client], JwtSettings(), clock=FakeClock(payload["iat"]))
    with pytest.raises(Rejected) as caught:
        await verifier.verify(bearer(token), payload["aud"])
    assert caught.value.reason is RejectReason.UNTRUSTED_JKU


def _sandbox_verifier(clock: FakeClock, jwks_file: Path = SANDBOX_JWKS) -> TokenVerifier:
    client = TrustedClient(
        name="cds-hooks-sandbox", iss=SANDBOX_ISS, jku=[SANDBOX_JKU], jwks_file=jwks_file
    )
    return TokenVerifier([client], JwtSettings(), clock=clock)


async def test_spec35_sandbox_jwks_loads_and_its_key_is_the_one_checked(clock: FakeClock) -> None:
    # A sandbox-shaped token (its kid, iss and jku) signed by a key that is not the sandbox's:
    # the sandbox key is found by kid, nothing is fetched, and only the signature fails.
    impostor = Signer.es384(kid=SANDBOX_KID)
    aud = "https://cds.example.org/cds-services/aza-withdrawal"
    token = impostor.token(claims(now=clock.now, iss=SANDBOX_ISS, aud=aud), {"jku": SANDBOX_JKU})
    verifier = _sandbox_verifier(clock)
    with pytest.raises(Rejected) as caught:
        await verifier.verify(bearer(token), aud)
    assert caught.value.reason is RejectReason.SIGNATURE
    assert verifier.jwks_fetches == 0


async def test_spec35_sandbox_shaped_token_verifies_with_a_matching_pinned_key(
    clock: FakeClock, tmp_path: Path
) -> None:
    # The same configuration shape, with a pinned JWKS whose key we hold: the path the
    # sandbox's real tokens take (static file, listed jku, no fetch) ends in acceptance.
    stand_in = Signer.es384(kid=SANDBOX_KID)
    pinned = tmp_path / "pinned.json"
    pinned.write_text(json.dumps(stand_in.jwks()))
    aud = "https://cds.example.org/cds-services/aza-withdrawal"
    token = stand_in.token(claims(now=clock.now, iss=SANDBOX_ISS, aud=aud), {"jku": SANDBOX_JKU})
    verifier = _sandbox_verifier(clock, pinned)
    caller = await verifier.verify(bearer(token), aud)
    assert caller.client == "cds-hooks-sandbox"
    assert verifier.jwks_fetches == 0


async def test_spec36_sandbox_token_with_an_unlisted_jku_rejected(clock: FakeClock) -> None:
    impostor = Signer.es384(kid=SANDBOX_KID)
    aud = "https://cds.example.org/cds-services/aza-withdrawal"
    token = impostor.token(
        claims(now=clock.now, iss=SANDBOX_ISS, aud=aud),
        {"jku": "https://attacker.example/.well-known/jwks.json"},
    )
    with pytest.raises(Rejected) as caught:
        await _sandbox_verifier(clock).verify(bearer(token), aud)
    assert caught.value.reason is RejectReason.UNTRUSTED_JKU
