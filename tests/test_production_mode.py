"""Production mode through the real app (issue 11; SPEC-30..38): every CDS Hooks call carries a
JWT from a configured client, every refusal is the same 401, CORS preflights and probes need
no token, and a verified caller's request is fetched only from that caller's FHIR servers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_service.http.app import create_app
from cds_service.prefetch import PREFETCH_TEMPLATES
from cds_service.security import TrustedClient
from cds_service.settings import SANDBOX_ORIGIN, Settings
from tests.conftest import TODAY, ConformantClient, serve_dev, served_output
from tests.fixtures.worked_examples import worked_example
from tests.prefetch.fhir_server import CannedAnswer, FhirTestServer, ehr_prefetch
from tests.security.jwks_server import SilentListener
from tests.security.tokens import OMIT, Signer, bearer, claims, forge_hs256, unsigned, write_jwks
from tests.test_worked_examples_http import SERVICE_FOR_HOOK, context_of

BASE = "https://cds.example.org"
ISS = "https://ehr.example.org/fhir/R4"
SERVICE = SERVICE_FOR_HOOK["patient-view"]
HOOK = f"/cds-services/{SERVICE}"
FEEDBACK = f"{HOOK}/feedback"
EXAMPLE = worked_example(1, today=TODAY)  # a withdrawal candidate with all its data
ACCESS_TOKEN = "opaque-access-token-issue11-ssrf"

ES = Signer.es384(kid="ehr-es384")
RS = Signer.rs384(kid="ehr-rs384")
OTHER = Signer.es384(kid="ehr-es384")  # same kid, another key: a forger's


@cache
def _prefetch() -> dict[str, Any]:
    """What the EHR prefetches for the example, taken once from a loopback FHIR server."""
    with FhirTestServer(EXAMPLE.resources) as server:
        return ehr_prefetch(server, PREFETCH_TEMPLATES, context_of(EXAMPLE))


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jwks(tmp_path_factory.mktemp("keys") / "ehr.json", ES, RS)


def trusted(keys: Path, **overrides: Any) -> TrustedClient:
    values: dict[str, Any] = {
        "name": "ehr-prod",
        "iss": ISS,
        "jwks_file": keys,
        "fhir_servers": ["https://ehr.example.org/fhir/R4"],
    }
    values.update(overrides)
    return TrustedClient(**values)


@pytest.fixture
def production(jwks_file: Path) -> Iterator[ConformantClient]:
    settings = Settings(
        dev=False, public_base_url=BASE, clients=[trusted(jwks_file)], cors_origins=[BASE]
    )
    with ConformantClient(create_app(settings)) as client:
        yield client


def token(path: str, signer: Signer = ES, **overrides: Any) -> dict[str, str]:
    values: dict[str, Any] = {"aud": BASE + path, "iss": ISS, **overrides}
    return {"Authorization": bearer(signer.token(claims(**values)))}


def hook_body(fhir_server: str | None = None, *, prefetch: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "5c3b1e9a-3f2d-4a7e-9b1c-2d4e6f8a0b1c",
        "context": context_of(EXAMPLE),
    }
    if prefetch:
        body["prefetch"] = _prefetch()
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        body["fhirAuthorization"] = {
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "aza-advisor",
        }
    return body


FEEDBACK_BODY = {
    "feedback": [
        {
            "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
            "outcome": "overridden",
            "outcomeTimestamp": "2026-12-03T10:00:00Z",
        }
    ]
}


# --- valid calls ------------------------------------------------------------------------


@pytest.mark.parametrize("signer", [ES, RS], ids=["ES384", "RS384"])
def test_spec34_valid_tokens_are_accepted_on_every_endpoint(
    production: ConformantClient, signer: Signer
) -> None:
    assert (
        production.get("/cds-services", headers=token("/cds-services", signer)).status_code == 200
    )
    answer = production.post(HOOK, json=hook_body(), headers=token(HOOK, signer))
    assert answer.status_code == 200
    assert answer.json()["cards"]
    stored = production.post(FEEDBACK, json=FEEDBACK_BODY, headers=token(FEEDBACK, signer))
    assert stored.status_code == 200


def test_spec38_cors_preflight_is_answered_without_a_token(production: ConformantClient) -> None:
    answer = production.options(
        HOOK,
        headers={
            "Origin": BASE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert answer.status_code == 200
    allowed = answer.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


def test_issue11_sandbox_origin_is_not_allowed_in_production(production: ConformantClient) -> None:
    answer = production.options(
        HOOK, headers={"Origin": SANDBOX_ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in answer.headers


def test_issue11_probes_need_no_token(production: ConformantClient) -> None:
    assert production.get("/healthz").status_code == 200
    assert production.get("/readyz").status_code == 200


# --- the attack suite: each one the same 401, nothing else leaked ------------------------

Attack = Callable[[str], dict[str, str]]


def _header(value: str) -> dict[str, str]:
    return {"Authorization": value}


ATTACKS: dict[str, Attack] = {
    "no-header": lambda path: {},
    "garbage": lambda path: _header("Bearer not.a.jwt"),
    "basic-scheme": lambda path: _header("Basic dXNlcjpwYXNz"),
    "alg-none": lambda path: _header(
        bearer(unsigned(ES.header(), claims(aud=BASE + path, iss=ISS)))
    ),
    "hs256-public-key-as-secret": lambda path: _header(
        bearer(
            forge_hs256(
                ES.header(),
                claims(aud=BASE + path, iss=ISS),
                json.dumps(ES.public_jwk()).encode(),
            )
        )
    ),
    "wrong-aud": lambda path: token(path, aud=f"{BASE}/cds-services/another-service"),
    "aud-of-host-header": lambda path: token(path, aud=f"http://testserver{path}"),
    "expired": lambda path: token(path, iat=_now() - 100, exp=_now() - 60),
    "iat-in-the-future": lambda path: token(path, iat=_now() + 120, exp=_now() + 420),
    "unknown-kid": lambda path: _header(
        bearer(ES.token(claims(aud=BASE + path, iss=ISS), {"kid": "no-such-key"}))
    ),
    "untrusted-iss": lambda path: _header(
        bearer(ES.token(claims(aud=BASE + path, iss="https://attacker.example")))
    ),
    "forger-key-same-kid": lambda path: token(path, OTHER),
    "missing-jti": lambda path: token(path, jti=OMIT),
    "tampered-payload": lambda path: _header(bearer(_tampered(path))),
}


def _now() -> int:
    return int(time.time())


def _tampered(path: str) -> str:
    signed = ES.token(claims(aud=BASE + path, iss=ISS, tenant="a"))
    header, _, signature = signed.split(".")
    forged = ES.token(claims(aud=BASE + path, iss=ISS, tenant="b")).split(".")[1]
    return f"{header}.{forged}.{signature}"


REFUSAL = {
    "resourceType": "OperationOutcome",
    "issue": [
        {
            "severity": "error",
            "code": "login",
            "diagnostics": "a valid bearer token from a trusted CDS client is required",
        }
    ],
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("path", ["/cds-services", HOOK, FEEDBACK])
def test_spec30_33_35_37_every_attack_gets_the_same_401(
    production: ConformantClient, attack: str, path: str
) -> None:
    headers = ATTACKS[attack](path)
    if path == "/cds-services":
        answer = production.get(path, headers=headers)
    else:
        payload = FEEDBACK_BODY if path == FEEDBACK else hook_body()
        answer = production.post(path, json=payload, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == REFUSAL
    assert answer.headers["www-authenticate"] == "Bearer"


def test_spec37_a_replayed_token_is_refused(production: ConformantClient) -> None:
    headers = token(HOOK)
    assert production.post(HOOK, json=hook_body(), headers=headers).status_code == 200
    replayed = production.post(HOOK, json=hook_body(), headers=headers)
    assert replayed.status_code == 401
    assert replayed.json() == REFUSAL


def test_spec32_a_token_for_discovery_is_refused_at_the_hook(
    production: ConformantClient,
) -> None:
    answer = production.post(HOOK, json=hook_body(), headers=token("/cds-services"))
    assert answer.status_code == 401


def test_spec36_a_jku_not_allowlisted_is_refused_without_a_fetch(jwks_file: Path) -> None:
    listener = SilentListener()
    try:
        client = trusted(jwks_file, jwks_file=None, jku=["https://keys.example.org/jwks.json"])
        settings = Settings(dev=False, public_base_url=BASE, clients=[client])
        attacker_jku = f"https://127.0.0.1:{listener.port}/jwks.json"
        with ConformantClient(create_app(settings)) as production:
            signed = ES.token(claims(aud=BASE + HOOK, iss=ISS), {"jku": attacker_jku})
            answer = production.post(
                HOOK, json=hook_body(), headers={"Authorization": bearer(signed)}
            )
        assert answer.status_code == 401
        assert answer.json() == REFUSAL
        assert listener.connections() == 0
    finally:
        listener.close()


def test_spec37_tenant_outside_the_allowlist_is_refused(jwks_file: Path) -> None:
    settings = Settings(
        dev=False, public_base_url=BASE, clients=[trusted(jwks_file, tenants=["north"])]
    )
    with ConformantClient(create_app(settings)) as production:
        assert (
            production.post(HOOK, json=hook_body(), headers=token(HOOK, tenant="north")).status_code
            == 200
        )
        refused = production.post(HOOK, json=hook_body(), headers=token(HOOK, tenant="south"))
        assert refused.status_code == 401


# --- SSRF: only the caller's own FHIR servers are queried --------------------------------


def _dev_with_client(jwks_file: Path, fhir_servers: list[str]) -> ConformantClient:
    """Dev mode with a trusted client: tokens verified, loopback http FHIR servers allowed
    by scheme, so the allowlist is what decides."""
    settings = Settings(
        dev=True,
        evaluation_date=TODAY,
        public_base_url=BASE,
        clients=[trusted(jwks_file, fhir_servers=fhir_servers)],
    )
    return ConformantClient(create_app(settings))


def test_issue11_ssrf_fhir_server_not_allowlisted_is_never_contacted(jwks_file: Path) -> None:
    listener = SilentListener()
    try:
        target = f"http://127.0.0.1:{listener.port}/fhir"
        with _dev_with_client(jwks_file, ["https://ehr.example.org/fhir/R4"]) as client:
            answer = client.post(HOOK, json=hook_body(target, prefetch=False), headers=token(HOOK))
        assert answer.status_code == 412
        assert answer.json()["resourceType"] == "OperationOutcome"
        assert str(listener.port) not in answer.text
        assert listener.connections() == 0
    finally:
        listener.close()


@pytest.mark.parametrize(
    "spelling",
    ["http://2130706433:{port}/fhir", "http://0.0.0.0:{port}/fhir", "http://localhost:{port}/fhir"],
)
def test_issue11_ssrf_other_spellings_of_loopback_are_not_contacted(
    jwks_file: Path, spelling: str
) -> None:
    listener = SilentListener()
    try:
        allowed = [f"http://127.0.0.1:{listener.port}/fhir"]
        target = spelling.format(port=listener.port)
        with _dev_with_client(jwks_file, allowed) as client:
            answer = client.post(HOOK, json=hook_body(target, prefetch=False), headers=token(HOOK))
        assert answer.status_code == 412
        assert listener.connections() == 0
    finally:
        listener.close()


def test_issue11_ssrf_not_allowlisted_server_is_answered_from_the_prefetch(
    jwks_file: Path,
) -> None:
    listener = SilentListener()
    try:
        target = f"http://127.0.0.1:{listener.port}/fhir"
        with _dev_with_client(jwks_file, ["https://ehr.example.org/fhir/R4"]) as client:
            answer = client.post(HOOK, json=hook_body(target), headers=token(HOOK))
        assert answer.status_code == 200
        assert answer.json()["cards"]
        assert listener.connections() == 0
    finally:
        listener.close()


def test_issue11_ssrf_allowlisted_server_is_queried_with_the_token(jwks_file: Path) -> None:
    with FhirTestServer(EXAMPLE.resources) as fhir:
        with _dev_with_client(jwks_file, [fhir.base_url]) as client:
            answer = client.post(
                HOOK, json=hook_body(fhir.base_url, prefetch=False), headers=token(HOOK)
            )
        assert answer.status_code == 200
        assert fhir.requests
        assert all(request.authorization == f"Bearer {ACCESS_TOKEN}" for request in fhir.requests)


def test_issue11_ssrf_redirect_to_another_origin_is_not_followed(jwks_file: Path) -> None:
    listener = SilentListener()
    try:
        elsewhere = f"http://127.0.0.1:{listener.port}/steal"
        with FhirTestServer(EXAMPLE.resources) as fhir:
            fhir.canned = CannedAnswer(307, b"", {"Location": elsewhere})
            with _dev_with_client(jwks_file, [fhir.base_url]) as client:
                answer = client.post(
                    HOOK, json=hook_body(fhir.base_url, prefetch=False), headers=token(HOOK)
                )
        assert answer.status_code == 412
        assert "steal" not in answer.text
        assert listener.connections() == 0
    finally:
        listener.close()


# --- a real production process, configured as the README says ------------------------------


def test_issue11_served_production_mode_from_the_toml_configuration(
    tmp_path: Path, jwks_file: Path
) -> None:
    config = tmp_path / "aza.toml"
    config.write_text(
        f'public_base_url = "{BASE}"\n'
        "[[clients]]\n"
        'name = "ehr-prod"\n'
        f'iss = "{ISS}"\n'
        f'jwks_file = "{jwks_file}"\n'
        'fhir_servers = ["https://ehr.example.org/fhir/R4"]\n'
    )
    with serve_dev(tmp_path, args=(), env={"AZA_CONFIG_FILE": str(config)}) as (base, process):
        assert process.poll() is None, served_output(process)
        assert httpx.get(f"{base}/healthz").status_code == 200
        refused = httpx.post(f"{base}{HOOK}", json=hook_body(), timeout=10)
        assert refused.status_code == 401
        answered = httpx.post(f"{base}{HOOK}", json=hook_body(), headers=token(HOOK), timeout=10)
        assert answered.status_code == 200
        assert answered.json()["cards"]
