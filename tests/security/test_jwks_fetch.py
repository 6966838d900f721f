"""JWKS over HTTPS (SPEC-35/36): a real TLS server on loopback, its trustme CA passed as
`jwks_ca_file`, and a fake clock, so rotation and throttling are tested without sleeping."""

from __future__ import annotations

import asyncio

import pytest

from cds_service.security import JwtSettings, Rejected, RejectReason, TokenVerifier, TrustedClient
from tests.security.conftest import FakeClock
from tests.security.jwks_server import JwksServer, SilentListener
from tests.security.tokens import ISS, SERVICE_URL, Signer, bearer, claims

pytestmark = pytest.mark.anyio


def fetching_verifier(
    server: JwksServer, clock: FakeClock, *, jku: list[str] | None = None, ca: bool = True
) -> TokenVerifier:
    client = TrustedClient(name="ehr", iss=ISS, jku=jku or [server.url])
    settings = JwtSettings(jwks_ca_file=server.ca_file if ca else None, jwks_timeout_seconds=2)
    return TokenVerifier([client], settings, clock=clock)


async def reason(verifier: TokenVerifier, token: str) -> RejectReason:
    with pytest.raises(Rejected) as caught:
        await verifier.verify(bearer(token), SERVICE_URL)
    return caught.value.reason


async def test_spec35_rotated_key_accepted_after_one_refetch(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    jwks_server.jwks = es_signer.jwks()
    verifier = fetching_verifier(jwks_server, clock)
    try:
        assert await verifier.verify(bearer(es_signer.token(claims(now=clock.now))), SERVICE_URL)
        assert jwks_server.hits == 1
        # Cached: the next call does not fetch.
        assert await verifier.verify(bearer(es_signer.token(claims(now=clock.now))), SERVICE_URL)
        assert jwks_server.hits == 1

        rotated = Signer.es384(kid="ehr-es-2")
        jwks_server.jwks = rotated.jwks(es_signer)
        clock.advance(61)
        token = rotated.token(claims(now=clock.now))
        assert (await verifier.verify(bearer(token), SERVICE_URL)).client == "ehr"
        assert jwks_server.hits == 2

        # Another unknown kid within the minute: refused without a second fetch.
        clock.advance(30)
        stranger = Signer.es384(kid="ehr-es-3")
        assert (
            await reason(verifier, stranger.token(claims(now=clock.now)))
            is RejectReason.UNKNOWN_KEY
        )
        assert jwks_server.hits == 2
        assert jwks_server.paths == ["/jwks.json", "/jwks.json"]
    finally:
        await verifier.aclose()


async def test_spec35_concurrent_verifications_share_one_fetch(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    jwks_server.jwks = es_signer.jwks()
    verifier = fetching_verifier(jwks_server, clock)
    try:
        tokens = [es_signer.token(claims(now=clock.now)) for _ in range(8)]
        callers = await asyncio.gather(*(verifier.verify(bearer(t), SERVICE_URL) for t in tokens))
        assert len(callers) == 8
        assert jwks_server.hits == 1
    finally:
        await verifier.aclose()


async def test_spec36_jku_not_allowlisted_rejected_without_any_connection(
    jwks_server: JwksServer, silent_listener: SilentListener, clock: FakeClock, es_signer: Signer
) -> None:
    jwks_server.jwks = es_signer.jwks()
    verifier = fetching_verifier(jwks_server, clock)
    try:
        for jku in (
            f"https://127.0.0.1:{silent_listener.port}/jwks.json",
            jwks_server.url + "?",
            jwks_server.url.replace("127.0.0.1", "localhost"),
        ):
            token = es_signer.token(claims(now=clock.now), {"jku": jku})
            assert await reason(verifier, token) is RejectReason.UNTRUSTED_JKU
        assert silent_listener.connections() == 0
        assert jwks_server.hits == 0
    finally:
        await verifier.aclose()


async def test_spec36_jku_of_another_trusted_client_is_not_fetched(
    jwks_server: JwksServer, silent_listener: SilentListener, clock: FakeClock, es_signer: Signer
) -> None:
    other_url = f"https://127.0.0.1:{silent_listener.port}/jwks.json"
    clients = [
        TrustedClient(name="ehr", iss=ISS, jku=[jwks_server.url]),
        TrustedClient(name="other", iss="https://other.example", jku=[other_url]),
    ]
    verifier = TokenVerifier(clients, JwtSettings(jwks_ca_file=jwks_server.ca_file), clock=clock)
    try:
        token = es_signer.token(claims(now=clock.now), {"jku": other_url})
        assert await reason(verifier, token) is RejectReason.UNTRUSTED_JKU
        assert silent_listener.connections() == 0
    finally:
        await verifier.aclose()


async def test_spec35_allowlisted_jku_header_selects_that_url(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    jwks_server.jwks = es_signer.jwks()
    second = jwks_server.origin + "/keys/second.json"
    verifier = fetching_verifier(jwks_server, clock, jku=[jwks_server.url, second])
    try:
        token = es_signer.token(claims(now=clock.now), {"jku": second})
        assert await verifier.verify(bearer(token), SERVICE_URL)
        assert jwks_server.paths == ["/keys/second.json"]
    finally:
        await verifier.aclose()


async def test_spec35_unreachable_jwks_is_jwks_unavailable_and_backs_off(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    jwks_server.status = 503
    verifier = fetching_verifier(jwks_server, clock)
    try:
        token = es_signer.token(claims(now=clock.now))
        assert await reason(verifier, token) is RejectReason.JWKS_UNAVAILABLE
        assert await reason(verifier, token) is RejectReason.JWKS_UNAVAILABLE
        assert jwks_server.hits == 1  # backing off
        jwks_server.status, jwks_server.jwks = 200, es_signer.jwks()
        clock.advance(6)
        assert await verifier.verify(bearer(token), SERVICE_URL)
        assert jwks_server.hits == 2
    finally:
        await verifier.aclose()


async def test_spec35_failed_refresh_keeps_the_cached_keys(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    jwks_server.jwks = es_signer.jwks()
    verifier = fetching_verifier(jwks_server, clock)
    try:
        assert await verifier.verify(bearer(es_signer.token(claims(now=clock.now))), SERVICE_URL)
        jwks_server.status = 500
        clock.advance(61)
        stranger = Signer.es384(kid="unknown")
        assert (
            await reason(verifier, stranger.token(claims(now=clock.now)))
            is RejectReason.UNKNOWN_KEY
        )
        assert jwks_server.hits == 2
        assert await verifier.verify(bearer(es_signer.token(claims(now=clock.now))), SERVICE_URL)
    finally:
        await verifier.aclose()


async def test_spec35_withdrawn_key_stops_verifying_once_the_cache_is_stale(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    jwks_server.jwks = es_signer.jwks()
    verifier = fetching_verifier(jwks_server, clock)
    try:
        assert await verifier.verify(bearer(es_signer.token(claims(now=clock.now))), SERVICE_URL)
        jwks_server.jwks = Signer.es384(kid="successor").jwks()
        clock.advance(901)
        token = es_signer.token(claims(now=clock.now))
        assert await reason(verifier, token) is RejectReason.UNKNOWN_KEY
        assert jwks_server.hits == 2
    finally:
        await verifier.aclose()


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (302, b"", {"Location": "https://127.0.0.1:1/jwks.json"}),
        (200, b"not json", {}),
        (200, b'{"kid": "x"}', {}),
        (200, b'{"keys": "x"}', {}),
        (200, b'{"keys": [], "padding": "' + b"x" * 300_000 + b'"}', {}),
        (200, b'{"keys": []}', {"Content-Encoding": "gzip"}),
    ],
    ids=["redirect", "not-json", "no-keys", "keys-not-array", "oversized", "compressed"],
)
async def test_spec35_unusable_jwks_answer_is_jwks_unavailable(
    jwks_server: JwksServer,
    clock: FakeClock,
    es_signer: Signer,
    status: int,
    body: bytes,
    headers: dict[str, str],
) -> None:
    jwks_server.status, jwks_server.body, jwks_server.extra_headers = status, body, headers
    verifier = fetching_verifier(jwks_server, clock)
    try:
        token = es_signer.token(claims(now=clock.now))
        assert await reason(verifier, token) is RejectReason.JWKS_UNAVAILABLE
        assert jwks_server.hits == 1  # a redirect is not followed
    finally:
        await verifier.aclose()


async def test_spec35_jwks_server_with_an_untrusted_certificate_is_unavailable(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    # Without the trustme CA, the loopback certificate is not trusted: TLS is really checked.
    jwks_server.jwks = es_signer.jwks()
    verifier = fetching_verifier(jwks_server, clock, ca=False)
    try:
        token = es_signer.token(claims(now=clock.now))
        assert await reason(verifier, token) is RejectReason.JWKS_UNAVAILABLE
    finally:
        await verifier.aclose()


async def test_spec35_private_key_in_a_fetched_jwks_is_ignored(
    jwks_server: JwksServer, clock: FakeClock, es_signer: Signer
) -> None:
    leaked = Signer.es384(kid="leaked")
    jwks_server.jwks = {"keys": [leaked.private_jwk(), es_signer.public_jwk()]}
    verifier = fetching_verifier(jwks_server, clock)
    try:
        assert (
            await reason(verifier, leaked.token(claims(now=clock.now))) is RejectReason.UNKNOWN_KEY
        )
        assert await verifier.verify(bearer(es_signer.token(claims(now=clock.now))), SERVICE_URL)
    finally:
        await verifier.aclose()
