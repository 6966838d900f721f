"""Cards and the service response (SPEC-16 to SPEC-27), with the spec's invariants enforced
at construction, so a non-conformant card cannot be built, let alone sent."""

from __future__ import annotations

import math
import os
from functools import cache
from typing import Any, ClassVar, Literal

import orjson
from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import to_jsonable_python

from cds_service.protocol.base import WireModel

Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]

SUMMARY_LIMIT = 140  # SPEC-18: "<140 characters"


def _new_uuid() -> str:
    """`str(uuid.uuid4())` (random, version 4, RFC 4122 variant) without building a UUID
    object, at under half the cost (two per card, issue 14)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # variant RFC 4122
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _absolute(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ValueError("must be an absolute URL")
    return url


class Coding(WireModel):
    code: str = Field(min_length=1)
    system: str | None = None
    display: str | None = None


class OverrideReason(Coding):
    """SPEC-23: an override reason is a Coding with system, code *and* display.

    Frozen, so that one validated instance may serve every card of a deployment."""

    model_config = ConfigDict(frozen=True)

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
    """Frozen, so that one validated instance may serve every card citing the same source."""

    model_config = ConfigDict(frozen=True)

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
        59-resource call, issue 14). tests/protocol/test_response_wire.py holds the two equal.

        Most answers hold nothing to drop below the models' unset fields, so orjson writes the
        models' data, free-form dicts and all, in one C-level pass (`_plain_text`), and the
        text is read back as the answer (a copy sharing nothing with the cards). Whatever that
        text might hide (null, an empty string, array or object: NaN and infinities are
        written as null) or orjson would not write as pydantic's JSON mode does (a date, a
        Decimal) takes the walk, which prunes, converts or refuses it."""
        text = _plain_text(self)
        if text is None:
            return _wire_model(self)
        wire: dict[str, Any] = orjson.loads(text)
        return wire

    def wire_text(self) -> bytes:
        """`wire_json(self.wire())`, without reading orjson's text back into objects only to
        write them again when the answer held nothing to drop or convert (issue 14)."""
        text = _plain_text(self)
        return wire_json(_wire_model(self)) if text is None else text


def wire_json(wire: dict[str, Any]) -> bytes:
    """The bytes of a wire object (orjson: UTF-8, compact). `wire()` has already refused what
    JSON cannot hold (NaN, infinities), which orjson would otherwise write as null."""
    return orjson.dumps(wire)


# orjson writes JSON's own types itself and hands everything else to `_refuse`.
_JSON_TYPES_ONLY = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
# In orjson's compact text, these appear only for a value to drop or refuse, or inside a string
# (which then takes the walk too: it is never wrong to walk).
_MAYBE_EMPTY = (b"null", b'""', b"[]", b"{}")


def _plain_text(model: WireModel) -> bytes | None:
    """`model` as JSON text when it holds nothing `_wire_model` would drop or convert, else
    None."""
    try:
        text = orjson.dumps(_fields(model), default=_refuse, option=_JSON_TYPES_ONLY)
    except TypeError:  # not JSON's own type, a key that is not a string, a 65-bit integer
        return None
    return None if any(mark in text for mark in _MAYBE_EMPTY) else text


def _fields(model: WireModel) -> dict[str, Any]:
    """The model's fields but the unset ones (None, unless the model keeps the field even
    empty: it then shows as null and takes the walk), nested models as dicts of theirs."""
    out: dict[str, Any] = {}
    for name in _field_names(type(model)):
        value = getattr(model, name)
        if value is None:
            if name not in model._keep_empty:
                continue
        elif isinstance(value, WireModel):
            value = _fields(value)
        elif type(value) is list:
            value = [_fields(item) if isinstance(item, WireModel) else item for item in value]
        out[name] = value
    return out


@cache
def _field_names(model: type[WireModel]) -> tuple[str, ...]:
    """A model class's fields in declaration order (one entry per wire model class)."""
    return tuple(model.model_fields)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _wire_model(model: WireModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _field_names(type(model)):
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
