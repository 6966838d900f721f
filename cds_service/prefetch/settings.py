"""Limits for fetching prefetch data the EHR did not send.

The CDS Hooks client waits for the service synchronously (SPEC-40: about 500 ms). The
service's own work after the data has arrived (mapping, rules, cards) takes a few tens of
milliseconds, and the request and response cross the network once each. That leaves roughly
400 ms for the fallback FHIR queries, which run concurrently, so the whole fallback is bounded
by one deadline rather than by the sum of its requests (the deadline also covers the reads of
medications referenced by id, which follow the medication queries).

Why 400 ms and not less: a production FHIR search usually answers in 100 to 300 ms; a tighter
deadline would turn ordinary latency into "data unknown" cards, which is worse for the
clinician than answering slightly after 500 ms. Why not more: a slow FHIR server must not hold
the clinician's workflow; at the deadline the unfinished keys are reported as unobtainable.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FetchSettings(BaseModel):
    """How long and how far the service may query `fhirServer` for one hook request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deadline_ms: int = Field(
        default=400,
        gt=0,
        description="Overall budget for all fallback queries of one hook request.",
    )
    request_timeout_ms: int = Field(
        default=300,
        gt=0,
        description=(
            "Budget for each phase of one HTTP exchange (connect, send, each read). Shorter "
            "than the deadline so that one hanging page is reported as that page's timeout; "
            "the deadline bounds everything regardless."
        ),
    )
    backstop_ms: int = Field(
        default=50,
        ge=0,
        description=(
            "How long after the deadline an unfinished request is cancelled. Requests end "
            "themselves before the deadline (their timeouts are cut to the time left); this "
            "only catches one that does not, such as an answer trickling in byte by byte."
        ),
    )
    max_connections: int = Field(
        default=20,
        ge=2,
        description="Connections the shared FHIR client keeps open, to all servers together.",
    )
    max_requests_per_server: int = Field(
        default=12,
        ge=1,
        description=(
            "Requests in flight to one FHIR server at once, across all hook requests; the "
            "others wait their turn (within the deadline). Must be below max_connections, so "
            "that no request waits for a pool slot, where cancelling it could lose the slot."
        ),
    )
    keepalive_expiry_s: float = Field(
        default=4.0,
        gt=0,
        description="Idle connections are closed after this long (below most servers' own).",
    )
    watchdog_failures: int = Field(
        default=20,
        ge=1,
        description=(
            "Consecutive FHIR requests, to every server, that failed to connect or timed out "
            "before the fallback is declared stuck: /readyz answers 503, the client is rebuilt."
        ),
    )
    watchdog_seconds: float = Field(
        default=10.0,
        ge=0,
        description=(
            "How long those failures must have lasted, and how long /readyz stays 503 at most "
            "after a trip unless a FHIR server answers first."
        ),
    )
    max_answer_bytes: int = Field(
        default=4 * 1024 * 1024,
        gt=0,
        description=(
            "Largest FHIR answer (one page) read; a larger one makes its key unavailable, "
            "named on the card, instead of taking the memory and the deadline of the call."
        ),
    )
    max_pages: int = Field(
        default=5,
        ge=1,
        description="Pages read per key, the first included; `next` links beyond are not followed.",
    )
    require_https: bool = Field(
        default=True,
        description="Refuse a non-https fhirServer (SPEC-09); off only for local development.",
    )

    @model_validator(mode="after")
    def _requests_below_pool(self) -> FetchSettings:
        if self.max_requests_per_server >= self.max_connections:
            raise ValueError("max_requests_per_server must be below max_connections")
        return self
