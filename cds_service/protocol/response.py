"""Cards and the service response (SPEC-16 to SPEC-27), with the spec's invariants enforced
at construction, so a non-conformant card cannot be built, let alone sent."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cds_service.protocol.base import WireModel

Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]

SUMMARY_LIMIT = 140  # SPEC-18: "<140 characters"


def _new_uuid() -> str:
    return str(uuid.uuid4())


def _absolute(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError("must be an absolute URL")
    return url


class Coding(WireModel):
    code: str = Field(min_length=1)
    system: str | None = None
    display: str | None = None


class OverrideReason(Coding):
    """SPEC-23: an override reason is a Coding with system, code *and* display."""

    system: str = Field(min_length=1)
    display: str = Field(min_length=1)


class Source(WireModel):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    @field_validator("url", "icon")
    @classmethod
    def _absolute_urls(cls, value: str | None) -> str | None:
        return _absolute(value) if value is not None else None


class Action(WireModel):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _payload_matches_type(self) -> Action:
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"a {self.type} action needs a resource (SPEC-22)")
        if self.type == "delete" and not self.resourceId:
            raise ValueError("a delete action needs resourceId (SPEC-22)")
        return self


class Suggestion(WireModel):
    label: str = Field(min_length=1)
    uuid: str = Field(default_factory=_new_uuid)
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(WireModel):
    label: str = Field(min_length=1)
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        return _absolute(value)

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links (SPEC-24)")
        return self


class Card(WireModel):
    uuid: str = Field(default_factory=_new_uuid)
    summary: str = Field(min_length=1, max_length=SUMMARY_LIMIT - 1)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: SelectionBehavior | None = None
    overrideReasons: list[OverrideReason] | None = None
    links: list[Link] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _suggestion_rules(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("suggestions require selectionBehavior (SPEC-20)")
        recommended = sum(1 for s in self.suggestions or () if s.isRecommended)
        if recommended > 1 and self.selectionBehavior != "any":
            raise ValueError("several recommended suggestions need selectionBehavior 'any'")
        return self


class CdsResponse(WireModel):
    _keep_empty: ClassVar[frozenset[str]] = frozenset({"cards"})

    cards: list[Card] = Field(default_factory=list)
    systemActions: list[Action] | None = None
