"""The verifier against the classic JWT attacks and the CDS Hooks rules (SPEC-30..37).

Keys come from a static JWKS file here (no network); fetching is tested in test_jwks_fetch.py.
Every refusal is checked for its reason, so a test cannot pass by failing for another cause.
"""

from __future__ import annotations

import json

import pytest

from cds_service.security import Caller, JwtSettings, Rejected, RejectReason, TokenVerifier
from tests.security.conftest import FakeClock, MakeVerifier
from tests.security.tokens import (
    ISS,
    OMIT,
    SERVICE_URL,
    Signer,
    b64url,
    bearer,
    claims,
    forge_hs256,
    segment,
    unsigned,
)

pytestmark = pytest.mark.anyio


async def rejected(
    verifier: TokenVerifier, authorization: str | None, aud: str = SERVICE_URL
) -> RejectReason:
    with pytest.raises(Rejected) as caught:
        await verifier.verify(authorization, aud)
    assert str(caught.value) == f"token rejected: {caught.value.reason}"
    return caught.value.reason


# --- accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize("signer_name", ["es_signer", "rs_signer"])
async def test_spec34_valid_es384_and_rs384_accepted(
    request: pytest.FixtureRequest, make_verifier: MakeVerifier, clock: FakeClock, signer_name: str
) -> None:
    signer: Signer = request.getfixturevalue(signer_name)
    verifier = make_verifier(fhir_servers=["https://fhir.example.org/r4"])
    token = signer.token(claims(now=clock.now))
    caller = await verifier.verify(bearer(token), SERVICE_URL)
    assert caller == Caller(
        client="ehr", iss=ISS, tenant=None, fhir_servers=("https://fhir.example.org/r4",)
    )


async def test_spec30_bearer_scheme_is_case_insensitive(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now))
    assert await make_verifier().verify(f"bearer  {token} ", SERVICE_URL)


async def test_spec31_typ_may_be_absent_and_extra_claims_pass(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    # Epic adds nbf (5 minutes before iat) and sub.
    payload = claims(now=clock.now, nbf=clock.now - 300, sub="client-id", tenant="t1")
    token = es_signer.token(payload, {"typ": OMIT})
    caller = await make_verifier().verify(bearer(token), SERVICE_URL)
    assert caller.tenant == "t1"


async def test_spec32_aud_array_containing_the_endpoint_accepted(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now, aud=["https://other.example", SERVICE_URL]))
    assert await make_verifier().verify(bearer(token), SERVICE_URL)


async def test_spec35_no_kid_with_a_single_key_of_the_type_is_tried(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    # The JWKS holds one EC and one RSA key: the token's alg picks the one EC key.
    token = es_signer.token(claims(now=clock.now), {"kid": OMIT})
    assert await make_verifier().verify(bearer(token), SERVICE_URL)


async def test_spec35_no_kid_with_two_keys_of_the_type_is_refused(
    make_verifier: MakeVerifier, es_signer: Signer, tmp_path, clock: FakeClock
) -> None:
    from tests.security.tokens import write_jwks

    other = Signer.es384(kid="other")
    verifier = make_verifier(jwks_file=write_jwks(tmp_path / "two.json", es_signer, other))
    token = es_signer.token(claims(now=clock.now), {"kid": OMIT})
    assert await rejected(verifier, bearer(token)) is RejectReason.UNKNOWN_KEY


async def test_spec37_iat_half_a_second_ahead_accepted(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    # The sandbox's clock runs up to 0.5 s ahead (notes, "sandbox as a client").
    token = es_signer.token(claims(now=clock.now, iat=clock.now + 0.5))
    assert await make_verifier().verify(bearer(token), SERVICE_URL)


# --- refused: the token as a whole ---------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "   "])
async def test_spec30_no_token_rejected(
    make_verifier: MakeVerifier, authorization: str | None
) -> None:
    assert await rejected(make_verifier(), authorization) is RejectReason.NO_TOKEN


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer not-a-jwt",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer ....",
        "Bearer e30.e30.e30 extra",
        "Bearer " + b64url(b"[1]") + ".e30.c2ln",
        "Bearer " + b64url(b'{"alg":"ES384","alg":"none"}') + ".e30.c2ln",
        "Bearer " + b64url(b"\xff\xfe") + ".e30.c2ln",
        "Bearer +/==.e30.c2ln",
        "Bearer " + "A" * 9000,
    ],
)
async def test_spec31_garbage_rejected_as_malformed(
    make_verifier: MakeVerifier, authorization: str
) -> None:
    assert await rejected(make_verifier(), authorization) is RejectReason.MALFORMED


async def test_spec31_non_canonical_base64_rejected(
    make_verifier: MakeVerifier, rs_signer: Signer, clock: FakeClock
) -> None:
    # A 256-byte RS384 signature leaves 2 unused bits in its last base64url character; setting
    # them decodes to the same signature. Refused, so one token has exactly one spelling.
    token = rs_signer.token(claims(now=clock.now))
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = token[:-1] + alphabet[alphabet.index(last) | 1]
    assert twin != token
    assert await rejected(make_verifier(), bearer(twin)) is RejectReason.MALFORMED


async def test_spec31_oversized_token_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now, padding="x" * 9000))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.MALFORMED


@pytest.mark.parametrize("typ", ["JOSE", "at+jwt", 1])
async def test_spec31_typ_other_than_jwt_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock, typ: object
) -> None:
    token = es_signer.token(claims(now=clock.now), {"typ": typ})
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.MALFORMED


async def test_spec31_crit_header_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now), {"crit": ["b64"], "b64": False})
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.MALFORMED


# --- refused: algorithm --------------------------------------------------------------------


async def test_spec33_alg_none_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = unsigned(es_signer.header(), claims(now=clock.now))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.ALGORITHM


@pytest.mark.parametrize("signer_name", ["es_signer", "rs_signer"])
async def test_spec33_hs256_with_public_key_rejected(
    request: pytest.FixtureRequest, make_verifier: MakeVerifier, clock: FakeClock, signer_name: str
) -> None:
    signer: Signer = request.getfixturevalue(signer_name)
    payload = claims(now=clock.now)
    secrets = [
        signer.key.as_bytes(private=False),  # the PEM, the classic confusion
        json.dumps(signer.public_jwk()).encode(),
    ]
    verifier = make_verifier()
    for secret in secrets:
        token = forge_hs256(signer.header(), payload, secret)
        assert await rejected(verifier, bearer(token)) is RejectReason.ALGORITHM


@pytest.mark.parametrize(
    "alg", ["HS384", "HS512", "ES256", "ES512", "RS256", "PS384", "EdDSA", "es384", None, 384]
)
async def test_spec33_other_algorithms_rejected_before_key_lookup(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock, alg: object
) -> None:
    # Signed by the trusted key, but the header names another alg: refused by name.
    header = {"alg": alg} if alg is not None else {"alg": OMIT}
    token = es_signer.token(claims(now=clock.now), header)
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.ALGORITHM


async def test_spec33_rs384_header_on_ec_signature_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, rs_signer: Signer, clock: FakeClock
) -> None:
    # alg RS384 with the EC key's kid: no RSA key has that kid.
    token = es_signer.token(claims(now=clock.now), {"alg": "RS384"})
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.UNKNOWN_KEY
    # alg RS384 with the RSA key's kid, but an EC signature: the signature fails.
    token = es_signer.token(claims(now=clock.now), {"alg": "RS384", "kid": rs_signer.kid})
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.SIGNATURE


# --- refused: issuer, key, signature -------------------------------------------------------


async def test_spec36_untrusted_iss_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    # Correctly signed by a key the service knows, but for an issuer it does not trust.
    token = es_signer.token(claims(now=clock.now, iss="https://attacker.example"))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.UNTRUSTED_ISSUER


async def test_spec36_iss_matched_exactly(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    verifier = make_verifier()
    for iss in (ISS + "/", ISS.upper(), " " + ISS):
        token = es_signer.token(claims(now=clock.now, iss=iss))
        assert await rejected(verifier, bearer(token)) is RejectReason.UNTRUSTED_ISSUER


async def test_spec35_unknown_kid_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now), {"kid": "not-in-the-set"})
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.UNKNOWN_KEY


async def test_spec35_key_of_another_signer_with_the_same_kid_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    impostor = Signer.es384(kid=es_signer.kid)
    token = impostor.token(claims(now=clock.now))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.SIGNATURE


async def test_spec35_tampered_payload_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now, tenant="t1"))
    header, _, signature = token.split(".")
    forged = f"{header}.{segment(claims(now=clock.now, tenant='t2'))}.{signature}"
    assert await rejected(make_verifier(), bearer(forged)) is RejectReason.SIGNATURE


async def test_spec35_empty_signature_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now))
    stripped = token.rsplit(".", 1)[0] + "."
    assert await rejected(make_verifier(), bearer(stripped)) is RejectReason.SIGNATURE


async def test_spec36_embedded_jwk_header_is_ignored(
    make_verifier: MakeVerifier, clock: FakeClock
) -> None:
    # A token that brings its own key: the key in the header is never used.
    attacker = Signer.es384(kid="ehr-es-1")
    token = attacker.token(claims(now=clock.now), {"jwk": attacker.public_jwk()})
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.SIGNATURE


# --- refused: claims -----------------------------------------------------------------------


async def test_spec32_wrong_aud_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    verifier = make_verifier()
    for aud in (
        "https://cds.example.org/cds-services/other-service",
        SERVICE_URL + "/",
        SERVICE_URL.upper(),
        "sand_man",
        ["https://other.example"],
        [],
    ):
        token = es_signer.token(claims(now=clock.now, aud=aud))
        assert await rejected(verifier, bearer(token)) is RejectReason.AUDIENCE


@pytest.mark.parametrize("aud", [None, 1, {"url": SERVICE_URL}, [SERVICE_URL, 1]])
async def test_spec32_aud_of_the_wrong_type_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock, aud: object
) -> None:
    token = es_signer.token(claims(now=clock.now, aud=aud))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.AUDIENCE


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "jti"])
async def test_spec31_missing_claim_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock, claim: str
) -> None:
    token = es_signer.token(claims(now=clock.now, **{claim: OMIT}))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.MISSING_CLAIM


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "1750000300"),
        ("iat", True),
        ("nbf", None),
        ("jti", ""),
        ("jti", 7),
        ("exp", 10**400),
        ("tenant", 5),
    ],
)
async def test_spec31_claim_of_the_wrong_type_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock, claim: str, value: object
) -> None:
    token = es_signer.token(claims(now=clock.now, **{claim: value}))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.MISSING_CLAIM


async def test_spec37_expired_rejected_after_leeway(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    verifier = make_verifier(settings=JwtSettings(leeway_seconds=5))
    payload = claims(now=clock.now - 100, exp=clock.now - 4)
    assert await verifier.verify(bearer(es_signer.token(payload)), SERVICE_URL)
    payload = claims(now=clock.now - 100, exp=clock.now - 6)
    assert await rejected(verifier, bearer(es_signer.token(payload))) is RejectReason.EXPIRED


async def test_spec37_iat_in_future_beyond_leeway_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now, iat=clock.now + 6))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.ISSUED_IN_FUTURE


async def test_spec37_nbf_in_future_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    token = es_signer.token(claims(now=clock.now, nbf=clock.now + 60))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.NOT_YET_VALID


async def test_spec37_old_iat_rejected_even_with_a_far_exp(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    # Minted 10 minutes ago with a one-day exp: a token kept for later use.
    token = es_signer.token(claims(now=clock.now - 600, exp=clock.now + 86_400))
    assert await rejected(make_verifier(), bearer(token)) is RejectReason.TOO_OLD


async def test_spec37_replayed_jti_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    verifier = make_verifier()
    token = es_signer.token(claims(now=clock.now))
    assert await verifier.verify(bearer(token), SERVICE_URL)
    assert await rejected(verifier, bearer(token)) is RejectReason.REPLAYED
    # The same jti in a freshly signed token is a replay too.
    again = es_signer.token(claims(now=clock.now, jti=json.loads(_payload(token))["jti"]))
    assert await rejected(verifier, bearer(again)) is RejectReason.REPLAYED


async def test_spec37_same_jti_from_two_issuers_is_not_a_replay(
    es_signer: Signer, tmp_path, clock: FakeClock
) -> None:
    from cds_service.security import TrustedClient
    from tests.security.tokens import write_jwks

    jwks = write_jwks(tmp_path / "jwks.json", es_signer)
    clients = [
        TrustedClient(name="a", iss="https://a.example", jwks_file=jwks),
        TrustedClient(name="b", iss="https://b.example", jwks_file=jwks),
    ]
    verifier = TokenVerifier(clients, JwtSettings(), clock=clock)
    for iss in ("https://a.example", "https://b.example"):
        token = es_signer.token(claims(now=clock.now, iss=iss, jti="same"))
        assert (await verifier.verify(bearer(token), SERVICE_URL)).iss == iss


async def test_spec37_refused_token_does_not_use_up_its_jti(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    verifier = make_verifier()
    payload = claims(now=clock.now)
    wrong_aud = es_signer.token({**payload, "aud": "https://elsewhere.example"})
    assert await rejected(verifier, bearer(wrong_aud)) is RejectReason.AUDIENCE
    assert await verifier.verify(bearer(es_signer.token(payload)), SERVICE_URL)


async def test_spec37_tenant_not_allowlisted_rejected(
    make_verifier: MakeVerifier, es_signer: Signer, clock: FakeClock
) -> None:
    verifier = make_verifier(tenants=["t1", "t2"])
    assert (
        await verifier.verify(
            bearer(es_signer.token(claims(now=clock.now, tenant="t2"))), SERVICE_URL
        )
    ).tenant == "t2"
    for tenant in ("t3", OMIT):
        token = es_signer.token(claims(now=clock.now, tenant=tenant))
        assert await rejected(verifier, bearer(token)) is RejectReason.TENANT


def _payload(token: str) -> bytes:
    import base64

    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
