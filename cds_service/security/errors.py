"""Why a token was refused: one short label per check, for the log and the metrics.

The caller never sees the reason (every refusal is the same 401, SPEC-37), so the label set can
be precise for operators without helping an attacker. It is a closed enum so that a metrics
label cannot grow without bound, and no text from the token ever enters an exception message.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    NO_TOKEN = "no-token"  # noqa: S105 (a label, not a secret)
    """No Authorization header, or an empty one."""
    MALFORMED = "malformed"
    """Not `Bearer <compact JWS>`, too large, bad base64url or JSON, `typ` not JWT, `crit`."""
    ALGORITHM = "algorithm"
    """`alg` other than ES384 / RS384 (none, HS*, ...): refused before any key lookup."""
    UNTRUSTED_ISSUER = "untrusted-issuer"
    UNTRUSTED_JKU = "untrusted-jku"
    """A `jku` header that is not one of the issuer's allowlisted URLs; nothing is fetched."""
    UNKNOWN_KEY = "unknown-key"
    SIGNATURE = "signature"
    AUDIENCE = "audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    ISSUED_IN_FUTURE = "issued-in-future"
    TOO_OLD = "too-old"
    """`iat` older than `JwtSettings.max_token_age_seconds`."""
    MISSING_CLAIM = "missing-claim"
    """A required claim (iss, aud, exp, iat, jti) is absent or of the wrong JSON type."""
    REPLAYED = "replayed"
    TENANT = "tenant"
    JWKS_UNAVAILABLE = "jwks-unavailable"
    """The issuer's JWKS could not be fetched (and none is cached)."""


class Rejected(Exception):
    """The token does not authenticate its caller. The message is the reason label only."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(f"token rejected: {reason}")
        self.reason = reason
