"""Bearer JWT verification for CDS Hooks calls (SPEC-30..37).

The order of the checks is the point of this module:

1. the header value is bounded and parsed strictly (`compact`);
2. `alg` must be ES384 or RS384, decided from the header alone, before any key is looked up:
   `none` and every HMAC algorithm are refused by name, so a public key can never be
   misused as an HMAC secret;
3. `iss` is read from the *unverified* payload only to choose a configured client; the
   signature is then checked with that client's keys and no one else's;
4. a `jku` header must be exactly one of that client's URLs, otherwise the token is refused
   before anything is fetched (no SSRF through a token);
5. the signature (joserfc, with the one algorithm passed explicitly);
6. the claims (`claims`), and last the jti replay cache, so that a refused token never uses
   up a jti.

Every failure is a `Rejected` carrying only a `RejectReason`: no token text, no claim value.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from cds_service.security import compact
from cds_service.security.claims import check_claims
from cds_service.security.clients import JwtSettings, TrustedClient
from cds_service.security.errors import Rejected, RejectReason
from cds_service.security.jwks import (
    ALGORITHMS,
    JwksCache,
    PublicKey,
    load_jwk_set_file,
    select_key,
)
from cds_service.security.replay import MemoryReplayCache, ReplayCache

_JWT_TYPES = frozenset({"jwt", "application/jwt"})


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated CDS client of one call."""

    client: str
    """`TrustedClient.name`."""
    iss: str
    tenant: str | None
    fhir_servers: tuple[str, ...]
    """The FHIR servers this client may point the service at (the SSRF allowlist)."""


@dataclass(frozen=True, slots=True)
class _Trusted:
    config: TrustedClient
    static_keys: tuple[PublicKey, ...] | None


class TokenVerifier:
    """Verifies `Authorization` header values against the configured trusted clients.

    Static JWKS files are read here, at construction, so a bad file stops start-up rather
    than failing every call later. The HTTP client for JWKS fetches is made on first need.
    """

    def __init__(
        self,
        clients: Sequence[TrustedClient],
        settings: JwtSettings,
        *,
        replay: ReplayCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients: dict[str, _Trusted] = {}
        for client in clients:
            if client.iss in self._clients:
                raise ValueError(f"two trusted clients share the issuer {client.iss!r}")
            keys = None if client.jwks_file is None else load_jwk_set_file(client.jwks_file)
            self._clients[client.iss] = _Trusted(client, keys)
        self._settings = settings
        self._clock = clock
        self._replay: ReplayCache = replay or MemoryReplayCache(clock=clock)
        self._jwks = JwksCache(settings, clock)

    @property
    def jwks_fetches(self) -> int:
        """JWKS fetch attempts so far (diagnostics, tests)."""
        return self._jwks.fetches

    async def verify(self, authorization: str | None, audience: str) -> Caller:
        """The caller proven by `authorization` for a call to `audience`; raises `Rejected`."""
        token = compact.bearer_token(authorization)
        header, segments = compact.header_of(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise Rejected(RejectReason.ALGORITHM)
        _check_header(header)
        parsed = compact.parse(token, header, segments)

        iss = parsed.payload.get("iss")
        if not isinstance(iss, str):
            raise Rejected(RejectReason.MISSING_CLAIM)
        trusted = self._clients.get(iss)
        if trusted is None:
            raise Rejected(RejectReason.UNTRUSTED_ISSUER)

        key = await self._key(trusted, header, alg)
        try:
            jws.deserialize_compact(token, key.key, algorithms=[alg])
        except JoseError:
            raise Rejected(RejectReason.SIGNATURE) from None

        checked = check_claims(
            parsed.payload,
            audience=audience,
            now=self._clock(),
            leeway=self._settings.leeway_seconds,
            max_age=self._settings.max_token_age_seconds,
            tenants=trusted.config.tenants,
        )
        if not await self._replay.first_use(_replay_key(iss, checked.jti), checked.remember_until):
            raise Rejected(RejectReason.REPLAYED)
        return Caller(
            client=trusted.config.name,
            iss=iss,
            tenant=checked.tenant,
            fhir_servers=tuple(trusted.config.fhir_servers),
        )

    async def aclose(self) -> None:
        await self._jwks.aclose()

    async def _key(self, trusted: _Trusted, header: dict[str, Any], alg: str) -> PublicKey:
        jku, kid = header.get("jku"), header.get("kid")
        client = trusted.config
        if jku is not None and jku not in client.jku:
            raise Rejected(RejectReason.UNTRUSTED_JKU)
        if trusted.static_keys is not None:
            key = select_key(trusted.static_keys, kid, alg)
            if key is None:
                raise Rejected(RejectReason.UNKNOWN_KEY)
            return key
        return await self._jwks.key_for(jku or client.jku[0], kid, alg)


def _check_header(header: dict[str, Any]) -> None:
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _JWT_TYPES):
        raise Rejected(RejectReason.MALFORMED)
    # No extension is understood, so any critical one must be refused (RFC 7515 §4.1.11);
    # this also rules out unencoded payloads (RFC 7797 `b64`, which requires `crit`).
    if "crit" in header:
        raise Rejected(RejectReason.MALFORMED)
    for name in ("kid", "jku"):
        if name in header and not isinstance(header[name], str):
            raise Rejected(RejectReason.MALFORMED)


def _replay_key(iss: str, jti: str) -> str:
    """One fixed-size key per (issuer, jti): unambiguous, and opaque in a shared store."""
    return hashlib.sha256(json.dumps([iss, jti]).encode()).hexdigest()
