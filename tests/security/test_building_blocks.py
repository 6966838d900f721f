"""The pieces under the verifier: replay cache bounds (SPEC-37), client configuration and
JWK Set parsing (SPEC-35/36)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from joserfc.errors import SecurityWarning
from pydantic import ValidationError

from cds_service.security import (
    JwtSettings,
    MemoryReplayCache,
    ReplayCache,
    TokenVerifier,
    TrustedClient,
)
from cds_service.security.jwks import JwksError, load_jwk_set_file, parse_jwk_set, select_key
from tests.security.conftest import FakeClock
from tests.security.tokens import Signer

pytestmark = pytest.mark.anyio


# --- replay cache --------------------------------------------------------------------------


async def test_spec37_replay_cache_remembers_until_expiry() -> None:
    clock = FakeClock(1000.0)
    cache: ReplayCache = MemoryReplayCache(clock=clock)
    assert await cache.first_use("a", 1010.0)
    assert not await cache.first_use("a", 1010.0)
    clock.advance(11)
    assert await cache.first_use("a", 1030.0)


async def test_spec37_replay_cache_drops_expired_entries() -> None:
    clock = FakeClock(1000.0)
    cache = MemoryReplayCache(clock=clock)
    for index in range(50):
        assert await cache.first_use(f"k{index}", 1000.0 + index)
    clock.advance(100)
    assert await cache.first_use("fresh", 1200.0)
    assert len(cache) == 1


async def test_spec37_full_replay_cache_fails_closed() -> None:
    clock = FakeClock(1000.0)
    cache = MemoryReplayCache(max_entries=2, clock=clock)
    assert await cache.first_use("a", 1100.0)
    assert await cache.first_use("b", 1100.0)
    assert not await cache.first_use("c", 1100.0)  # refused, "a" and "b" still remembered
    assert not await cache.first_use("a", 1100.0)
    clock.advance(101)
    assert await cache.first_use("c", 1300.0)


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "", "iss": "x", "jku": ["https://a.example/jwks"]},
        {"name": "n", "iss": "", "jku": ["https://a.example/jwks"]},
        {"name": "n", "iss": "x"},
        {"name": "n", "iss": "x", "jku": ["http://a.example/jwks"]},
        {"name": "n", "iss": "x", "jku": ["/jwks.json"]},
        {"name": "n", "iss": "x", "jku": ["https://a.example/jwks"], "unknown": 1},
    ],
    ids=["no-name", "no-iss", "no-key-source", "http-jku", "relative-jku", "extra-field"],
)
def test_spec36_bad_client_configuration_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TrustedClient.model_validate(fields)


def test_spec37_leeway_bounded() -> None:
    with pytest.raises(ValidationError):
        JwtSettings(leeway_seconds=61)


def test_spec36_two_clients_with_one_issuer_refused() -> None:
    client = TrustedClient(name="a", iss="https://a.example", jku=["https://a.example/jwks"])
    with pytest.raises(ValueError, match="share the issuer"):
        TokenVerifier([client, client.model_copy(update={"name": "b"})], JwtSettings())


def test_spec35_unusable_jwks_file_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text('{"not": "a key set"}')
    client = TrustedClient(name="a", iss="https://a.example", jwks_file=path)
    with pytest.raises(ValueError, match="keys"):
        TokenVerifier([client], JwtSettings())


# --- JWK Set parsing -----------------------------------------------------------------------


def test_spec35_jwk_set_keeps_only_public_es384_and_rs384_keys() -> None:
    es, rs, leaked = Signer.es384(kid="es"), Signer.rs384(kid="rs"), Signer.es384(kid="leaked")
    with pytest.warns(SecurityWarning):
        small = Signer.rs384(kid="small", bits=1024)
    members = [
        es.public_jwk(),
        rs.public_jwk(),
        leaked.private_jwk(),  # private material: ignored
        Signer.es384(kid="enc").public_jwk(use="enc"),
        Signer.es384(kid="ops").public_jwk(key_ops=5),
        Signer.es384(kid="sign-only").public_jwk(key_ops=["sign"]),
        Signer.es384(kid="es256").public_jwk(alg="ES256"),
        Signer.rs384(kid="ps").public_jwk(alg="PS384"),
        small.public_jwk(),
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "p256"},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "broken"},
        "not an object",
    ]
    keys = parse_jwk_set(json.dumps({"keys": members}).encode(), "test")
    assert [(key.kid, key.alg) for key in keys] == [("es", "ES384"), ("rs", "RS384")]
    assert all(not key.key.is_private for key in keys)


@pytest.mark.parametrize(
    "raw", [b"[]", b'{"keys": {}}', b"\xff", b" " * (256 * 1024 + 1), b"[" * 100_000]
)
def test_spec35_not_a_jwk_set_refused(raw: bytes) -> None:
    with pytest.raises(JwksError):
        parse_jwk_set(raw, "test")


def test_spec35_select_key_by_kid_and_alg() -> None:
    es, rs = Signer.es384(kid="same"), Signer.rs384(kid="same")
    keys = parse_jwk_set(json.dumps(es.jwks(rs)).encode(), "test")
    assert select_key(keys, "same", "RS384") is keys[1]
    assert select_key(keys, "same", "ES384") is keys[0]
    assert select_key(keys, None, "ES384") is keys[0]
    assert select_key(keys, "other", "ES384") is None


def test_spec35_jwks_file_read_with_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b'{"keys": []}' + b" " * (300 * 1024))
    with pytest.raises(ValueError, match="cap"):
        load_jwk_set_file(path)
