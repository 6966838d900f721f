"""Medication exposure (decision-spec §2, §7): which records count, courses, stops, overlap."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from fhir_mappings import (
    DrugClass,
    Exposure,
    Interval,
    MappingConfig,
    PatientFacts,
    build_facts,
)
from tests.fhir_mappings.resources import (
    ATC,
    AZATHIOPRINE,
    INFLIXIMAB,
    TODAY,
    administration,
    bundle,
    concept,
    day,
    patient,
    request,
    rx,
    statement,
)


def facts(*resources: dict[str, Any], config: MappingConfig | None = None) -> PatientFacts:
    return build_facts([patient(), *resources], evaluated_on=TODAY, config=config)


def exposure(result: PatientFacts, drug: DrugClass) -> Exposure:
    found = result.exposure(drug)
    assert found is not None, f"no {drug} exposure"
    return found


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


# --- recognising the drug ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["191831", "1927283", "1927285", "1927290", "1790541", "1790546", "310994"]
)
def test_s7_infliximab_biosimilar_and_product_codes(code: str) -> None:
    result = facts(statement("s1", rx(code)))
    assert exposure(result, DrugClass.INFLIXIMAB).active


@pytest.mark.parametrize(
    ("coding", "drug"),
    [
        (rx("1256"), DrugClass.THIOPURINE),
        (rx("103"), DrugClass.THIOPURINE),
        (concept(ATC, "L04AX01"), DrugClass.THIOPURINE),
        (concept(ATC, "L01BB02"), DrugClass.THIOPURINE),
        (rx("6851"), DrugClass.METHOTREXATE),
        (concept(ATC, "L04AX03"), DrugClass.METHOTREXATE),
        (concept(ATC, "L04AB02"), DrugClass.INFLIXIMAB),
        (concept(ATC, "L04AB04"), DrugClass.OTHER_ANTI_TNF),
        (rx("327361"), DrugClass.OTHER_ANTI_TNF),
        (concept(ATC, "H02AB06"), DrugClass.CORTICOSTEROID),
        (concept(ATC, "A07EA06"), DrugClass.CORTICOSTEROID),
        (rx("8640"), DrugClass.CORTICOSTEROID),
        (rx("19831"), DrugClass.CORTICOSTEROID),
    ],
)
def test_s7_drug_classes_by_code(coding: dict[str, Any], drug: DrugClass) -> None:
    result = facts(statement("s1", coding))
    assert set(result.exposures) == {drug}
    assert exposure(result, drug).matched_by_name == ()


def test_s7_medication_matched_by_name_is_recorded_as_such() -> None:
    result = facts(statement("s1", {"text": "Remicade 100 mg IV"}))
    assert exposure(result, DrugClass.INFLIXIMAB).matched_by_name == ("MedicationStatement/s1",)


def test_s7_inhaled_budesonide_by_name_is_not_a_systemic_corticosteroid() -> None:
    assert facts(statement("s1", {"text": "Budesonide 200 mcg inhaler"})).exposures == {}


def test_s7_unrelated_medication_is_skipped_silently() -> None:
    result = facts(statement("s1", rx("197361")))
    assert (result.exposures, result.unusable) == ({}, ())


def test_s7_medication_reference_to_contained_medication() -> None:
    record = statement("s1", INFLIXIMAB)
    del record["medicationCodeableConcept"]
    record["contained"] = [{"resourceType": "Medication", "id": "m", "code": rx("1790546")}]
    record["medicationReference"] = {"reference": "#m"}
    assert exposure(facts(record), DrugClass.INFLIXIMAB).active


@pytest.mark.parametrize(
    "reference", ["Medication/m1", "http://ehr.example.org/fhir/Medication/m1"]
)
def test_s7_medication_reference_to_bundled_medication(reference: str) -> None:
    medication = {"resourceType": "Medication", "id": "m1", "code": rx("1927290")}
    record = statement("s1", INFLIXIMAB)
    del record["medicationCodeableConcept"]
    record["medicationReference"] = {"reference": reference}
    result = build_facts([patient(), bundle(medication, record)], evaluated_on=TODAY)
    assert exposure(result, DrugClass.INFLIXIMAB).active


def test_s7_medication_reference_by_urn_uuid_full_url() -> None:
    medication = {"resourceType": "Medication", "id": "m1", "code": rx("1256")}
    record = statement("s1", INFLIXIMAB)
    del record["medicationCodeableConcept"]
    record["medicationReference"] = {"reference": "urn:uuid:5f0a"}
    entries = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:5f0a", "resource": medication}, {"resource": record}],
    }
    assert exposure(build_facts([entries], evaluated_on=TODAY), DrugClass.THIOPURINE).active


def test_s7_medication_ingredient_codes_identify_a_local_product() -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"coding": [{"system": "http://pharmacy.example.org", "code": "LOC-9"}]},
        "ingredient": [{"itemCodeableConcept": rx("1256")}],
    }
    record = statement("s1", INFLIXIMAB, medicationReference={"reference": "Medication/m1"})
    del record["medicationCodeableConcept"]
    assert exposure(facts(medication, record), DrugClass.THIOPURINE).active


def test_s7_unresolvable_medication_reference_is_unusable() -> None:
    record = statement("s1", INFLIXIMAB, medicationReference={"reference": "Medication/missing"})
    del record["medicationCodeableConcept"]
    [problem] = facts(record).unusable
    assert "Medication/missing" in problem.reason


# --- statements ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["active", "intended", "on-hold"])
def test_s2_statement_statuses_that_mean_active(status: str) -> None:
    result = facts(statement("s1", AZATHIOPRINE, status, effectivePeriod={"start": day(300)}))
    thiopurine = exposure(result, DrugClass.THIOPURINE)
    assert thiopurine.active
    assert thiopurine.intervals == (Interval(ago(300), None, ("MedicationStatement/s1",)),)


def test_s7_statement_effective_datetime_starts_an_active_record() -> None:
    result = facts(statement("s1", AZATHIOPRINE, effectiveDateTime=f"{day(90)}T10:00:00"))
    assert exposure(result, DrugClass.THIOPURINE).intervals[0].start == ago(90)


@pytest.mark.parametrize("status", ["completed", "stopped"])
def test_s7_ended_statement_gives_stopped_on(status: str) -> None:
    period = {"start": day(900), "end": day(150)}
    thiopurine = exposure(
        facts(statement("s1", AZATHIOPRINE, status, effectivePeriod=period)), DrugClass.THIOPURINE
    )
    assert (thiopurine.active, thiopurine.stopped_on) == (False, ago(150))


@pytest.mark.parametrize("status", ["entered-in-error", "not-taken"])
def test_s7_statement_in_error_or_not_taken_is_no_exposure(status: str) -> None:
    result = facts(statement("s1", AZATHIOPRINE, status, effectivePeriod={"start": day(30)}))
    assert (result.exposures, result.unusable) == ({}, ())


def test_s7_stopped_record_ends_an_older_running_course() -> None:
    old_order = request("r1", AZATHIOPRINE, 700)
    stop = statement(
        "s1", AZATHIOPRINE, "stopped", effectivePeriod={"start": day(700), "end": day(200)}
    )
    thiopurine = exposure(facts(old_order, stop), DrugClass.THIOPURINE)
    assert (thiopurine.active, thiopurine.stopped_on) == (False, ago(200))


def test_s7_restart_after_a_stop_is_active_again() -> None:
    stop = statement(
        "s1", AZATHIOPRINE, "stopped", effectivePeriod={"start": day(700), "end": day(200)}
    )
    restart = request("r1", AZATHIOPRINE, 50)
    thiopurine = exposure(facts(stop, restart), DrugClass.THIOPURINE)
    assert thiopurine.active
    assert [i.start for i in thiopurine.intervals] == [ago(700), ago(50)]


# --- requests: the renewal chain ----------------------------------------------------------------


@pytest.mark.parametrize(("gap", "chained"), [(400, True), (401, False)])
def test_s7_renewal_gap_boundary(gap: int, chained: bool) -> None:
    first = request("r1", AZATHIOPRINE, 100 + gap, "completed")
    renewal = request("r2", AZATHIOPRINE, 100)
    intervals = exposure(facts(first, renewal), DrugClass.THIOPURINE).intervals
    if chained:
        assert intervals == (
            Interval(ago(100 + gap), None, ("MedicationRequest/r1", "MedicationRequest/r2")),
        )
    else:
        assert [(i.start, i.end) for i in intervals] == [
            (ago(100 + gap), ago(100 + gap)),
            (ago(100), None),
        ]


def test_s7_renewal_gap_is_configurable() -> None:
    first, renewal = request("r1", AZATHIOPRINE, 550, "completed"), request("r2", AZATHIOPRINE, 100)
    intervals = exposure(
        facts(first, renewal, config=MappingConfig(renewal_gap_days=400)), DrugClass.THIOPURINE
    ).intervals
    assert len(intervals) == 2
    relaxed = MappingConfig(renewal_gap_days=450)
    assert len(exposure(facts(first, renewal, config=relaxed), DrugClass.THIOPURINE).intervals) == 1


@pytest.mark.parametrize("status", ["active", "on-hold"])
def test_s7_course_runs_to_evaluation_date_while_latest_is_active(status: str) -> None:
    chain = [
        request("r1", AZATHIOPRINE, 800, "completed"),
        request("r2", AZATHIOPRINE, 420, "completed"),
        request("r3", AZATHIOPRINE, 30, status),
    ]
    thiopurine = exposure(facts(*chain), DrugClass.THIOPURINE)
    assert thiopurine.active
    assert thiopurine.intervals == (
        Interval(ago(800), None, tuple(f"MedicationRequest/r{i}" for i in (1, 2, 3))),
    )


def test_s7_completed_course_ends_at_its_latest_known_date() -> None:
    validity = {"validityPeriod": {"start": day(300), "end": day(120)}}
    chain = [
        request("r1", AZATHIOPRINE, 600, "completed"),
        request("r2", AZATHIOPRINE, 300, "completed", dispenseRequest=validity),
    ]
    thiopurine = exposure(facts(*chain), DrugClass.THIOPURINE)
    assert (thiopurine.active, thiopurine.stopped_on) == (False, ago(120))


def test_s7_stopped_request_ends_the_chain_on_an_unknown_date() -> None:
    chain = [
        request("r1", AZATHIOPRINE, 600, "completed"),
        request("r2", AZATHIOPRINE, 300, "stopped"),
        request("r3", AZATHIOPRINE, 200, "completed"),
    ]
    result = facts(*chain)
    thiopurine = exposure(result, DrugClass.THIOPURINE)
    assert [(i.start, i.end) for i in thiopurine.intervals] == [
        (ago(600), ago(300)),
        (ago(200), ago(200)),
    ]
    assert (thiopurine.active, thiopurine.stopped_on) == (False, None)
    [problem] = result.unusable
    assert (problem.reference, problem.topic) == ("MedicationRequest/r3", "thiopurine")
    assert problem.reason == f"ended on an unknown date (last recorded use {ago(200)})"


def test_s7_stopped_request_with_validity_end_gives_stopped_on() -> None:
    validity = {"validityPeriod": {"start": day(300), "end": day(100)}}
    stopped = request("r1", AZATHIOPRINE, 300, "stopped", dispenseRequest=validity)
    thiopurine = exposure(facts(stopped), DrugClass.THIOPURINE)
    assert (thiopurine.active, thiopurine.stopped_on) == (False, ago(100))


def test_s7_completed_statement_without_end_has_no_stop_date() -> None:
    """The end is unknown, and a later dateAsserted proves no use (decision-spec §10): the
    course proves use only on its start; `latest_end` date.max marks the unknown end."""
    record = statement(
        "s1", AZATHIOPRINE, "completed", effectivePeriod={"start": day(900)}, dateAsserted=day(400)
    )
    result = facts(record)
    thiopurine = exposure(result, DrugClass.THIOPURINE)
    assert thiopurine.intervals == (
        Interval(ago(900), ago(900), ("MedicationStatement/s1",), latest_end=date.max),
    )
    assert thiopurine.stopped_on is None
    assert result.unusable[0].topic == "thiopurine"


@pytest.mark.parametrize("status", ["draft", "cancelled", "entered-in-error"])
def test_s7_draft_cancelled_and_in_error_requests_are_not_exposure(status: str) -> None:
    result = facts(request("r1", INFLIXIMAB, 10, status))
    assert (result.exposures, result.unusable) == ({}, ())


def test_s7_request_without_authored_on_uses_validity_start() -> None:
    record = request("r1", AZATHIOPRINE, 0, dispenseRequest={"validityPeriod": {"start": day(60)}})
    del record["authoredOn"]
    assert exposure(facts(record), DrugClass.THIOPURINE).intervals[0].start == ago(60)


# --- administrations ----------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "active"), [(120, True), (121, False)])
def test_s2_infliximab_administration_window_boundary(days: int, active: bool) -> None:
    infliximab = exposure(facts(administration("a1", INFLIXIMAB, days)), DrugClass.INFLIXIMAB)
    assert infliximab.active is active
    assert infliximab.stopped_on == (None if active else ago(days))


def test_s2_administration_window_is_configurable() -> None:
    config = MappingConfig(administration_window_days=60)
    assert not exposure(
        facts(administration("a1", INFLIXIMAB, 90), config=config), DrugClass.INFLIXIMAB
    ).active


def test_s7_infusions_every_eight_weeks_form_one_course() -> None:
    infusions = [
        administration(f"a{n}", INFLIXIMAB, days)
        for n, days in enumerate((400, 344, 288, 232, 176, 120, 64, 8))
    ]
    [interval] = exposure(facts(*infusions), DrugClass.INFLIXIMAB).intervals
    assert (interval.start, interval.end, len(interval.references)) == (ago(400), None, 8)


def test_s7_infusion_period_start_is_the_date() -> None:
    record = administration(
        "a1", INFLIXIMAB, 0, effectivePeriod={"start": f"{day(30)}T09:00:00+01:00"}
    )
    del record["effectiveDateTime"]
    assert exposure(facts(record), DrugClass.INFLIXIMAB).intervals[0].start == ago(30)


@pytest.mark.parametrize("status", ["not-done", "entered-in-error"])
def test_s7_administration_not_done_or_in_error_is_not_exposure(status: str) -> None:
    assert facts(administration("a1", INFLIXIMAB, 10, status)).exposures == {}


def test_s2_administration_of_another_drug_is_a_single_day() -> None:
    steroid = exposure(facts(administration("a1", rx("6902"), 10)), DrugClass.CORTICOSTEROID)
    assert steroid.intervals == (Interval(ago(10), ago(10), ("MedicationAdministration/a1",)),)
    assert not steroid.active


# --- the combination ------------------------------------------------------------------------------


def test_s3_combination_is_the_current_overlap_ending_today() -> None:
    result = facts(
        request("r1", INFLIXIMAB, 1200, "completed"),
        request("r2", INFLIXIMAB, 850),
        statement("s1", AZATHIOPRINE, effectivePeriod={"start": day(1100)}),
    )
    assert result.combination == Interval(
        ago(1100), None, ("MedicationRequest/r1", "MedicationRequest/r2", "MedicationStatement/s1")
    )


def test_s3_combination_start_unknown_when_a_start_is_unknown() -> None:
    result = facts(request("r1", INFLIXIMAB, 100), statement("s1", AZATHIOPRINE))
    assert result.combination is not None
    assert result.combination.start is None


def test_s3_no_combination_after_the_thiopurine_stopped() -> None:
    stopped = statement(
        "s1", AZATHIOPRINE, "stopped", effectivePeriod={"start": day(900), "end": day(30)}
    )
    assert facts(request("r1", INFLIXIMAB, 100), stopped).combination is None


def test_s3_combination_counts_only_the_current_segment() -> None:
    old = statement(
        "s1", AZATHIOPRINE, "completed", effectivePeriod={"start": day(1500), "end": day(900)}
    )
    new = statement("s2", AZATHIOPRINE, effectivePeriod={"start": day(300)})
    result = facts(
        request("r1", INFLIXIMAB, 350), request("r0", INFLIXIMAB, 1600, "completed"), old, new
    )
    assert result.combination is not None
    assert result.combination.start == ago(300)


def test_s7_statement_period_ending_before_it_starts_is_unusable() -> None:
    record = statement(
        "s1", AZATHIOPRINE, "completed", effectivePeriod={"start": day(10), "end": day(20)}
    )
    result = facts(record)
    assert result.exposures == {}
    assert result.unusable[0].topic == "thiopurine"


def test_s7_extreme_dates_do_not_overflow() -> None:
    records = [
        statement(
            "s1",
            AZATHIOPRINE,
            "completed",
            effectivePeriod={"start": "9999-12-30", "end": "9999-12-31"},
        ),
        statement(
            "s2",
            AZATHIOPRINE,
            "completed",
            effectivePeriod={"start": "9999-12-31", "end": "9999-12-31"},
        ),
        request("r1", AZATHIOPRINE, 0, authoredOn="0001-01-01"),
    ]
    assert exposure(facts(*records), DrugClass.THIOPURINE).active
