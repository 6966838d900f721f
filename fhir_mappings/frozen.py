"""A cheaper `__init__` for the frozen, slotted dataclasses built once per record read (issue 14).

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__` (its own
`__setattr__` refuses changes); setting the slots through their descriptors stores the same
values about twice as fast. Nothing else changes: the instances are as frozen, equal, hashed and
printed as before, and the signature (names, order, defaults) is the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

C = TypeVar("C", bound=type)


def fast_init(cls: C) -> C:
    """Apply above `@dataclass(frozen=True, slots=True)` on a class whose fields are plain
    (no default_factory, no init=False or kw_only) and which has no `__post_init__`."""
    found = dataclasses.fields(cls)
    plain = all(
        f.init and not f.kw_only and f.default_factory is dataclasses.MISSING for f in found
    )
    params = getattr(cls, "__dataclass_params__", None)
    if not (plain and params and params.frozen and "__slots__" in vars(cls)):
        raise TypeError(f"{cls.__name__}: fast_init takes a frozen, slotted, plain dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: fast_init cannot run __post_init__")
    namespace = {f"_set_{f.name}": getattr(cls, f.name).__set__ for f in found}
    parameters = []
    for f in found:
        if f.default is dataclasses.MISSING:
            parameters.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            parameters.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"\n    _set_{f.name}(self, {f.name})" for f in found)
    # The source is made of the class's own field names, never of input.
    exec(f"def __init__(self, {', '.join(parameters)}):{body}", namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = vars(cls)["__init__"].__annotations__
    setattr(cls, "__init__", init)  # noqa: B010 (mypy refuses assigning to a method)
    return cls
