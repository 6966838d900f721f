"""Minting test tokens: our own ES384 / RS384 keys, any header, any claims.

Shared by the security tests and by anyone who needs a valid (or deliberately broken) CDS Hooks
bearer token::

    signer = Signer.es384(kid="ehr-1")
    write_jwks(tmp_path / "jwks.json", signer)          # or serve signer.jwks() over HTTPS
    token = signer.token(claims(aud=SERVICE_URL, iss=ISS))
    headers = {"Authorization": f"Bearer {token}"}

`signer.token(...)` signs whatever header it is given with the signer's own algorithm, so a
header that lies (`alg: ES256`, a foreign `kid`, a `jku`) is still a correctly signed token,
which is what the attack tests need. `forge_hs256` and `unsigned` make the classic forgeries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, Key, RSAKey

ISS = "https://ehr.example.org"
SERVICE_URL = "https://cds.example.org/cds-services/aza-withdrawal"


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""Pass as a claim or header value to leave that member out."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(
    *,
    aud: str | list[str] = SERVICE_URL,
    iss: str = ISS,
    now: float | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Valid CDS Hooks claims (fresh jti, iat = now, exp = now + 300), then `overrides`."""
    issued = int(time.time() if now is None else now)
    values: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "exp": issued + 300,
        "iat": issued,
        "jti": str(uuid.uuid4()),
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not OMIT}


class Signer:
    """A private key, its kid and its algorithm."""

    def __init__(self, key: Key, alg: str, kid: str | None) -> None:
        self.key, self.alg, self.kid = key, alg, kid

    @classmethod
    def es384(cls, kid: str | None = "es384-1") -> Signer:
        return cls(ECKey.generate_key("P-384"), "ES384", kid)

    @classmethod
    def rs384(cls, kid: str | None = "rs384-1", bits: int = 2048) -> Signer:
        return cls(RSAKey.generate_key(bits), "RS384", kid)

    def public_jwk(self, **members: Any) -> dict[str, Any]:
        """The public JWK (`use: sig`, `alg`, `kid`), plus `members`."""
        value: dict[str, Any] = {**self.key.as_dict(private=False), "use": "sig", "alg": self.alg}
        if self.kid is not None:
            value["kid"] = self.kid
        return {**value, **members}

    def private_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=True), "kid": self.kid, "alg": self.alg}

    def jwks(self, *others: Signer) -> dict[str, Any]:
        """A public JWK Set holding this key and `others`."""
        return {"keys": [signer.public_jwk() for signer in (self, *others)]}

    def header(self, **overrides: Any) -> dict[str, Any]:
        """`alg`, `typ: JWT` and `kid` (if any), then `overrides` (OMIT removes a member)."""
        values: dict[str, Any] = {"alg": self.alg, "typ": "JWT"}
        if self.kid is not None:
            values["kid"] = self.kid
        values.update(overrides)
        return {name: value for name, value in values.items() if value is not OMIT}

    def token(self, payload: dict[str, Any], header_overrides: dict[str, Any] | None = None) -> str:
        """A compact JWS of `payload` signed with this key, whatever the header claims."""
        return self.sign_segments(
            segment(self.header(**(header_overrides or {}))), segment(payload)
        )

    def sign_segments(self, header_segment: str, payload_segment: str) -> str:
        """Sign two already encoded segments (for byte-level tampering tests)."""
        signing_input = f"{header_segment}.{payload_segment}".encode()
        signature = jws.JWSRegistry.algorithms[self.alg].sign(signing_input, self.key)
        return f"{header_segment}.{payload_segment}.{b64url(signature)}"


def forge_hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """The key-confusion forgery: HMAC-SHA256 keyed with (typically) the public key's bytes."""
    signing_input = f"{segment({**header, 'alg': 'HS256'})}.{segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """An `alg: none` token with an empty signature."""
    return f"{segment({**header, 'alg': 'none'})}.{segment(payload)}."


def write_jwks(path: Path, *signers: Signer) -> Path:
    """A static JWKS file of the signers' public keys (for `TrustedClient.jwks_file`)."""
    first, *rest = signers
    path.write_text(json.dumps(first.jwks(*rest)))
    return path


def bearer(token: str) -> str:
    return f"Bearer {token}"
