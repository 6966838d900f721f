"""Issue 14: the exact-type fast paths (dict, list, float) and the cheaper frozen-dataclass
`__init__` read and build exactly what the general paths do."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhir_mappings.facts import Fact, Interval, Unusable
from fhir_mappings.frozen import fast_init
from tests.fhir_mappings.test_properties import (
    EXAMPLE_RESOURCES,
    PROPERTY,
    facts_of,
    json_values,
    malformed,
    resources,
)


class _Float(float):
    """A float subclass: `number` must take its general path."""


def _general(value: Any) -> Any:
    """The same JSON as read-only mappings, tuples and float subclasses (no exact dict, list
    or float left), so every reader takes its general path."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _general(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_general(item) for item in value)
    if type(value) is float:
        return _Float(value)
    return value


@PROPERTY
@given(
    st.lists(st.one_of(json_values, resources, malformed()), max_size=6),
    st.lists(resources, max_size=2),
)
def test_issue14_fast_and_general_paths_give_the_same_facts(
    items: list[Any], drafts: list[Any]
) -> None:
    assert facts_of([_general(i) for i in items], [_general(d) for d in drafts]) == facts_of(
        items, drafts
    )


def test_issue14_worked_examples_read_alike_through_the_general_path() -> None:
    assert facts_of([_general(r) for r in EXAMPLE_RESOURCES]) == facts_of(EXAMPLE_RESOURCES)


@pytest.mark.parametrize("kind", [Fact, Interval, Unusable])
def test_issue14_fast_init_keeps_the_dataclass_signature(kind: type) -> None:
    """The signature a plain frozen dataclass of the same fields would have."""
    namespace: dict[str, Any] = {"__annotations__": dict(kind.__annotations__)}
    for field in dataclasses.fields(kind):
        if field.default is not dataclasses.MISSING:
            namespace[field.name] = field.default
    plain = dataclasses.dataclass(frozen=True)(type(kind.__name__, (), namespace))
    assert inspect.signature(kind) == inspect.signature(plain)


def test_issue14_fast_init_instances_are_frozen_equal_and_replaceable() -> None:
    fact = Fact(1.5, "Observation/o", unit="mg/L")
    assert fact == Fact(value=1.5, reference="Observation/o", unit="mg/L")
    assert hash(fact) == hash(Fact(1.5, "Observation/o", unit="mg/L"))
    assert dataclasses.replace(fact, unit=None).unit is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        fact.value = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Fact(1.5)  # type: ignore[call-arg]


def test_issue14_fast_init_refuses_what_it_cannot_reproduce() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(slots=True)
    class Mutable:
        value: int

    for kind in (WithFactory, Mutable):
        with pytest.raises(TypeError):
            fast_init(kind)
