"""The serialisation rule every CDS Hooks object shares (SPEC-02).

CDS Hooks forbids `null` and asks that optional attributes without a value be omitted, which in
practice also means no empty strings, arrays or objects. Doing that once, in the base model's
serialiser, means no model (and no free-form `extension` or FHIR `resource` dict inside one) can
leak an empty value onto the wire.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer


def prune(value: Any) -> Any:
    """Drop None and empty containers/strings, recursively, from plain JSON-like data."""
    if isinstance(value, dict):
        pruned = {key: prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if not _is_empty(item)}
    if isinstance(value, list):
        items = [prune(item) for item in value]
        return [item for item in items if not _is_empty(item)]
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and len(value) == 0)


class WireModel(BaseModel):
    """Base of the models the service *emits*: unknown fields are a programming error."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # Fields that must appear even when empty (only `cards` in a response, per SPEC-02).
    _keep_empty: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        kept = {name: data[name] for name in self._keep_empty if name in data}
        return {**prune(data), **kept}

    def wire(self) -> dict[str, Any]:
        """The JSON object to put on the wire."""
        dumped: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return dumped


class InboundModel(WireModel):
    """Base of the models the service *receives*: tolerate unknown fields (SPEC-39)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
