"""Feedback on cards (SPEC-28, SPEC-29): what the EHR reports the clinician did."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from cds_service.protocol.base import InboundModel


class InboundCoding(InboundModel):
    code: str = Field(min_length=1)
    system: str | None = None
    display: str | None = None


class AcceptedSuggestion(InboundModel):
    id: str = Field(min_length=1)


class OverrideReasonFeedback(InboundModel):
    reason: InboundCoding | None = None
    userComment: str | None = None


class FeedbackItem(InboundModel):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReasonFeedback | None = None
    outcomeTimestamp: datetime

    @model_validator(mode="after")
    def _accepted_names_suggestions(self) -> FeedbackItem:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted outcome requires acceptedSuggestions")
        return self


class FeedbackRequest(InboundModel):
    feedback: list[FeedbackItem] = Field(min_length=1)
