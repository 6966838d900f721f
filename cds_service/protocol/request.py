"""The hook request as EHRs send it (SPEC-08, SPEC-09, SPEC-39, SPEC-41).

The generic request model checks only what CDS Hooks requires of every request; what a given
hook's context must hold is checked against `hooks.CONTEXT_MODELS`, so an unfamiliar hook's request
still parses.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from cds_service.protocol.base import InboundModel


class FhirAuthorization(InboundModel):
    """OAuth 2.0 access token for the FHIR server. The token is a SecretStr so that no repr,
    log line or validation error can print it (SPEC-10)."""

    access_token: SecretStr
    token_type: str
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None

    @field_validator("token_type")
    @classmethod
    def _bearer_only(cls, value: str) -> str:
        if value.lower() != "bearer":
            raise ValueError("token_type must be 'Bearer'")
        return "Bearer"


class HookRequest(InboundModel):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    # Values are deliberately untyped: a key may hold a resource, null, an OperationOutcome or
    # something unreadable, and the prefetch layer decides per key what each means (SPEC-12/13).
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("fhirServer must be an absolute http(s) URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirAuthorization requires fhirServer (cds-r-1)")
        return self

    @property
    def access_token(self) -> str | None:
        """The bearer token, for the FHIR fetch of this request only."""
        auth = self.fhirAuthorization
        return auth.access_token.get_secret_value() if auth else None
