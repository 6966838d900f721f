"""Who is calling: bearer JWT verification for CDS Hooks 2.0 (SPEC-30..37).

This room knows nothing of HTTP frameworks: `TokenVerifier.verify` takes the raw
`Authorization` value and the audience URL and returns a `Caller` or raises `Rejected`.
`cds_service.http.auth` is the one place that connects it to a request.
"""

from cds_service.security.clients import JwtSettings, TrustedClient
from cds_service.security.errors import Rejected, RejectReason
from cds_service.security.replay import MemoryReplayCache, ReplayCache, SqlReplayCache
from cds_service.security.verify import Caller, TokenVerifier

__all__ = [
    "Caller",
    "JwtSettings",
    "MemoryReplayCache",
    "RejectReason",
    "Rejected",
    "ReplayCache",
    "SqlReplayCache",
    "TokenVerifier",
    "TrustedClient",
]
