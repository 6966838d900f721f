"""UCUM unit conversion backed by `ucumvert` (a UCUM grammar on top of pint).

Only UCUM codes are converted: `Quantity.code` when its system is UCUM, else `Quantity.unit`
when that is itself valid UCUM; free display text ("x10^9/L") is never guessed at. Conversion
factors are cached per (from, to) because a pint conversion costs milliseconds.

ucumvert returns a bare string instead of a quantity for annotation-only units such as `{INR}`
or `{titer}`; annotations carry no dimension in UCUM, so they are stripped before parsing and an
annotation-only unit reads as the unity `1`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from fhir_mappings.read import JSON, UCUM_SYSTEM, number, text

_ANNOTATION = re.compile(r"\{[^{}]*\}")
_registry: Any = None
_registry_lock = threading.Lock()


class Converted(NamedTuple):  # a tuple: one per result read, cheaper than a dataclass
    value: float
    unit: str


def _ureg() -> Any:
    """The pint registry with UCUM definitions; built once (about half a second)."""
    global _registry  # a process-wide cache of an expensive, immutable object
    with _registry_lock:
        if _registry is None:
            from ucumvert import PintUcumRegistry

            _registry = PintUcumRegistry()
        return _registry


def _strip_annotations(code: str) -> str:
    stripped = _ANNOTATION.sub("", code).strip()
    return stripped or "1"


_MAX_CODE_LENGTH = 64  # clinical UCUM codes are short; longer strings are not parsed at all


@lru_cache(maxsize=1024)
def _parse(code: str) -> Any:
    """A pint quantity of one `code`, or None when it is not valid UCUM."""
    if len(code) > _MAX_CODE_LENGTH:
        return None
    try:
        parsed = _ureg().from_ucum(_strip_annotations(code))
    except Exception:  # ucumvert raises lark, pint and its own errors alike
        return None
    return parsed if hasattr(parsed, "dimensionality") else None


def is_ucum(code: str) -> bool:
    return _parse(code) is not None


def ucum_code(quantity: JSON) -> str | None:
    """The UCUM code of a FHIR Quantity, per the module rule, or None."""
    code, unit = text(quantity.get("code")), text(quantity.get("unit"))
    system = text(quantity.get("system"))
    if code and (system == UCUM_SYSTEM or (system is None and is_ucum(code))):
        return code
    if unit and is_ucum(unit):
        return unit
    return None


def _numerator_dimensions(quantity: Any) -> Any:
    """Dimensions of the positive-exponent factors: keeps mg/kg apart from % and `1`."""
    ureg = _ureg()
    dims = ureg.Quantity(1).dimensionality
    for name, exponent in quantity.unit_items():
        if exponent > 0:
            dims = dims * ureg.Quantity(1, name).dimensionality ** exponent
    return dims


@lru_cache(maxsize=1024)
def factor(source: str, target: str) -> float | None:
    """Multiply a value in `source` by this to get `target`; None if not convertible.

    Besides equal dimensions the numerators must agree, because pint reduces mass ratios
    (ug/g) and plain numbers (%, annotations) to the same "dimensionless".
    """
    if source == target:
        return 1.0
    parsed_source, parsed_target = _parse(source), _parse(target)
    if parsed_source is None or parsed_target is None:
        return None
    if parsed_source.dimensionality != parsed_target.dimensionality:
        return None
    if _numerator_dimensions(parsed_source) != _numerator_dimensions(parsed_target):
        return None
    try:
        return float((parsed_source / parsed_target).to_reduced_units().to("").magnitude)
    except Exception:  # offset units (Cel) and the like: not a plain factor
        return None


def tidy(value: float) -> float:
    """Drop float noise from the factor (305000 /uL -> 305.0, not 305.00000000000006)."""
    return float(f"{value:.12g}")


def convert(quantity: JSON, target: str, molar: tuple[str, float] | None = None) -> Converted | str:
    """`quantity` in `target` units, or the reason it cannot be (a value, not an exception).

    `molar` is (molar unit, amount per target unit) for analytes with a known molar mass, e.g.
    CRP: ("nmol/L", 9.52) as 1 mg/L = 9.52 nmol/L.
    """
    value = number(quantity.get("value"))
    if value is None:
        return "no numeric value"
    code = ucum_code(quantity)
    if code is None:
        shown = text(quantity.get("code")) or text(quantity.get("unit"))
        return f"unit {_clip(shown)!r} is not a UCUM code" if shown else "no unit"
    scale = factor(code, target)
    if scale is None and molar is not None:
        to_molar = factor(code, molar[0])
        scale = to_molar / molar[1] if to_molar is not None else None
    if scale is None:
        return f"unit {_clip(code)!r} cannot be converted to {target!r}"
    converted = tidy(value * scale)
    if not math.isfinite(converted):
        return f"value {value:g} {_clip(code)} is out of range"
    return Converted(converted, target)


def _clip(shown: str) -> str:
    return shown if len(shown) <= 40 else shown[:37] + "..."


def same_unit_value(quantity: Mapping[str, Any], unit: str | None) -> float | None:
    """`quantity`'s value expressed in `unit` (None: unitless both sides), or None."""
    code = ucum_code(quantity)
    value = number(quantity.get("value"))
    if value is None:
        return None
    if unit is None or code is None:
        return value if unit == code else None
    scale = factor(code, unit)
    return tidy(value * scale) if scale is not None else None
