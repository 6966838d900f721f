"""UCUM conversion (units.py): every conversion decision-spec §7 names, and what is refused."""

from __future__ import annotations

import pytest

from fhir_mappings.units import Converted, convert, factor, ucum_code

UCUM = "http://unitsofmeasure.org"
CRP_MOLAR = ("nmol/L", 9.52)


def q(value: float, code: str) -> dict[str, object]:
    return {"value": value, "system": UCUM, "code": code, "unit": code}


@pytest.mark.parametrize(
    ("value", "unit", "target", "expected"),
    [
        (11.5, "ug/mL", "mg/L", 11.5),  # §7 ug/mL = mg/L
        (1.1, "mg/dL", "mg/L", 11.0),  # §7 mg/dL x 10
        (3.0, "mg/L", "mg/L", 3.0),
        (260, "10*3/uL", "10*9/L", 260.0),  # §7 10*3/uL = 10*9/L
        (305000, "/uL", "10*9/L", 305.0),  # §7 /uL divided by 1000 (a count)
        (305000, "/mm3", "10*9/L", 305.0),  # §7 /mm3 divided by 1000
        (305, "10*9/L", "10*9/L", 305.0),
        (45, "mg/kg", "ug/g", 45.0),
    ],
)
def test_s7_unit_conversions(value: float, unit: str, target: str, expected: float) -> None:
    assert convert(q(value, unit), target) == Converted(expected, target)


def test_s7_molar_crp_divided_by_9_52() -> None:
    assert convert(q(95.2, "nmol/L"), "mg/L", CRP_MOLAR) == Converted(10.0, "mg/L")
    assert convert(q(0.0952, "umol/L"), "mg/L", CRP_MOLAR) == Converted(10.0, "mg/L")


def test_s7_molar_unit_without_a_molar_mass_is_unconvertible() -> None:
    assert isinstance(convert(q(95.2, "nmol/L"), "mg/L"), str)


@pytest.mark.parametrize("unit", ["%", "{titer}", "[arb'U]/mL", "mmol/L", "mg"])
def test_s7_unconvertible_unit_is_a_reason_not_a_value(unit: str) -> None:
    result = convert(q(4, unit), "ug/g" if unit in ("%", "{titer}") else "mg/L")
    assert isinstance(result, str)
    assert "cannot be converted" in result


def test_s7_annotation_only_units_parse_as_unity() -> None:
    assert factor("{INR}", "1") == 1.0
    assert factor("{titer}", "{ratio}") == 1.0
    assert convert(q(1.2, "mg/L{CRP}"), "mg/L") == Converted(1.2, "mg/L")


def test_s7_free_display_text_is_never_converted() -> None:
    assert convert({"value": 260, "unit": "x10^9/L"}, "10*9/L") == (
        "unit 'x10^9/L' is not a UCUM code"
    )


def test_s7_ucum_code_is_preferred_to_the_unit_text() -> None:
    quantity = {"value": 1.1, "unit": "milligram per decilitre", "system": UCUM, "code": "mg/dL"}
    assert ucum_code(quantity) == "mg/dL"
    assert convert(quantity, "mg/L") == Converted(11.0, "mg/L")


def test_s7_unit_used_only_when_it_is_itself_valid_ucum() -> None:
    local = {
        "value": 1.1,
        "unit": "mg/dL",
        "system": "http://lab.example.org/units",
        "code": "MGDL",
    }
    assert ucum_code(local) == "mg/dL"
    assert ucum_code({"value": 1, "unit": "MGDL", "code": "MGDL", "system": "http://local"}) is None


def test_s7_missing_value_or_unit_is_a_reason() -> None:
    assert convert({"unit": "mg/L", "code": "mg/L", "system": UCUM}, "mg/L") == "no numeric value"
    assert convert({"value": 3}, "mg/L") == "no unit"


def test_factors_are_cached_per_unit_pair() -> None:
    factor.cache_clear()
    factor("mg/dL", "mg/L")
    factor("mg/dL", "mg/L")
    info = factor.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_conversion_overflowing_a_float_is_a_reason() -> None:
    assert convert(q(1e308, "mg/dL"), "mg/L") == "value 1e+308 mg/dL is out of range"


def test_overlong_unit_strings_are_not_parsed() -> None:
    result = convert({"value": 1, "unit": "mg/L" * 30}, "mg/L")
    assert isinstance(result, str) and len(result) < 80
