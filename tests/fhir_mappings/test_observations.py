"""Observation rules of decision-spec §7: which results count, which is latest, how read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_mappings import (
    ActivityScore,
    Analyte,
    AntibodyStatus,
    Comparator,
    MatchedBy,
    PatientFacts,
    build_facts,
)
from tests.fhir_mappings.resources import (
    LOCAL,
    LOINC,
    SNOMED,
    TODAY,
    V3,
    antibody,
    concept,
    day,
    lab,
    observation,
    patient,
    quantity,
)


def facts(*resources: dict[str, Any]) -> PatientFacts:
    return build_facts([patient(), *resources], evaluated_on=TODAY)


# --- status, collection time, ordering ------------------------------------------------------


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_s7_status_filter_counts_final_amended_corrected(status: str) -> None:
    assert facts(lab("o1", "1988-5", 2, "mg/L", status=status)).lab(Analyte.CRP)


@pytest.mark.parametrize("status", ["preliminary", "registered", "unknown"])
def test_s7_status_filter_excludes_preliminary_and_says_so(status: str) -> None:
    result = facts(lab("o1", "1988-5", 2, "mg/L", status=status))
    assert result.lab(Analyte.CRP) == ()
    [problem] = result.unusable
    assert (problem.reference, problem.topic) == ("Observation/o1", "crp")
    assert status in problem.reason


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_s7_entered_in_error_and_cancelled_never_produce_a_fact_nor_a_note(status: str) -> None:
    result = facts(lab("o1", "1988-5", 2, "mg/L", status=status))
    assert (result.lab(Analyte.CRP), result.unusable) == ((), ())


def test_s7_latest_by_collection_time_not_issued() -> None:
    older_issued_later = lab("old", "1988-5", 9, "mg/L", days_ago=40, issued=f"{day(1)}T09:00:00Z")
    newer = lab("new", "1988-5", 2, "mg/L", days_ago=20, issued=f"{day(19)}T09:00:00Z")
    crp = facts(older_issued_later, newer).lab(Analyte.CRP)
    assert [f.reference for f in crp] == ["Observation/new", "Observation/old"]


def test_s7_ties_in_collection_time_broken_by_issued() -> None:
    first = lab("first", "1988-5", 9, "mg/L", issued="2026-11-12T09:00:00Z")
    second = lab("second", "1988-5", 2, "mg/L", issued="2026-11-12T15:00:00Z")
    crp = facts(second, first).lab(Analyte.CRP)
    assert [f.reference for f in crp] == ["Observation/second", "Observation/first"]
    assert crp[0].issued == datetime(2026, 11, 12, 15, tzinfo=UTC)


def test_s7_effective_period_start_is_the_collection_time() -> None:
    obs = lab("o1", "1988-5", 2, "mg/L")
    del obs["effectiveDateTime"]
    obs["effectivePeriod"] = {"start": "2026-10-01T08:00:00Z", "end": "2026-10-02T08:00:00Z"}
    [crp] = facts(obs).lab(Analyte.CRP)
    assert crp.effective == datetime(2026, 10, 1, 8, tzinfo=UTC)


def test_s7_date_only_and_timezone_less_collection_times_are_utc() -> None:
    date_only = lab("d", "1988-5", 2, "mg/L", effectiveDateTime="2026-10-01")
    naive = lab("n", "777-3", 250, "10*9/L", effectiveDateTime="2026-10-01T07:45:00")
    result = facts(date_only, naive)
    assert result.lab(Analyte.CRP)[0].effective == datetime(2026, 10, 1, tzinfo=UTC)
    assert result.lab(Analyte.PLATELETS)[0].effective == datetime(2026, 10, 1, 7, 45, tzinfo=UTC)


def test_s7_issued_alone_is_not_a_collection_time() -> None:
    obs = lab("o1", "1988-5", 2, "mg/L", issued="2026-11-01T09:00:00Z")
    del obs["effectiveDateTime"]
    result = facts(obs)
    assert result.lab(Analyte.CRP) == ()
    assert "collection date" in result.unusable[0].reason


# --- quantitative labs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loinc", "analyte"),
    [
        ("39803-2", Analyte.INFLIXIMAB_LEVEL),
        ("86896-8", Analyte.INFLIXIMAB_LEVEL),
        ("1988-5", Analyte.CRP),
        ("30522-7", Analyte.CRP),
        ("38445-3", Analyte.CALPROTECTIN),
    ],
)
def test_s7_lab_codes_are_recognised(loinc: str, analyte: Analyte) -> None:
    unit = "ug/g" if analyte is Analyte.CALPROTECTIN else "mg/L"
    [fact] = facts(lab("o1", loinc, 3, unit)).lab(analyte)
    assert (fact.value, fact.unit, fact.reference, fact.matched_by) == (
        3.0,
        unit,
        "Observation/o1",
        MatchedBy.CODE,
    )


@pytest.mark.parametrize("loinc", ["777-3", "26515-7", "778-1"])
def test_s7_platelet_codes_in_any_count_unit(loinc: str) -> None:
    [fact] = facts(lab("o1", loinc, 305000, "/mm3")).lab(Analyte.PLATELETS)
    assert (fact.value, fact.unit, fact.display) == (305.0, "10*9/L", "305000 /mm3")


@pytest.mark.parametrize("loinc", ["76485-2", "76486-0"])
def test_s7_molar_crp_codes_convert_to_mg_per_litre(loinc: str) -> None:
    [fact] = facts(lab("o1", loinc, 47.6, "nmol/L")).lab(Analyte.CRP)
    assert (fact.value, fact.unit) == (5.0, "mg/L")


def test_s7_comparator_is_kept_and_value_converted() -> None:
    obs = lab("o1", "1988-5", 0.3, "mg/dL")
    obs["valueQuantity"]["comparator"] = "<"
    [fact] = facts(obs).lab(Analyte.CRP)
    assert (fact.value, fact.comparator, fact.display) == (3.0, Comparator.LT, "<0.3 mg/dL")


def test_s7_unconvertible_unit_makes_the_result_unusable() -> None:
    result = facts(lab("o1", "1988-5", 2, "U/L"), lab("o2", "777-3", 0.26, "10*6/uL"))
    assert result.lab(Analyte.CRP) == ()
    assert {u.topic for u in result.unusable} == {"crp"}
    assert "cannot be converted" in result.unusable[0].reason
    assert result.lab(Analyte.PLATELETS)[0].value == 260


@pytest.mark.parametrize(
    ("loinc", "value", "unit"),
    [
        ("1988-5", -5, "mg/L"),
        ("1988-5", 501, "mg/L"),
        ("777-3", -240, "10*3/uL"),
        ("777-3", 0.5, "10*9/L"),
        ("777-3", 2001, "10*9/L"),
        ("39803-2", 1e308, "mg/L"),
        ("39803-2", -0.1, "ug/mL"),
    ],
)
def test_s10_plausibility_out_of_bounds_is_unusable(loinc: str, value: float, unit: str) -> None:
    result = facts(lab("o1", loinc, value, unit))
    assert not any(result.labs.values())
    assert "outside physiological bounds" in result.unusable[0].reason


@pytest.mark.parametrize(
    ("loinc", "value"), [("1988-5", 0), ("1988-5", 500), ("777-3", 1), ("777-3", 2000)]
)
def test_s10_plausibility_bounds_are_inclusive(loinc: str, value: float) -> None:
    unit = "mg/L" if loinc == "1988-5" else "10*9/L"
    assert facts(lab("o1", loinc, value, unit)).unusable == ()


def test_s10_plausibility_converted_out_of_bounds_is_a_probable_unit_error() -> None:
    result = facts(lab("o1", "1988-5", 60, "mg/dL"))  # 600 mg/L: typed as mg/L, sent as mg/dL
    assert result.lab(Analyte.CRP) == ()
    assert "probable unit error" in result.unusable[0].reason


@pytest.mark.parametrize("value", ["13.2", True])
def test_s10_plausibility_value_not_a_json_number_is_unusable(value: object) -> None:
    result = facts(lab("o1", "39803-2", value, "mg/L"))  # type: ignore[arg-type]  # on purpose
    assert result.lab(Analyte.INFLIXIMAB_LEVEL) == ()
    assert result.unusable[0].topic == "infliximab-level"


def test_s7_display_text_unit_is_unusable_not_guessed() -> None:
    obs = observation(
        "o1", concept(LOINC, "777-3"), valueQuantity={"value": 260, "unit": "x10^9/L"}
    )
    result = facts(obs)
    assert result.lab(Analyte.PLATELETS) == ()
    assert result.unusable[0].reason == "unit 'x10^9/L' is not a UCUM code"


def test_s7_data_absent_reason_is_named() -> None:
    obs = observation("o1", concept(LOINC, "1988-5"), dataAbsentReason={"text": "Haemolysed"})
    [problem] = facts(obs).unusable
    assert problem.reason == "no value (Haemolysed)"


# --- anti-infliximab antibodies ----------------------------------------------------------------

NEGATIVE = concept(SNOMED, "260385009", "Negative")


@pytest.mark.parametrize(
    "name",
    [
        "inFLIXimab Ab [Units/volume] in Serum by Immunoassay",
        "Anti-infliximab antibodies",
        "ATI",
        "Antibodies to infliximab",
    ],
)
def test_s7_local_antibody_code_matched_by_name(name: str) -> None:
    [fact] = facts(antibody("a1", name, valueCodeableConcept=NEGATIVE)).antibodies
    assert (fact.value, fact.matched_by, fact.reference) == (
        AntibodyStatus.NEGATIVE,
        MatchedBy.NAME,
        "Observation/a1",
    )


def test_s7_infliximab_level_is_not_an_antibody_result() -> None:
    level = observation(
        "l1",
        {
            "coding": [
                {"system": LOCAL, "code": "IFXL", "display": "Infliximab [Mass/volume] in Serum"}
            ]
        },
        valueQuantity=quantity(7.2, "ug/mL"),
    )
    result = facts(level)
    assert result.antibodies == ()
    [fact] = result.lab(Analyte.INFLIXIMAB_LEVEL)
    assert (fact.value, fact.matched_by) == (7.2, MatchedBy.NAME)


def test_s7_configured_local_antibody_code_matches_by_code(tmp_path: Any) -> None:
    from fhir_mappings import MappingConfig

    site = tmp_path / "site.toml"
    site.write_text(
        '[systems]\nlab = "http://lab.example.org/codes"\n'
        '[lists.antibodies]\nsource = "St Example lab catalogue"\ncodes.lab = ["X1"]\n'
    )
    result = build_facts(
        [antibody("a1", "IFX-AB", valueCodeableConcept=NEGATIVE)],
        evaluated_on=TODAY,
        config=MappingConfig(code_lists=(site,)),
    )
    assert result.antibodies[0].matched_by is MatchedBy.CODE


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("10828004", AntibodyStatus.POSITIVE),
        ("260373001", AntibodyStatus.POSITIVE),
        ("260385009", AntibodyStatus.NEGATIVE),
        ("260415000", AntibodyStatus.NEGATIVE),
    ],
)
def test_s7_qualitative_snomed_antibody_results(code: str, status: AntibodyStatus) -> None:
    [fact] = facts(antibody("a1", valueCodeableConcept=concept(SNOMED, code))).antibodies
    assert fact.value is status


@pytest.mark.parametrize(
    ("flag", "status"),
    [
        ("POS", AntibodyStatus.POSITIVE),
        ("H", AntibodyStatus.POSITIVE),
        ("DET", AntibodyStatus.POSITIVE),
        ("NEG", AntibodyStatus.NEGATIVE),
        ("N", AntibodyStatus.NEGATIVE),
        ("ND", AntibodyStatus.NEGATIVE),
    ],
)
def test_s7_interpretation_codes_judge_a_quantitative_result(
    flag: str, status: AntibodyStatus
) -> None:
    obs = antibody(
        "a1", valueQuantity=quantity(4.2, "[arb'U]/mL"), interpretation=[concept(V3, flag)]
    )
    assert facts(obs).antibodies[0].value is status


@pytest.mark.parametrize(
    ("value", "comparator", "status"),
    [
        (12.0, None, AntibodyStatus.POSITIVE),
        (10.0, None, AntibodyStatus.NEGATIVE),  # at the upper limit: within range
        (3.0, "<", AntibodyStatus.NEGATIVE),
        (10.0, ">", AntibodyStatus.POSITIVE),
    ],
)
def test_s7_quantitative_antibody_against_its_own_reference_range(
    value: float, comparator: str | None, status: AntibodyStatus
) -> None:
    value_quantity = quantity(value, "[arb'U]/mL")
    if comparator:
        value_quantity["comparator"] = comparator
    obs = antibody(
        "a1", valueQuantity=value_quantity, referenceRange=[{"high": quantity(10, "[arb'U]/mL")}]
    )
    [fact] = facts(obs).antibodies
    assert fact.value is status


def test_s7_reference_range_in_another_but_convertible_unit() -> None:
    obs = antibody(
        "a1",
        valueQuantity=quantity(2.5, "ug/mL"),
        referenceRange=[{"high": quantity(3000, "ng/mL")}],
    )
    assert facts(obs).antibodies[0].value is AntibodyStatus.NEGATIVE


def test_s7_quantitative_antibody_without_range_or_interpretation_is_unusable() -> None:
    result = facts(antibody("a1", valueQuantity=quantity(4.2, "[arb'U]/mL")))
    assert result.antibodies == ()
    [problem] = result.unusable
    assert (problem.reason, problem.topic) == ("no reference range", "antibodies")


def test_s7_comparator_straddling_the_limit_is_unusable() -> None:
    value_quantity = quantity(20, "[arb'U]/mL", comparator="<")
    obs = antibody(
        "a1", valueQuantity=value_quantity, referenceRange=[{"high": quantity(10, "[arb'U]/mL")}]
    )
    result = facts(obs)
    assert result.antibodies == ()
    assert "reference range" in result.unusable[0].reason


def test_s7_result_and_interpretation_that_disagree_are_unusable() -> None:
    obs = antibody("a1", valueCodeableConcept=NEGATIVE, interpretation=[concept(V3, "POS")])
    result = facts(obs)
    assert result.antibodies == ()
    assert "disagree" in result.unusable[0].reason


def test_s7_worded_antibody_result_is_read() -> None:
    assert facts(antibody("a1", valueString="Not detected")).antibodies[0].value is (
        AntibodyStatus.NEGATIVE
    )


@pytest.mark.parametrize(
    ("said", "status"),
    [
        ("Positive (38 AU/mL)", AntibodyStatus.POSITIVE),
        ("Detected: 12 U/mL", AntibodyStatus.POSITIVE),
        ("Negative (<5 AU/mL)", AntibodyStatus.NEGATIVE),
        ("Negative for anti-infliximab antibodies", AntibodyStatus.NEGATIVE),
        ("No antibodies detected", AntibodyStatus.NEGATIVE),
        ("not positive", AntibodyStatus.NEGATIVE),
    ],
)
def test_s10_antibodies_free_text_read_with_negation(said: str, status: AntibodyStatus) -> None:
    assert facts(antibody("a1", valueString=said)).antibodies[0].value is status


@pytest.mark.parametrize("said", ["Inconclusive", "Positive? repeat", "Not positive (38)", "weak"])
def test_s10_antibodies_free_text_neither_negative_nor_positive_is_unusable(said: str) -> None:
    result = facts(antibody("a1", valueString=said))
    assert result.antibodies == ()
    assert result.unusable[0].topic == "antibodies"


def test_s3_antibody_history_is_kept_newest_first() -> None:
    old = antibody("old", days_ago=1000, valueCodeableConcept=concept(SNOMED, "10828004"))
    new = antibody("new", days_ago=10, valueCodeableConcept=NEGATIVE)
    assert [f.value for f in facts(old, new).antibodies] == [
        AntibodyStatus.NEGATIVE,
        AntibodyStatus.POSITIVE,
    ]


# --- HLA-DQA1, TPMT/NUDT15, activity scores ------------------------------------------------------

GENE = {
    "code": concept(LOINC, "48018-6"),
    "valueCodeableConcept": concept("http://www.genenames.org/geneId", "HGNC:4942", "HLA-DQA1"),
}


@pytest.mark.parametrize(
    ("typing", "carrier"),
    [
        ("HLA-DQA1*05:01+HLA-DQA1*01:02", True),
        ("HLA-DQA1*01:02+HLA-DQA1*03:01", False),
        ("HLA-DQA1*05:05:01:01/HLA-DQA1*05:09+HLA-DQA1*02:01", True),
        ("DQA1*0501, DQA1*0101", True),
    ],
)
def test_s7_hla_genotype_panel_with_gl_strings(typing: str, carrier: bool) -> None:
    obs = observation(
        "h1", concept(LOINC, "84413-4"), valueCodeableConcept={"text": typing}, component=[GENE]
    )
    [fact] = facts(obs).hla_dqa1_05_carrier
    assert (fact.value, fact.matched_by, fact.display) == (carrier, MatchedBy.CODE, typing)


@pytest.mark.parametrize("loinc", ["59019-0", "96654-9"])
def test_s7_hla_typing_codes(loinc: str) -> None:
    obs = observation("h1", concept(LOINC, loinc), valueString="HLA-DQA1*03:01, HLA-DQA1*05:01")
    assert facts(obs).hla_dqa1_05_carrier[0].value is True


def test_s7_genotype_panel_for_another_gene_is_not_hla() -> None:
    other = {**GENE, "valueCodeableConcept": concept("http://www.genenames.org/geneId", "HGNC:1")}
    obs = observation(
        "g1", concept(LOINC, "84413-4"), valueCodeableConcept={"text": "x"}, component=[other]
    )
    assert facts(obs).hla_dqa1_05_carrier == ()


def test_s7_hla_dqa1_05_test_reported_qualitatively() -> None:
    code = {"text": "HLA-DQA1*05 carrier status"}
    obs = observation("h1", code, valueCodeableConcept=concept(SNOMED, "260373001", "Detected"))
    [fact] = facts(obs).hla_dqa1_05_carrier
    assert (fact.value, fact.matched_by, fact.display) == (True, MatchedBy.NAME, "Detected")


@pytest.mark.parametrize(
    ("said", "carrier"),
    [
        ("HLA-DQA1*05 not detected", False),
        ("negative for DQA1*05", False),
        ("HLA-DQA1*05 detected", True),
        ("DQA1*05 absent; DQA1*01:01 and DQA1*03:01 present", False),
        ("DQA1*01:01, DQA1*05:05", True),
    ],
)
def test_s10_hla_dqa1_05_read_allele_by_allele(said: str, carrier: bool) -> None:
    [fact] = facts(
        observation("h1", concept(LOINC, "59019-0"), valueString=said)
    ).hla_dqa1_05_carrier
    assert fact.value is carrier


@pytest.mark.parametrize(
    "said", ["DQA1*05:01 detected, DQA1*05 not detected", "DQA1*01 not detected"]
)
def test_s10_hla_dqa1_05_contradictory_or_silent_is_unusable(said: str) -> None:
    result = facts(observation("h1", concept(LOINC, "59019-0"), valueString=said))
    assert result.hla_dqa1_05_carrier == ()
    assert result.unusable[0].topic == "hla-dqa1-05"


def test_s7_hla_result_without_alleles_is_unusable() -> None:
    result = facts(observation("h1", concept(LOINC, "59019-0"), valueString="see report"))
    assert result.hla_dqa1_05_carrier == ()
    assert result.unusable[0].topic == "hla-dqa1-05"


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ({"text": "TPMT genotype"}, {"valueCodeableConcept": {"text": "*1/*1"}}),
        (
            {"text": "Thiopurine methyltransferase activity"},
            {"valueQuantity": quantity(35, "U/mL")},
        ),
        ({"text": "NUDT15 genotype"}, {"valueString": "*1/*3"}),
    ],
)
def test_s5_tpmt_and_nudt15_results_recognised_by_name(
    code: dict[str, Any], value: dict[str, Any]
) -> None:
    [fact] = facts(observation("t1", code, **value)).thiopurine_metabolism
    assert fact.matched_by is MatchedBy.NAME
    assert fact.reference == "Observation/t1"


def test_s5_tpmt_genotype_panel_by_gene_code() -> None:
    tpmt = {
        **GENE,
        "valueCodeableConcept": concept("http://www.genenames.org/geneId", "HGNC:12014", "TPMT"),
    }
    obs = observation("t1", concept(LOINC, "84413-4"), valueString="TPMT*1/*3A", component=[tpmt])
    [fact] = facts(obs).thiopurine_metabolism
    assert (fact.value, fact.matched_by) == ("TPMT*1/*3A", MatchedBy.CODE)


@pytest.mark.parametrize(
    ("name", "score"),
    [
        ("Harvey-Bradshaw Index", ActivityScore.HARVEY_BRADSHAW),
        ("Crohn's Disease Activity Index", ActivityScore.CDAI),
        ("Partial Mayo score", ActivityScore.PARTIAL_MAYO),
    ],
)
def test_s7_activity_scores_by_name(name: str, score: ActivityScore) -> None:
    [fact] = facts(observation("s1", {"text": name}, valueInteger=3)).activity_scores[score]
    assert (fact.value, fact.unit, fact.matched_by) == (3.0, None, MatchedBy.NAME)


def test_s7_bare_cdai_is_not_crohns_activity() -> None:
    assert facts(observation("s1", {"text": "CDAI"}, valueInteger=3)).activity_scores == {}


def test_s7_unrecognised_panel_is_read_component_by_component() -> None:
    panel = observation(
        "p1",
        {"text": "Infliximab level and antibodies"},
        issued="2026-11-13T10:00:00Z",
        component=[
            {"code": concept(LOINC, "39803-2"), "valueQuantity": quantity(4.1, "ug/mL")},
            {
                "code": {"text": "Antibodies to infliximab"},
                "valueQuantity": quantity(22, "[arb'U]/mL"),
                "referenceRange": [{"high": quantity(10, "[arb'U]/mL")}],
            },
            {"code": {"text": "Comment"}, "valueString": "trough sample"},
        ],
    )
    result = facts(panel)
    [level] = result.lab(Analyte.INFLIXIMAB_LEVEL)
    [antibodies] = result.antibodies
    assert (level.value, level.reference, level.matched_by) == (
        4.1,
        "Observation/p1",
        MatchedBy.CODE,
    )
    assert (antibodies.value, antibodies.matched_by) == (AntibodyStatus.POSITIVE, MatchedBy.NAME)
    assert antibodies.issued == datetime(2026, 11, 13, 10, tzinfo=UTC)
    assert result.unusable == ()


def test_s7_panel_components_follow_the_panel_status() -> None:
    panel = observation(
        "p1",
        {"text": "IFX panel"},
        status="preliminary",
        component=[{"code": concept(LOINC, "39803-2"), "valueQuantity": quantity(4.1, "ug/mL")}],
    )
    result = facts(panel)
    assert result.lab(Analyte.INFLIXIMAB_LEVEL) == ()
    assert result.unusable[0].topic == "infliximab-level"
