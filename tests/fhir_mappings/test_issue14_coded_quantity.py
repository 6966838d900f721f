"""Issue 14: the one-pass read of a coded quantity result and the cached code recognition
return exactly what the general readers do, for the common result and for every malformed
variant of it the general path handles (decision-spec §10: none may read as usable data)."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from benchmarks.records import resources as benchmark_record
from fhir_mappings import observations
from fhir_mappings.config import MappingConfig
from fhir_mappings.facts import MatchedBy
from fhir_mappings.observations import read_observation
from tests.fhir_mappings.resources import LOCAL, LOINC, UCUM
from tests.fhir_mappings.test_issue14_fast_paths import _general
from tests.fhir_mappings.test_properties import PROPERTY

TERMINOLOGY = MappingConfig().terminology
REFERENCE = "Observation/o"
ZONES: list[tzinfo] = [UTC, ZoneInfo("America/Los_Angeles"), ZoneInfo("Pacific/Kiritimati")]


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, or the key left out (`None` here is "absent", JSON null is drawn as a value)."""
    return st.one_of(st.just(_ABSENT), values)


_ABSENT = object()

odd = st.sampled_from([None, 3, True, [], {}, ["final"], {"value": 1}])
statuses = st.one_of(
    st.sampled_from(
        [
            "final",
            "amended",
            "corrected",
            " final ",
            "FINAL",
            "preliminary",
            "registered",
            "entered-in-error",
            "cancelled",
            "",
        ]
    ),
    odd,
)
systems = st.one_of(
    st.sampled_from([LOINC, LOINC + "/", " HTTP://LOINC.ORG ", LOCAL, "", "urn:oid:2.16.840.1"]),
    odd,
)
codes = st.one_of(
    st.sampled_from(
        ["1988-5", "30522-7", "76485-2", "777-3", "39803-2", "38445-3", " 1988-5 ", "59019-0"]
    ),
    st.sampled_from(["", "no-such-code", "x" * 300]),
    odd,
)
coding = st.fixed_dictionaries(
    {},
    optional={
        "system": systems,
        "code": codes,
        "display": st.sampled_from(["CRP", "Platelets", "Infliximab level", ""]),
    },
)
concepts = st.one_of(
    st.fixed_dictionaries(
        {"coding": st.lists(st.one_of(coding, odd), max_size=3)},
        optional={"text": st.sampled_from(["C-reactive protein", "Platelet count", ""])},
    ),
    st.fixed_dictionaries({"coding": coding}),
    st.fixed_dictionaries({"text": st.sampled_from(["CRP", "Faecal calprotectin"])}),
    odd,
)
moments = st.one_of(
    st.sampled_from(
        [
            "2026-11-01",
            "2026-11-01T10:00:00+02:00",
            "2026-11-01T23:30:00",
            " 2026-11-01 ",
            "2026-11",
            "2026",
            "2026-13-01",
            "",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "2027-06-01",
        ]
    ),
    odd,
)
units = st.one_of(
    st.sampled_from(
        [
            "mg/L",
            "mg/dL",
            " mg/dL ",
            "ug/mL",
            "nmol/L",
            "10*3/uL",
            "10*9/L",
            "/uL",
            "ug/g",
            "mg/kg",
            "x10^9/L",
            "Cel",
            "{INR}",
            "%",
            "",
        ]
    ),
    odd,
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**3), 10**6),
    st.sampled_from([10**400, 1e308, -0.0, 0.0, 0.4, 9.5, 280, 2500.0, "13.2"]),
    odd,
)
MALFORMED_QUANTITY = {
    "value": numbers,
    "unit": units,
    "system": st.one_of(
        st.sampled_from([UCUM, UCUM + "/", " " + UCUM, "http://other.org", ""]), odd
    ),
    "code": units,
    "comparator": st.one_of(st.sampled_from(["<", ">=", "ad", "", " <"]), odd),
}
quantities = st.one_of(st.fixed_dictionaries({}, optional=MALFORMED_QUANTITY), odd)


# A lab code and units it converts from without a molar mass; other pairings are drawn as
# malformed variants.
LAB_UNITS = {
    "1988-5": ["mg/L", "mg/dL", "ug/mL"],
    "777-3": ["10*3/uL", "10*9/L", "/uL"],
    "39803-2": ["ug/mL", "mg/L"],
    "38445-3": ["ug/g", "mg/kg"],
}


@st.composite
def good_results(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A recognised lab code and a quantity in a unit it converts from."""
    code = draw(st.sampled_from(sorted(LAB_UNITS)))
    unit = draw(st.sampled_from(LAB_UNITS[code]))
    value = draw(st.one_of(st.floats(0, 60, allow_nan=False), st.integers(0, 600)))
    codings = [{"system": LOINC, "code": code}]
    if draw(st.booleans()):
        codings.insert(draw(st.integers(0, 1)), {"system": LOCAL, "code": "local-1"})
    quantity = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return {"coding": codings}, quantity


GOOD = {
    "status": st.sampled_from(["final", "amended", "corrected"]),
    "effectiveDateTime": st.sampled_from(
        ["2026-11-01", "2026-11-01T10:00:00+02:00", "2026-11-01T23:30:00"]
    ),
    "issued": _maybe(st.sampled_from(["2026-11-02T08:00:00Z", "2026-11-02"])),
}
MALFORMED = {
    "status": statuses,
    "code": concepts,
    "effectiveDateTime": moments,
    "issued": moments,
    "valueQuantity": quantities,
}


@st.composite
def results(draw: st.DrawFn) -> dict[str, Any]:
    """An Observation of the common shape, each field well-formed or (one time in four)
    malformed or missing, plus the fields the general path reads when it is not usable."""
    concept, good_quantity = draw(good_results())
    good = {**GOOD, "code": st.just(concept), "valueQuantity": st.just(good_quantity)}
    fields = {
        key: draw(_maybe(MALFORMED[key]) if draw(st.integers(0, 3)) == 0 else well_formed)
        for key, well_formed in good.items()
    }
    if draw(st.integers(0, 3)) == 0 and fields["valueQuantity"] is not _ABSENT:
        quantity = fields["valueQuantity"]
        if isinstance(quantity, dict):
            quantity = dict(quantity)
            key = draw(st.sampled_from(["value", "unit", "system", "code", "comparator"]))
            quantity[key] = draw(MALFORMED_QUANTITY[key])
            fields["valueQuantity"] = quantity
    fields["effectivePeriod"] = draw(_maybe(st.fixed_dictionaries({"start": moments})))
    fields["valueString"] = draw(_maybe(st.sampled_from(["positive", "13.2 mg/L"])))
    fields["dataAbsentReason"] = draw(_maybe(st.just({"text": "not performed"})))
    found = {"resourceType": "Observation", "id": "o"}
    found.update({key: value for key, value in fields.items() if value is not _ABSENT})
    return found


@PROPERTY
@given(results(), st.sampled_from(ZONES))
def test_issue14_coded_quantity_reads_as_the_general_path(
    resource: dict[str, Any], zone: tzinfo
) -> None:
    """The same Observation as read-only mappings takes only the general readers."""
    fast = read_observation(resource, REFERENCE, TERMINOLOGY, zone)
    assert fast == read_observation(_general(resource), REFERENCE, TERMINOLOGY, zone)


@PROPERTY
@given(results(), st.sampled_from(ZONES))
def test_issue14_one_pass_result_is_the_general_reading(
    resource: dict[str, Any], zone: tzinfo
) -> None:
    """Wherever the one-pass readers answer, the general ones answer the same."""
    concept = resource.get("code")
    key = observations._coding_key(concept)
    cached = observations._coded_topic(TERMINOLOGY, key) if key is not None else None
    general = observations._recognise_concept(resource, concept, TERMINOLOGY)
    if cached is not None:
        assert general == (cached, MatchedBy.CODE)
    if general is None or general[0] not in observations._ANALYTES:
        return
    analyte = observations._ANALYTES[general[0]]
    one_pass = observations._coded_quantity(
        resource, REFERENCE, analyte, general[1], TERMINOLOGY, zone
    )
    if one_pass is not None:
        read = observations._read(resource, REFERENCE, general, TERMINOLOGY, zone)
        assert read == observations.ObservationFact(observations._TOPICS[analyte], one_pass)


def test_issue14_benchmark_results_take_the_one_pass_read() -> None:
    """The property tests above are not vacuous: the common result does take it."""
    record = [r for r in benchmark_record(200) if r["id"].startswith("history-")]
    for resource in record:
        recognised = observations._recognise(resource, TERMINOLOGY)
        assert recognised is not None
        analyte = observations._ANALYTES[recognised[0]]
        assert observations._coded_quantity(
            resource, REFERENCE, analyte, recognised[1], TERMINOLOGY, UTC
        ), resource
