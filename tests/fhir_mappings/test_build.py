"""build_facts: flattening, leniency, provenance, draft orders and site configuration."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings import (
    Analyte,
    DraftOrder,
    DrugClass,
    MappingConfig,
    MatchedBy,
    PatientFacts,
    build_facts,
)
from tests.fhir_mappings.resources import (
    LOCAL,
    TODAY,
    bundle,
    lab,
    observation,
    patient,
    request,
    rx,
    statement,
)


def test_bundles_of_any_type_are_flattened_including_nested() -> None:
    inner = bundle(lab("o2", "777-3", 250, "10*9/L"), kind="collection")
    outer = bundle(patient(), lab("o1", "1988-5", 2, "mg/L"), kind="batch-response")
    outer["entry"].append({"resource": inner})
    result = build_facts([outer], evaluated_on=TODAY)
    assert result.lab(Analyte.CRP)[0].reference == "Observation/o1"
    assert result.lab(Analyte.PLATELETS)[0].reference == "Observation/o2"


def test_operation_outcome_is_reported_with_its_diagnostics() -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "timeout", "diagnostics": "Observation search timed out"}
        ],
    }
    [problem] = build_facts([outcome], evaluated_on=TODAY).unusable
    assert problem.reason == "OperationOutcome: Observation search timed out"


@pytest.mark.parametrize("junk", [None, 3, "Observation/1", [], {"no": "type"}])
def test_non_resources_never_raise(junk: Any) -> None:
    build_facts([junk, patient()], evaluated_on=TODAY)


def test_one_broken_entry_does_not_hide_the_others() -> None:
    broken = lab("bad", "1988-5", 2, "mg/L", effectiveDateTime="yesterday")
    result = build_facts([patient(), broken, lab("good", "1988-5", 3, "mg/L")], evaluated_on=TODAY)
    assert [f.reference for f in result.lab(Analyte.CRP)] == ["Observation/good"]
    assert [u.reference for u in result.unusable] == ["Observation/bad"]


def test_vendor_elements_and_empty_strings_are_tolerated() -> None:
    obs = lab("o1", "1988-5", 2, "mg/L", _vendorFlag={"x": 1}, note="", extension=[{"url": ""}])
    assert build_facts([obs], evaluated_on=TODAY).lab(Analyte.CRP)


def test_another_patients_record_is_reported_not_read() -> None:
    foreign = lab("o1", "1988-5", 2, "mg/L", subject={"reference": "Patient/someone-else"})
    result = build_facts([patient(), foreign], evaluated_on=TODAY)
    assert result.lab(Analyte.CRP) == ()
    assert [u.reference for u in result.foreign] == ["Observation/o1"]
    assert "someone-else" not in result.foreign[0].reason  # it reaches this patient's card


@pytest.mark.parametrize("with_patient", [True, False])
def test_s10_whose_record_context_patient_id_decides(with_patient: bool) -> None:
    """§10: another patient's newer CRP never counts, whether or not the Patient arrived."""
    mine = lab("o1", "1988-5", 2, "mg/L", days_ago=20)
    theirs = lab("o2", "1988-5", 40, "mg/L", days_ago=1, subject={"reference": "Patient/p2"})
    resources = [patient(), mine, theirs] if with_patient else [mine, theirs]
    result = build_facts(resources, evaluated_on=TODAY, patient_id="p1")
    assert [f.reference for f in result.lab(Analyte.CRP)] == ["Observation/o1"]
    assert [u.reference for u in result.foreign] == ["Observation/o2"]


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "https://ehr.example.org/fhir/Patient/p1"},
        {"reference": "Patient/p1/_history/3"},
        {"reference": "Patient/p1"},
    ],
)
def test_s10_whose_record_relative_or_absolute_reference(subject: dict[str, str]) -> None:
    result = build_facts(
        [lab("o1", "1988-5", 2, "mg/L", subject=subject)], evaluated_on=TODAY, patient_id="p1"
    )
    assert len(result.lab(Analyte.CRP)) == 1 and result.foreign == ()


def test_s10_whose_record_no_subject_never_counts() -> None:
    record = lab("o1", "1988-5", 2, "mg/L")
    del record["subject"]
    result = build_facts([record], evaluated_on=TODAY, patient_id="p1")
    assert result.lab(Analyte.CRP) == () and len(result.foreign) == 1


def test_s10_whose_record_other_patient_resource_is_not_the_patient() -> None:
    other = patient(id="p2", birthDate="2015-01-01")
    result = build_facts([other], evaluated_on=TODAY, patient_id="p1")
    assert result.birth_date is None and result.patient_reference == "Patient/p1"


def test_patient_facts_are_immutable() -> None:
    result = build_facts([patient(), lab("o1", "1988-5", 2, "mg/L")], evaluated_on=TODAY)
    with pytest.raises(TypeError):
        result.labs[Analyte.CRP] = ()  # type: ignore[index]
    with pytest.raises(AttributeError):
        result.evaluated_on = date(2000, 1, 1)  # type: ignore[misc]


# --- draft orders (hook context) ------------------------------------------------------------


def draft(ident: str, medication: dict[str, Any]) -> dict[str, Any]:
    return request(ident, medication, 0, "draft", intent="proposal")


def test_draft_orders_from_a_bundle_without_type_with_selections() -> None:
    drafts = bundle(draft("d1", rx("1927290")), draft("d2", rx("1256")), kind=None)
    result = build_facts(
        [patient()], evaluated_on=TODAY, draft_orders=[drafts], selections=["MedicationRequest/d2"]
    )
    assert result.draft_orders == (
        DraftOrder(DrugClass.INFLIXIMAB, "MedicationRequest/d1", selected=False, display=None),
        DraftOrder(DrugClass.THIOPURINE, "MedicationRequest/d2", selected=True, display=None),
    )
    assert result.exposures == {}


def test_draft_orders_as_plain_entries_are_all_selected_without_selections() -> None:
    entries = bundle(draft("d1", {"text": "Azathioprine 50 mg tablet"}))["entry"]
    [order] = build_facts([], evaluated_on=TODAY, draft_orders=entries).draft_orders
    assert (order.drug, order.selected, order.matched_by) == (
        DrugClass.THIOPURINE,
        True,
        MatchedBy.NAME,
    )


def test_draft_orders_of_other_drugs_are_skipped() -> None:
    assert (
        build_facts([], evaluated_on=TODAY, draft_orders=[draft("d1", rx("197361"))]).draft_orders
        == ()
    )


def test_s2_draft_in_the_record_is_not_exposure() -> None:
    assert build_facts([draft("d1", rx("1256"))], evaluated_on=TODAY).exposures == {}


# --- site configuration ---------------------------------------------------------------------


def test_site_codes_from_a_toml_file_merge_with_builtins(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        """
[mapping]
renewal_gap_days = 380

[systems]
st-lab = "http://lab.example.org/codes"
st-pharmacy = ["http://pharmacy.example.org"]

[lists.crp]
source = "St Example lab catalogue 2026-03"
codes.st-lab = ["CRP1"]

[lists.thiopurine]
source = "St Example formulary"
codes.st-pharmacy = ["AZA50"]
"""
    )
    config = MappingConfig.from_toml(site)
    assert config.renewal_gap_days == 380
    local_crp = observation(
        "o1",
        {"coding": [{"system": LOCAL, "code": "CRP1"}]},
        valueQuantity={"value": 4, "system": "http://unitsofmeasure.org", "code": "mg/L"},
    )
    local_aza = statement(
        "s1", {"coding": [{"system": "http://pharmacy.example.org", "code": "AZA50"}]}
    )
    builtin = lab("o2", "1988-5", 2, "mg/L", effectiveDateTime="2026-01-01")
    result: PatientFacts = build_facts(
        [local_crp, local_aza, builtin], evaluated_on=TODAY, config=config
    )
    assert [f.reference for f in result.lab(Analyte.CRP)] == ["Observation/o1", "Observation/o2"]
    assert result.lab(Analyte.CRP)[0].matched_by is MatchedBy.CODE
    assert DrugClass.THIOPURINE in result.exposures


def test_site_list_without_source_is_rejected(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[lists.crp]\ncodes.loinc = ["X"]\n')
    with pytest.raises(ValueError, match="no source"):
        _ = MappingConfig(code_lists=(site,)).terminology


def test_site_list_for_an_unknown_topic_is_rejected(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[lists.ferritin]\nsource = "x"\ncodes.loinc = ["X"]\n')
    with pytest.raises(ValueError, match="unknown code-list topic"):
        _ = MappingConfig(code_lists=(site,)).terminology


def test_every_builtin_code_list_names_its_source() -> None:
    terminology = MappingConfig().terminology
    for matcher in (terminology.medications, terminology.observations, terminology.conditions):
        for code_list in matcher.lists.values():
            assert code_list.sources and all(s.strip() for s in code_list.sources), code_list.topic


def test_warm_up_loads_the_ucum_registry_and_code_lists() -> None:
    from fhir_mappings import warm_up
    from fhir_mappings.units import factor

    factor.cache_clear()
    warm_up()
    assert factor.cache_info().currsize >= 3


def test_a_lone_bundle_or_selection_is_read_as_a_list_of_one() -> None:
    drafts = bundle(draft("d1", rx("1256")), kind=None)
    result = build_facts(
        bundle(patient(), lab("o1", "1988-5", 2, "mg/L")),  # type: ignore[arg-type]
        evaluated_on=TODAY,
        draft_orders=drafts,  # type: ignore[arg-type]
        selections="MedicationRequest/d1",
    )
    assert result.lab(Analyte.CRP) and result.draft_orders[0].selected
    assert result.unusable == ()


@pytest.mark.parametrize("junk", [None, 3, 2.5])
def test_non_list_resources_are_reported_not_raised(junk: Any) -> None:
    [problem] = build_facts(junk, evaluated_on=TODAY).unusable
    assert problem.reason == f"expected a list, got {type(junk).__name__}"


def test_bundles_nested_too_deeply_are_reported() -> None:
    nested: dict[str, Any] = bundle(lab("o1", "1988-5", 2, "mg/L"))
    for _ in range(5):
        nested = bundle_of(nested)
    result = build_facts([nested], evaluated_on=TODAY)
    assert result.lab(Analyte.CRP) == ()
    assert [u.reason for u in result.unusable] == ["Bundle nested too deeply"]


def bundle_of(inner: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": inner}]}


def test_site_config_names_further_code_list_files_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "lab.toml").write_text(
        '[systems]\nlab = "http://lab.example.org/codes"\n'
        '[lists.platelets]\nsource = "St Example lab catalogue"\ncodes.lab = ["PLT"]\n'
    )
    (tmp_path / "site.toml").write_text('[mapping]\ncode_lists = ["lists/lab.toml"]\n')
    config = MappingConfig.from_toml(tmp_path / "site.toml")
    platelets = observation(
        "o1",
        {"coding": [{"system": LOCAL, "code": "PLT"}]},
        valueQuantity={"value": 250, "system": "http://unitsofmeasure.org", "code": "10*9/L"},
    )
    assert build_facts([platelets], evaluated_on=TODAY, config=config).lab(Analyte.PLATELETS)


def test_site_codes_may_name_their_system_by_uri(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        '[lists.antibodies]\nsource = "St Example lab catalogue"\n'
        'codes."http://lab.example.org/codes/" = ["X1"]\n'
    )
    obs = observation(
        "a1",
        {"coding": [{"system": LOCAL, "code": "X1"}]},
        valueCodeableConcept={
            "coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]
        },
    )
    result = build_facts([obs], evaluated_on=TODAY, config=MappingConfig(code_lists=(site,)))
    assert result.antibodies[0].matched_by is MatchedBy.CODE


def test_s7_result_collected_after_the_evaluation_date_is_unusable() -> None:
    """A future-dated trough (a data error) must not become "the latest result": read as such,
    15 mg/L dated next month overrode a real 9.8 mg/L and made a withdrawal candidate."""
    real = lab("real", "39803-2", 9.8, "mg/L", effectiveDateTime=f"{TODAY}T08:00:00Z")
    future = lab("future", "39803-2", 15, "mg/L", effectiveDateTime=f"{TODAY + timedelta(40)}")
    # A time zone ahead of the evaluation date's: "tomorrow" there is still today here.
    ahead = lab(
        "ahead", "39803-2", 9.9, "mg/L", effectiveDateTime=f"{TODAY + timedelta(1)}T06:00:00+14:00"
    )
    facts = build_facts([patient(), real, future, ahead], evaluated_on=TODAY)
    levels = [fact.reference for fact in facts.lab(Analyte.INFLIXIMAB_LEVEL)]
    assert levels == ["Observation/ahead", "Observation/real"]
    [unusable] = [u for u in facts.unusable if u.reference == "Observation/future"]
    assert unusable.topic == Analyte.INFLIXIMAB_LEVEL.value
    assert "future date" in unusable.reason
