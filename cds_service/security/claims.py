"""The checks on a verified token's claims (SPEC-31/32/37). Run only after the signature holds.

Required: `iss`, `aud`, `exp`, `iat`, `jti` (CDS Hooks 2.0 §Trusting CDS Clients). Times are
NumericDate (JSON numbers, not booleans or strings). With `now` the verifier's clock and `L`
the leeway:

* `exp`: refused when `now > exp + L`;
* `nbf` (optional; Epic sends it): refused when `now + L < nbf`;
* `iat`: refused when `iat > now + L` (a token from the future: a skewed or forged clock) and
  when `now - iat > max_age + L` (a token minted long ago, kept for later use, whatever its
  exp). CDS clients mint a token per call, so the age check costs them nothing and it bounds
  the replay window even for issuers that set far `exp` values;
* `aud`: a string or an array of strings containing the invoked endpoint's URL exactly;
* `tenant`: optional, but when the client lists tenants it must be one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cds_service.security.errors import Rejected, RejectReason

_REQUIRED = ("iss", "aud", "exp", "iat", "jti")


@dataclass(frozen=True, slots=True)
class Checked:
    """What the verifier needs from claims that passed."""

    iss: str
    jti: str
    tenant: str | None
    remember_until: float
    """When the jti may be forgotten: after this, the time checks refuse the token anyway."""


def check_claims(
    claims: dict[str, Any],
    *,
    audience: str,
    now: float,
    leeway: float,
    max_age: float,
    tenants: Sequence[str],
) -> Checked:
    if any(name not in claims for name in _REQUIRED):
        raise Rejected(RejectReason.MISSING_CLAIM)
    iss, jti, tenant = claims["iss"], claims["jti"], claims.get("tenant")
    if not isinstance(iss, str) or not isinstance(jti, str) or not jti:
        raise Rejected(RejectReason.MISSING_CLAIM)
    if tenant is not None and not isinstance(tenant, str):
        raise Rejected(RejectReason.MISSING_CLAIM)
    exp, iat = _numeric_date(claims["exp"]), _numeric_date(claims["iat"])
    nbf = _numeric_date(claims["nbf"]) if "nbf" in claims else None

    if not _audience_matches(claims["aud"], audience):
        raise Rejected(RejectReason.AUDIENCE)
    if now > exp + leeway:
        raise Rejected(RejectReason.EXPIRED)
    if nbf is not None and now + leeway < nbf:
        raise Rejected(RejectReason.NOT_YET_VALID)
    if iat > now + leeway:
        raise Rejected(RejectReason.ISSUED_IN_FUTURE)
    if now - iat > max_age + leeway:
        raise Rejected(RejectReason.TOO_OLD)
    if tenants and tenant not in tenants:
        raise Rejected(RejectReason.TENANT)
    return Checked(iss, jti, tenant, min(exp, iat + max_age) + leeway)


def _numeric_date(value: object) -> float:
    # bool is an int in Python; `true` is not a date.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(RejectReason.MISSING_CLAIM)
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float: no real date
        raise Rejected(RejectReason.MISSING_CLAIM) from None


def _audience_matches(aud: object, audience: str) -> bool:
    if isinstance(aud, str):
        return aud == audience
    if isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
        return audience in aud
    return False
