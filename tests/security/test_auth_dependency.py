"""`cds_service.http.auth.authenticate` on a minimal app (SPEC-30/32/37): the audience comes
from the configured public base URL, every refusal is the same 401 with `WWW-Authenticate:
Bearer`, the log line names the reason and never the token, and each refusal is counted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from cds_service.http import errors
from cds_service.http.auth import audience_of, authenticate
from cds_service.security import (
    Caller,
    JwtSettings,
    RejectReason,
    TokenVerifier,
    TrustedClient,
    rejections,
)
from tests.security.tokens import ISS, Signer, bearer, claims, write_jwks

PATH = "/cds-services/aza-withdrawal"
BASE = "https://cds.example.org/"
AUD = "https://cds.example.org" + PATH


def _app(verifier: TokenVerifier | None) -> FastAPI:
    app = FastAPI()
    errors.install(app)
    app.state.verifier = verifier
    app.state.settings = SimpleNamespace(public_base_url=BASE)

    @app.post(PATH)
    async def hook(
        caller: Annotated[Caller | None, Depends(authenticate)],
    ) -> dict[str, str | None]:
        return {"client": caller.client if caller else None}

    return app


@pytest.fixture
def signer() -> Signer:
    return Signer.es384(kid="auth-1")


@pytest.fixture
def client(tmp_path: Path, signer: Signer) -> Iterator[TestClient]:
    trusted = TrustedClient(name="ehr", iss=ISS, jwks_file=write_jwks(tmp_path / "k.json", signer))
    with TestClient(_app(TokenVerifier([trusted], JwtSettings()))) as test_client:
        yield test_client


def test_spec32_audience_is_the_public_base_url_plus_path() -> None:
    assert audience_of("https://cds.example.org/", PATH) == AUD
    assert audience_of("https://cds.example.org", PATH) == AUD
    assert audience_of("https://proxy.example/base/", PATH) == "https://proxy.example/base" + PATH


def test_spec30_valid_token_gives_the_caller(client: TestClient, signer: Signer) -> None:
    response = client.post(PATH, headers={"Authorization": bearer(signer.token(claims(aud=AUD)))})
    assert response.status_code == 200
    assert response.json() == {"client": "ehr"}


def test_spec30_no_token_is_401_with_bearer_challenge(client: TestClient) -> None:
    response = client.post(PATH)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["resourceType"] == "OperationOutcome"


def test_spec37_every_refusal_looks_the_same_and_logs_only_the_reason(
    client: TestClient, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[RejectReason] = []
    unsubscribe = rejections.observe(seen.append)
    tokens = {
        RejectReason.AUDIENCE: signer.token(claims(aud="https://elsewhere.example" + PATH)),
        RejectReason.UNTRUSTED_ISSUER: signer.token(claims(aud=AUD, iss="https://evil.example")),
        RejectReason.MALFORMED: "garbage",
    }
    bodies = []
    try:
        with caplog.at_level(logging.INFO, logger="cds_service.security"):
            for token in tokens.values():
                response = client.post(PATH, headers={"Authorization": bearer(token)})
                assert response.status_code == 401
                bodies.append(response.content)
    finally:
        unsubscribe()
    assert len(set(bodies)) == 1
    assert seen == list(tokens)
    lines = [r.getMessage() for r in caplog.records if r.name == "cds_service.security"]
    assert [line.split()[2] for line in lines] == [f"reason={reason}" for reason in tokens]
    for token in tokens.values():
        assert all(token not in line for line in caplog.messages)


def test_spec30_two_authorization_headers_refused(client: TestClient, signer: Signer) -> None:
    good = bearer(signer.token(claims(aud=AUD)))
    headers = [("Authorization", good), ("Authorization", good)]
    response = client.post(PATH, headers=headers)
    assert response.status_code == 401


def test_spec32_host_header_does_not_change_the_audience(
    client: TestClient, signer: Signer
) -> None:
    # A token minted for another host is refused even when the request claims that host.
    token = signer.token(claims(aud="https://evil.example" + PATH))
    response = client.post(PATH, headers={"Authorization": bearer(token), "Host": "evil.example"})
    assert response.status_code == 401


def test_spec30_no_verifier_means_no_authentication() -> None:
    # Development mode without trusted clients: the dependency lets the call through.
    with TestClient(_app(None)) as test_client:
        response = test_client.post(PATH)
    assert response.status_code == 200
    assert response.json() == {"client": None}
