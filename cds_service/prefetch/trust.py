"""Whether a request's `fhirServer` is one of the FHIR servers its client may have us query.

Issue 11 (SSRF): the service sends a caller's access token to, and fetches from, only a
`fhirServer` that names the same FHIR base as an allowlisted URL of that caller. The check is
deliberately a strict comparison of a narrow URL form, not a general URL normaliser: every
character that lets two parsers (ours, httpx's, a proxy's) disagree about where a URL points
(userinfo `@`, backslashes, percent-escapes, whitespace and control characters, dot segments,
query, fragment, non-ASCII) makes the URL "not allowed" rather than something to interpret. A
real FHIR base URL (`https://ehr.example.org/fhir/R4`) needs none of them, so refusing them
costs nothing, and what passes is read the same way by any parser.

Allowed spellings of the same base: the scheme and host in any letter case, the default port
(443, 80) written or not, and one trailing slash or not. Nothing else is equivalent: not a
trailing dot on the host, not an IP written in decimal, not a different port or path case.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

# The whole URL: RFC 3986 unreserved, sub-delims (bar "@" and "%"), ":", "/", "[" and "]".
_URL: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/]*)(?P<path>/[^?#]*)?"
)
_ALLOWED_CHARACTERS: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:/\[\]]*")
# A DNS name (labels of letters, digits and inner hyphens) or a bracketed IPv6 literal, then an
# optional port of digits. No userinfo, no empty labels, no trailing dot.
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_AUTHORITY: Final = re.compile(
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?"
)


@dataclass(frozen=True, slots=True)
class FhirBase:
    """A FHIR base URL reduced to what decides where requests go: compared, never fetched."""

    scheme: str
    host: str
    port: int
    path: str


def fhir_base(url: str) -> FhirBase | None:
    """`url` as a `FhirBase`, or None when it is not an http(s) URL in the narrow form above."""
    if not _ALLOWED_CHARACTERS.fullmatch(url):
        return None  # whitespace, controls, "%", "\\", "@", "?", "#", non-ASCII
    parts = _URL.fullmatch(url)
    if parts is None:
        return None
    scheme = parts["scheme"].lower()
    authority = _AUTHORITY.fullmatch(parts["authority"])
    if scheme not in _DEFAULT_PORTS or authority is None:
        return None
    port = _DEFAULT_PORTS[scheme] if authority["port"] is None else int(authority["port"])
    if not 0 < port <= 65535:
        return None
    path = parts["path"] or ""
    if any(segment in (".", "..") for segment in path.split("/")):
        return None
    return FhirBase(scheme, authority["host"].lower(), port, path.removesuffix("/"))


def fhir_server_allowed(server: str | None, allowed: Collection[str]) -> bool:
    """Whether `server` names the same FHIR base as one of the `allowed` URLs.

    False for a missing `server`, for one outside the narrow form, and against an `allowed`
    entry outside it (such an entry matches nothing, rather than something unexpected).
    """
    if server is None:
        return False
    wanted = fhir_base(server)
    return wanted is not None and any(fhir_base(entry) == wanted for entry in allowed)
