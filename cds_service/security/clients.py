"""Who may call the service (SPEC-30..37), as configured by the operator.

A CDS client is trusted by its exact `iss`. Its public keys come from an allowlisted JWKS URL
(`jku`) or from a static JWKS file handed over out of band. Both are configuration, never taken
from a token: a token can only *select* among what is listed here.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class TrustedClient(BaseModel):
    """One CDS client (an EHR, or the sandbox in development) allowed to call the service.

    `jwks_file`, when set, is the client's only key source: no JWKS is ever fetched for it. A
    token's `jku` header must still be one of `jku`, so a sandbox-like client is configured
    with its published `jku` listed and a pinned copy of that JWKS as the file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Label for logs and metrics.")
    iss: str = Field(min_length=1, description="The exact `iss` claim the client sends.")
    jku: list[str] = Field(
        default_factory=list,
        description="JWKS URLs (https) a token's `jku` header may name; the first is the default.",
    )
    jwks_file: Path | None = Field(
        default=None, description="A static JWKS (public keys only); replaces any fetch."
    )
    fhir_servers: list[str] = Field(
        default_factory=list, description="FHIR servers this client may send (SSRF allowlist)."
    )
    tenants: list[str] = Field(
        default_factory=list, description="Allowed `tenant` claims; empty allows any or none."
    )

    @field_validator("jku")
    @classmethod
    def _https_only(cls, urls: list[str]) -> list[str]:
        # Keys fetched over plain http could be swapped by anyone on the path.
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme != "https" or not parts.hostname:
                raise ValueError(f"jku must be an absolute https URL: {url!r}")
        return urls

    @model_validator(mode="after")
    def _has_key_source(self) -> TrustedClient:
        if not self.jku and self.jwks_file is None:
            raise ValueError(f"client {self.name!r} needs a jku URL or a jwks_file")
        return self


class JwtSettings(BaseModel):
    """How strictly tokens are checked and how JWKS are fetched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    leeway_seconds: int = Field(
        default=5,
        ge=0,
        le=60,
        description=(
            "Clock skew tolerated on exp, nbf and iat. The sandbox's iat can be half a second "
            "ahead of ours; a few seconds cover ordinary NTP drift without widening replay."
        ),
    )
    max_token_age_seconds: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description=(
            "A token whose iat is older than this is rejected, whatever its exp says. CDS "
            "clients mint one token per call (the sandbox: exp = iat + 300), so a real token "
            "arrives seconds old. This also bounds how long a jti must be remembered, so the "
            "replay cache stays small even for issuers that set a far exp."
        ),
    )
    jwks_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="Budget for each phase of one JWKS fetch."
    )
    jwks_refresh_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Minimum interval between two fetches of the same JWKS URL triggered by an unknown "
            "kid: a rotation is picked up at once, a flood of made-up kids costs one fetch a "
            "minute."
        ),
    )
    jwks_ca_file: Path | None = Field(
        default=None,
        description="Extra CA certificates (PEM) trusted for JWKS fetches, e.g. a hospital CA.",
    )
