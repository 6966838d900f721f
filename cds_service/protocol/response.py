"""Cards and the service response (SPEC-16 to SPEC-27), with the spec's invariants enforced
at construction, so a non-conformant card cannot be built, let alone sent."""

from __future__ import annotations

import math
import uuid
from typing import Any, ClassVar, Literal

import orjson
from pydantic import Field, field_validator, model_validator
from pydantic_core import to_jsonable_python

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

    def wire(self) -> dict[str, Any]:
        """The JSON object to put on the wire: what `WireModel.wire` gives, without pydantic's
        serialiser.

        Every model here was validated when it was built, so the answer needs no second pass
        through pydantic: a walk over the fields that drops None and empty values (SPEC-02)
        says the same at a fraction of the cost (`model_dump` plus `prune` took about 9 % of a
        59-resource call, issue 14). tests/protocol/test_response_wire.py holds the two equal."""
        return _wire_model(self)


def wire_json(wire: dict[str, Any]) -> bytes:
    """The bytes of a wire object (orjson: UTF-8, compact). `wire()` has already refused what
    JSON cannot hold (NaN, infinities), which orjson would otherwise write as null."""
    return orjson.dumps(wire)


def _wire_model(model: WireModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = _wire_value(getattr(model, name))
        if not _empty(value) or name in model._keep_empty:
            out[name] = value
    return out


def _wire_value(value: Any) -> Any:
    if isinstance(value, str | bool | int):
        return value
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a response cannot hold NaN or infinity (JSON has none)")
        return value
    if isinstance(value, WireModel):
        return _wire_model(value)
    if isinstance(value, list):
        items = [_wire_value(item) for item in value]
        return [item for item in items if not _empty(item)]
    if isinstance(value, dict):
        pairs = ((str(key), _wire_value(item)) for key, item in value.items())
        return {key: item for key, item in pairs if not _empty(item)}
    # Anything else (a date, a tuple, a Decimal in a free-form dict): as pydantic's JSON mode
    # writes it, then pruned the same way.
    return _wire_value(to_jsonable_python(value))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)
