"""Public keys of trusted clients (SPEC-35): parsed strictly, fetched rarely, shared by all calls.

A JWK Set is untrusted input even from an allowlisted URL (a misconfigured or compromised
server), so `parse_jwk_set` caps its size, keeps only keys this service can use for ES384 or
RS384 verification, and ignores any key that carries private material: such a key is
compromised by publication, and using it would prove nothing.

`JwksCache` fetches each allowlisted URL over HTTPS when first needed, and again only

* when a token names a kid the cached set lacks (a key rotation), at most once per
  `jwks_refresh_seconds` per URL, so made-up kids cannot turn the service into a fetch
  amplifier against the issuer;
* when the cached set is older than `MAX_AGE_SECONDS`, so a key the issuer withdrew stops
  verifying within that time even if no unknown kid ever arrives.

Concurrent verifications that need the same URL share one fetch: a per-URL lock, a call that
finds a fetch under way waits for its outcome, and one that waited for the lock does not fetch
again. A failed fetch keeps the previous keys (an issuer outage must not lock
every user out) and is retried after `FAILURE_BACKOFF_SECONDS` at the earliest.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import certifi
import httpx
from joserfc import jwk

from cds_service.security.clients import JwtSettings
from cds_service.security.errors import Rejected, RejectReason

log = logging.getLogger("cds_service.security")

MAX_JWKS_BYTES = 256 * 1024
"""Largest JWKS accepted (256 KiB): a set of a dozen RSA keys is a few KiB."""
MAX_KEYS = 100
"""Keys kept from one set; more is not a key set anyone publishes on purpose."""
MAX_AGE_SECONDS = 900.0
"""A fetched set is fetched again when a call needs it after this long (key withdrawal)."""
FAILURE_BACKOFF_SECONDS = 5.0
"""After a failed fetch, the same URL is not tried again for this long (or the refresh
interval, if shorter): an unreachable issuer costs one timeout per few seconds, not per call."""
MIN_RSA_BITS = 2048

ALGORITHMS = ("ES384", "RS384")
"""The only signature algorithms accepted (SPEC-33/34); everything else is refused by name."""

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class JwksError(Exception):
    """A JWKS could not be obtained or is not a usable JWK Set. The message names no key."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A verification key and the one algorithm it may verify."""

    kid: str | None
    alg: str
    key: jwk.Key


def parse_jwk_set(raw: bytes, source: str) -> tuple[PublicKey, ...]:
    """The usable public keys of a serialized JWK Set; `source` names it in log lines."""
    if len(raw) > MAX_JWKS_BYTES:
        raise JwksError("JWKS larger than the cap")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise JwksError("JWKS is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksError("JWKS has no 'keys' array")
    members: list[Any] = document["keys"]
    keys = tuple(key for key in map(_public_key, members[:MAX_KEYS]) if key is not None)
    if len(keys) < len(members):
        log.warning(
            "JWKS %s: %d of %d keys unusable (private, unsupported or invalid), ignored",
            source,
            len(members) - len(keys),
            len(members),
        )
    return keys


def load_jwk_set_file(path: Path) -> tuple[PublicKey, ...]:
    """A static JWKS file, checked like a fetched one. Fails loudly: this is configuration."""
    with path.open("rb") as file:
        raw = file.read(MAX_JWKS_BYTES + 1)
    try:
        return parse_jwk_set(raw, str(path))
    except JwksError as error:
        raise ValueError(f"{path}: {error}") from None


def select_key(keys: Iterable[PublicKey], kid: str | None, alg: str) -> PublicKey | None:
    """The key a token's header designates: by kid, or the only key of its type if no kid."""
    fitting = [key for key in keys if key.alg == alg]
    if kid is None:
        return fitting[0] if len(fitting) == 1 else None
    return next((key for key in fitting if key.kid == kid), None)


def _public_key(member: object) -> PublicKey | None:
    if not isinstance(member, dict) or _PRIVATE_MEMBERS & member.keys():
        return None
    kid, use, ops = member.get("kid"), member.get("use"), member.get("key_ops")
    if kid is not None and not isinstance(kid, str):
        return None
    if use not in (None, "sig") or (
        ops is not None and (not isinstance(ops, list) or "verify" not in ops)
    ):
        return None
    if member.get("kty") == "EC" and member.get("crv") == "P-384":
        alg = "ES384"
    elif member.get("kty") == "RSA":
        alg = "RS384"
    else:
        return None
    if member.get("alg", alg) != alg:
        return None
    if alg == "RS384" and _modulus_bits(member.get("n")) < MIN_RSA_BITS:
        return None  # checked before import, which would also warn about it
    try:
        key = jwk.import_key(member)
    except Exception:  # any flaw in an untrusted key (bad point, bad encoding): not usable
        return None
    return None if key.is_private else PublicKey(kid, alg, key)


def _modulus_bits(n: object) -> int:
    if not isinstance(n, str):
        return 0
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return 0
    return int.from_bytes(raw, "big").bit_length()


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The public web PKI (certifi) plus the operator's extra CA, if any."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


@dataclass(slots=True)
class _Entry:
    keys: tuple[PublicKey, ...] | None = None
    fetched_at: float = -math.inf
    attempted_at: float = -math.inf
    attempts: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class JwksCache:
    """JWK Sets fetched from allowlisted URLs, per URL, with throttled refresh."""

    def __init__(self, settings: JwtSettings, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._client: httpx.AsyncClient | None = None
        self.fetches = 0
        """Fetch attempts made, for tests and diagnostics."""

    async def key_for(self, url: str, kid: str | None, alg: str) -> PublicKey:
        """The key for (kid, alg) in the set at `url`, fetching it if due. Raises `Rejected`."""
        entry = self._entries.get(url)
        if entry is None:
            entry = self._entries[url] = _Entry()
        if entry.lock.locked():
            # A fetch of this URL is under way: its outcome is what this call needs too.
            async with entry.lock:
                pass
        fetched = False
        if self._due(entry, key_missing=False):
            fetched = await self._refresh(entry, url, entry.attempts)
        key = select_key(entry.keys or (), kid, alg)
        if key is None and not fetched and self._due(entry, key_missing=True):
            await self._refresh(entry, url, entry.attempts)
            key = select_key(entry.keys or (), kid, alg)
        if key is not None:
            return key
        if entry.keys is None:
            raise Rejected(RejectReason.JWKS_UNAVAILABLE)
        raise Rejected(RejectReason.UNKNOWN_KEY)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _due(self, entry: _Entry, *, key_missing: bool) -> bool:
        now = self._clock()
        backoff = min(FAILURE_BACKOFF_SECONDS, self._settings.jwks_refresh_seconds)
        if entry.keys is None or now - entry.fetched_at >= MAX_AGE_SECONDS:
            return now - entry.attempted_at >= backoff
        return key_missing and now - entry.attempted_at >= self._settings.jwks_refresh_seconds

    async def _refresh(self, entry: _Entry, url: str, seen: int) -> bool:
        """Fetch `url` unless another call did while this one waited; True if it was done."""
        async with entry.lock:
            if entry.attempts != seen:
                return True
            entry.attempts += 1
            entry.attempted_at = self._clock()
            self.fetches += 1
            try:
                keys = await self._fetch(url)
            except JwksError as error:
                log.warning("JWKS %s not refreshed: %s", url, error)
                return True
            entry.keys, entry.fetched_at = keys, self._clock()
            return True

    async def _fetch(self, url: str) -> tuple[PublicKey, ...]:
        try:
            async with asyncio.timeout(self._settings.jwks_timeout_seconds):
                return parse_jwk_set(await self._get(url), url)
        except TimeoutError:
            raise JwksError("timed out") from None
        except httpx.HTTPError as error:
            raise JwksError(type(error).__name__) from None

    async def _get(self, url: str) -> bytes:
        # identity encoding and raw reads: the size cap applies to the bytes that arrive, so a
        # small gzip bomb cannot inflate past it.
        headers = {
            "Accept": "application/jwk-set+json, application/json",
            "Accept-Encoding": "identity",
        }
        async with self._http().stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise JwksError(f"HTTP status {response.status_code}")
            if response.headers.get("content-encoding", "identity") != "identity":
                raise JwksError("compressed answer")
            body = bytearray()
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksError("JWKS larger than the cap")
            return bytes(body)

    def _http(self) -> httpx.AsyncClient:
        # Created on first use, so a verifier built outside an event loop (at start-up) and
        # one that never fetches (static JWKS only) open nothing.
        if self._client is None:
            self._client = httpx.AsyncClient(
                verify=ssl_context(self._settings.jwks_ca_file),
                follow_redirects=False,
                timeout=httpx.Timeout(self._settings.jwks_timeout_seconds),
            )
        return self._client
