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

from pydantic import BaseModel, ConfigDict, Field


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
    max_pages: int = Field(
        default=5,
        ge=1,
        description="Pages read per key, the first included; `next` links beyond are not followed.",
    )
    require_https: bool = Field(
        default=True,
        description="Refuse a non-https fhirServer (SPEC-09); off only for local development.",
    )
