"""Reading a bearer token before trusting it: strict, bounded, and with no crypto yet.

The verifier needs the header (alg, kid, jku) and the issuer to pick a key, i.e. before the
signature can be checked. This parse is deliberately stricter than RFC 7515 requires, so that
exactly one byte string means one token and parsers cannot disagree about it:

* at most `MAX_TOKEN_CHARS`: a CDS Hooks token is a few hundred bytes; a megabyte header must
  not cost a megabyte of base64 and JSON work;
* canonical base64url without padding (re-encoding gives the same text), so a token cannot be
  altered into an "equivalent" spelling that still verifies;
* JSON objects without duplicate names (which parser's "last one wins" would win?) and without
  NaN / Infinity.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cds_service.security.errors import Rejected, RejectReason

MAX_TOKEN_CHARS = 8192
"""Longest Authorization value accepted (8 KiB): well above any CDS Hooks JWT, far below a DoS."""

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class CompactToken:
    """The three segments as sent, the first two decoded (but not yet verified)."""

    text: str
    header: dict[str, Any]
    payload: dict[str, Any]
    signature: bytes


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive)."""
    if authorization is None or not authorization.strip():
        raise Rejected(RejectReason.NO_TOKEN)
    if len(authorization) > MAX_TOKEN_CHARS:
        raise Rejected(RejectReason.MALFORMED)
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Rejected(RejectReason.MALFORMED)
    return token


def header_of(token: str) -> tuple[dict[str, Any], list[str]]:
    """The decoded protected header and the three raw segments."""
    segments = token.split(".")
    if len(segments) != 3 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise Rejected(RejectReason.MALFORMED)
    return _json_object(_b64decode(segments[0])), segments


def parse(token: str, header: dict[str, Any], segments: list[str]) -> CompactToken:
    """The whole token, once the header has passed the algorithm check."""
    payload = _json_object(_b64decode(segments[1]))
    signature = _b64decode(segments[2])
    if not signature:
        raise Rejected(RejectReason.SIGNATURE)
    return CompactToken(token, header, payload, signature)


def _b64decode(segment: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise Rejected(RejectReason.MALFORMED) from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
        raise Rejected(RejectReason.MALFORMED)
    return raw


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # ValueError covers UnicodeDecodeError and JSONDecodeError; the message quotes the
        # input, so it is dropped here and never reaches a log.
        raise Rejected(RejectReason.MALFORMED) from None
    if not isinstance(value, dict):
        raise Rejected(RejectReason.MALFORMED)
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError("non-finite number")
