"""Fixtures for the verifier tests: keys (made once per session: RSA generation is slow), an
injected clock, a verifier factory over a static JWKS file, and the loopback HTTPS JWKS server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cds_service.security import JwtSettings, TokenVerifier, TrustedClient
from tests.security.jwks_server import JwksServer, SilentListener, serve_jwks
from tests.security.tokens import ISS, Signer, write_jwks


class FakeClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def es_signer() -> Signer:
    return Signer.es384(kid="ehr-es-1")


@pytest.fixture(scope="session")
def rs_signer() -> Signer:
    return Signer.rs384(kid="ehr-rs-1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_750_000_000.0)


MakeVerifier = Callable[..., TokenVerifier]


@pytest.fixture
async def make_verifier(
    tmp_path: Path, clock: FakeClock, es_signer: Signer, rs_signer: Signer
) -> AsyncIterator[MakeVerifier]:
    """`make_verifier(**client_fields)`: one trusted client (iss `ISS`) whose keys are a
    static JWKS file of both session signers unless `jwks_file`/`jku` say otherwise;
    `settings=` overrides the JwtSettings. Verifiers are closed after the test."""
    made: list[TokenVerifier] = []

    def make(*, settings: JwtSettings | None = None, **fields: Any) -> TokenVerifier:
        if "jwks_file" not in fields and "jku" not in fields:
            fields["jwks_file"] = write_jwks(tmp_path / "jwks.json", es_signer, rs_signer)
        client = TrustedClient(**{"name": "ehr", "iss": ISS, **fields})
        verifier = TokenVerifier([client], settings or JwtSettings(), clock=clock)
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        await verifier.aclose()


@pytest.fixture
def jwks_server(tmp_path: Path) -> Iterator[JwksServer]:
    with serve_jwks(tmp_path) as server:
        yield server


@pytest.fixture
def silent_listener() -> Iterator[SilentListener]:
    listener = SilentListener()
    yield listener
    listener.close()
