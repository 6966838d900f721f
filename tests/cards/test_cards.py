"""Cards rendered from assessments (decision-spec §8; checklist ids from cds-hooks-notes.md)."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import date

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards import (
    EXTENSION_KEY,
    CardContext,
    render_card,
    render_cards,
)
from cds_service.cards.detail import criterion_line
from cds_service.protocol import CdsResponse
from cds_service.protocol.conformance import check_response
from cds_service.rules import Assessment, Hook, Recommendation, assess, load_policy
from fhir_mappings.facts import Analyte, DrugClass, Fact, MatchedBy, Unusable
from tests.rules.builders import (
    POS,
    antibody,
    at,
    born_on,
    draft,
    example_1,
    exposure,
    lab,
    with_exposure,
    with_lab,
    without_exposure,
)

SEED = load_policy()
LOINC = "http://loinc.org"


def _one(facts, hook: str = Hook.PATIENT_VIEW) -> Assessment:
    (assessment,) = assess(facts, SEED, hook=hook)
    return assessment


def _naive(*drafts):
    facts = example_1(combination=None, draft_orders=drafts)
    return without_exposure(without_exposure(facts, DrugClass.INFLIXIMAB), DrugClass.THIOPURINE)


def _withdrawn(days_ago: int, **overrides: object):
    aza = exposure(DrugClass.THIOPURINE, 1500, days_ago, ref="MedicationStatement/aza")
    return with_exposure(example_1(combination=None, **overrides), aza)


# One assessment per recommendation code, built through the rules.
EXAMPLES = {
    Recommendation.WITHDRAWAL_CANDIDATE: lambda: _one(
        example_1(draft_orders=(draft(DrugClass.THIOPURINE, "MedicationRequest/abc"),)),
        Hook.ORDER_SIGN,
    ),
    Recommendation.CONTINUE_COMBINATION: lambda: _one(
        with_lab(example_1(), Analyte.INFLIXIMAB_LEVEL, lab(9.8, 20, "Observation/trough"))
    ),
    Recommendation.INSUFFICIENT_DATA: lambda: _one(
        with_lab(example_1(antibodies=()), Analyte.CRP, lab(1.0, 240, "Observation/crp-old"))
    ),
    Recommendation.UNSUPPORTED_INDICATION: lambda: _one(
        example_1(diagnoses=(Fact(value="rheumatoid-arthritis", reference="Condition/ra"),))  # type: ignore[arg-type]
    ),
    Recommendation.MONITOR_AFTER_WITHDRAWAL: lambda: _one(_withdrawn(150, antibodies=())),
    Recommendation.REINTRODUCE_IMMUNOMODULATOR: lambda: _one(
        _withdrawn(180, antibodies=(antibody(POS, 30, "Observation/ab-pos"),))
    ),
    Recommendation.CONSIDER_COMBINATION: lambda: _one(
        _naive(draft(DrugClass.INFLIXIMAB, "MedicationRequest/ifx")), Hook.ORDER_SELECT
    ),
    Recommendation.CHECK_TPMT: lambda: _one(
        _naive(draft(DrugClass.THIOPURINE, "MedicationRequest/aza")), Hook.ORDER_SELECT
    ),
}


def test_examples_cover_every_recommendation() -> None:
    assert set(EXAMPLES) == set(Recommendation)
    for code, build in EXAMPLES.items():
        assert build().recommendation is code


@pytest.fixture(params=list(Recommendation), ids=str)
def assessment(request: pytest.FixtureRequest) -> Assessment:
    return EXAMPLES[request.param]()


def test_spec_16_to_27_every_card_passes_the_conformance_checker(assessment: Assessment) -> None:
    cards = render_cards([assessment], patient_id="p1")
    assert check_response(CdsResponse(cards=cards).wire()) == []


@pytest.mark.parametrize(
    ("code", "indicator"),
    [
        (Recommendation.WITHDRAWAL_CANDIDATE, "info"),
        (Recommendation.CONTINUE_COMBINATION, "info"),
        (Recommendation.MONITOR_AFTER_WITHDRAWAL, "info"),
        (Recommendation.CONSIDER_COMBINATION, "info"),
        (Recommendation.UNSUPPORTED_INDICATION, "info"),
        (Recommendation.INSUFFICIENT_DATA, "warning"),
        (Recommendation.CHECK_TPMT, "warning"),
        (Recommendation.REINTRODUCE_IMMUNOMODULATOR, "warning"),
    ],
)
def test_s8_indicator_mapping(code: Recommendation, indicator: str) -> None:
    assert render_card(EXAMPLES[code]()).indicator == indicator


def test_spec_18_summary_states_the_recommendation(assessment: Assessment) -> None:
    summary = render_card(assessment).summary
    assert 0 < len(summary) < 140
    words = {
        Recommendation.WITHDRAWAL_CANDIDATE: "withdrawal can be considered",
        Recommendation.CONTINUE_COMBINATION: "Continue infliximab + thiopurine",
        Recommendation.INSUFFICIENT_DATA: "cannot be assessed",
        Recommendation.UNSUPPORTED_INDICATION: "not assessed",
        Recommendation.MONITOR_AFTER_WITHDRAWAL: "trough and antibodies are due",
        Recommendation.REINTRODUCE_IMMUNOMODULATOR: "reintroducing an immunomodulator",
        Recommendation.CONSIDER_COMBINATION: "with azathioprine",
        Recommendation.CHECK_TPMT: "TPMT",
    }
    assert words[assessment.recommendation] in summary


def test_s8_source_names_service_and_policy(assessment: Assessment) -> None:
    card = render_card(assessment)
    assert card.source.label == "aza-advisor · policy seed-2026 v2026.2"
    assert card.source.url is None  # no link to a page that does not exist
    assert "url" not in card.wire()["source"]
    other = render_card(assessment, CardContext(source_url="https://docs.example.net/aza"))
    assert other.source.url == "https://docs.example.net/aza"


def test_spec_19_detail_has_no_table_rows_and_no_html(assessment: Assessment) -> None:
    detail = render_card(assessment).detail or ""
    assert detail
    for line in detail.splitlines():
        assert not line.lstrip().startswith("|")
        assert not re.fullmatch(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*", line)
    assert not re.search(r"(?<!\\)<[A-Za-z/!?]", detail)
    assert not re.search(r"(?<!\\)\|", detail)


VERBOSE = CardContext(verbose=True)


def test_s8_detail_one_line_per_criterion_with_value_unit_date_reference_threshold() -> None:
    """The long form (settings.verbose_cards): one line per criterion with its record."""
    assessment = EXAMPLES[Recommendation.WITHDRAWAL_CANDIDATE]()
    detail = render_card(assessment, VERBOSE).detail or ""
    lines = [line for line in detail.splitlines() if line.startswith("- ") and "threshold" in line]
    assert len(lines) == len(assessment.criteria) == 7
    for criterion, line in zip(assessment.criteria, lines, strict=True):
        assert line.startswith("- met · ")
        if criterion.fact is not None and criterion.fact.effective is not None:
            assert criterion.fact.reference in line
            assert criterion.fact.effective.date().isoformat() in line
    trough = "infliximab trough: 11.5 mg/L, collected 2026-11-02, Observation/trough"
    assert f"- met · {trough}; threshold \\> 10 mg/L" in lines
    assert (
        "platelets: 260 x10^9/L, collected 2026-11-02, Observation/plt; threshold \\<= 298 x10^9/L"
        in detail
    )
    assert "HLA-DQA1\\*05" in detail  # escaped: never emphasis


def test_s8_criterion_line_names_matched_by_name_and_reported_unit() -> None:
    fact = Fact(
        value=11.0,
        reference="Observation/crp-local",
        effective=at(5),
        unit="mg/L",
        matched_by=MatchedBy.NAME,
        display="1.1 mg/dL",
    )
    result = _one(with_lab(example_1(), Analyte.CRP, fact)).criteria[3]
    line = criterion_line(result)
    assert "**not met** · CRP: 11 mg/L (reported as 1.1 mg/dL)" in line
    assert "Observation/crp-local" in line and "matched by name" in line


def test_s8_stale_and_unusable_are_named() -> None:
    facts = replace(
        with_lab(example_1(), Analyte.CRP, lab(1.0, 240, "Observation/crp-old")),
        unusable=(
            Unusable("Observation/crp-x", "unit 'mmol/L' cannot be converted to mg/L", "crp"),
            Unusable("Observation/odd", "unreadable Observation (ValueError)", None),
        ),
    )
    detail = render_card(_one(facts), VERBOSE).detail or ""
    assert "stale" in detail and "Observation/crp-old" in detail
    assert detail.count("Observation/crp-x") == 1 and "cannot be converted" in detail
    assert "**Not usable**\n\n- Observation/odd: unreadable Observation (ValueError)" in detail
    concise = render_card(_one(facts)).detail or ""  # issue 12: the same, in plain words
    assert "stale): 1 mg/L (2026-03-27)" in concise
    assert "a CRP result (undated) could not be read: unit 'mmol/L' cannot be" in concise
    assert "Also on file: a record (undated) could not be read: its content is not" in concise
    assert "Observation/" not in concise


def test_s8_detail_lists_modifiers_and_evidence_strength() -> None:
    facts = example_1(
        sex=Fact(value="male", reference="Patient/p1"),
        birth_date=born_on(date(1999, 3, 1)),
    )
    detail = render_card(_one(facts), VERBOSE).detail or ""
    assert "Hepatosplenic T-cell lymphoma (HSTCL)" in detail
    assert "Oussalah et al. (Am J Gastroenterol 2010): retrospective, 48 patients" in detail
    assert "SONIC (N Engl J Med 2010): RCT, 508 patients" in detail
    concise = render_card(_one(facts)).detail or ""  # one evidence line, with each design
    assert "Hepatosplenic T-cell lymphoma (HSTCL)" in concise
    assert concise.count("Evidence: ") == 1
    assert "Oussalah 2010 (retrospective)" in concise and "SONIC 2010 (RCT)" in concise


def test_s8_hla_only_failure_is_marked_low_certainty() -> None:
    carrier = Fact(value=True, reference="Observation/hla", effective=at(800))
    detail = render_card(_one(example_1(hla_dqa1_05_carrier=(carrier,)))).detail or ""
    assert "low certainty" in detail


def test_s8_links_point_to_the_evidence() -> None:
    links = {
        link.url
        for link in render_card(EXAMPLES[Recommendation.WITHDRAWAL_CANDIDATE]()).links or []
    }
    assert {
        "https://doi.org/10.1056/NEJMoa0904492",
        "https://doi.org/10.1038/ajg.2010.158",
    } <= links
    assert all(url.startswith("https://") for url in links)
    labels = {
        link.label
        for link in render_card(EXAMPLES[Recommendation.WITHDRAWAL_CANDIDATE]()).links or []
    }
    assert {"SPARE (Lancet Gastroenterol Hepatol 2023)"} <= labels
    assert any("Clin Gastroenterol Hepatol 2019" in label for label in labels)


def _resources(card):
    return [
        a.resource for s in card.suggestions or [] for a in s.actions or [] if a.type == "create"
    ]


def test_s8_missing_labs_are_offered_as_valid_r4_service_requests() -> None:
    card = render_card(EXAMPLES[Recommendation.INSUFFICIENT_DATA](), patient_id="p1")
    assert card.selectionBehavior == "any"
    resources = _resources(card)
    codes = [r["code"]["coding"][0]["code"] for r in resources]
    assert codes == ["39803-2", "infliximab-antibodies", "1988-5"]
    for resource in resources:
        request = ServiceRequest.model_validate(resource)
        assert (request.status, request.intent) == ("draft", "proposal")
        assert request.subject.reference == "Patient/p1"
    assert resources[2]["code"]["coding"][0]["system"] == LOINC


def test_s8_tpmt_order_for_check_tpmt() -> None:
    (resource,) = _resources(
        render_card(EXAMPLES[Recommendation.CHECK_TPMT](), patient_id="Patient/p1")
    )
    assert resource["code"]["coding"][0]["code"] == "tpmt-nudt15"
    assert resource["subject"] == {"reference": "Patient/p1"}


def test_s8_withdrawal_suggests_delete_of_draft_thiopurine_and_follow_up_in_90_days() -> None:
    assessment = EXAMPLES[Recommendation.WITHDRAWAL_CANDIDATE]()
    card = render_card(assessment, patient_id="p1")
    delete, follow_up = card.suggestions or []
    (action,) = delete.actions or []
    assert (action.type, action.resourceId, action.resource) == (
        "delete",
        "MedicationRequest/abc",
        None,
    )
    resources = [a.resource for a in follow_up.actions or []]
    assert [r["code"]["coding"][0]["code"] for r in resources] == [
        "39803-2",
        "infliximab-antibodies",
    ]
    assert {r["occurrenceDateTime"] for r in resources} == {"2027-02-20"}  # 2026-11-22 + 90 days
    for resource in resources:
        ServiceRequest.model_validate(resource)


def test_s8_no_delete_without_a_draft_thiopurine_order() -> None:
    card = render_card(_one(example_1()), patient_id="p1")
    assert all(a.type == "create" for s in card.suggestions or [] for a in s.actions or [])


def test_s8_no_orders_without_a_patient_reference() -> None:
    assessment = replace(EXAMPLES[Recommendation.INSUFFICIENT_DATA](), patient_reference=None)
    card = render_card(assessment)
    assert card.suggestions is None and card.selectionBehavior is None


def test_spec_23_override_reasons_on_actionable_cards_only(assessment: Assessment) -> None:
    card = render_card(assessment)
    informational = {Recommendation.CONTINUE_COMBINATION, Recommendation.UNSUPPORTED_INDICATION}
    if assessment.recommendation in informational:
        assert card.overrideReasons is None
    else:
        assert card.overrideReasons
        for reason in card.overrideReasons:
            assert reason.system.startswith("https://") and reason.code and reason.display


def test_spec_26_cards_and_suggestions_have_uuid4(assessment: Assessment) -> None:
    card = render_card(assessment, patient_id="p1")
    for value in [card.uuid, *(s.uuid for s in card.suggestions or [])]:
        assert uuid.UUID(value).version == 4


def test_s8_extension_shape(assessment: Assessment) -> None:
    wire = render_card(assessment).wire()
    decision = wire["extension"][EXTENSION_KEY]
    assert decision["recommendation"] == assessment.recommendation.value
    assert decision["policy"] == {"id": "seed-2026", "version": "2026.2"}
    assert len(decision.get("criteria", [])) == len(assessment.criteria)
    for entry, criterion in zip(decision.get("criteria", []), assessment.criteria, strict=True):
        assert entry["id"] == criterion.id.value and entry["status"] == criterion.status.value
        assert set(entry) <= {
            "id",
            "status",
            "value",
            "comparator",
            "unit",
            "effective",
            "reference",
            "references",  # issue 12: every record the criterion rests on or names
        }
        assert None not in entry.values()
        if criterion.fact is not None:
            assert entry["reference"] == criterion.fact.reference
            assert criterion.fact.reference in entry["references"]


def test_s8_extension_values() -> None:
    criteria = render_card(EXAMPLES[Recommendation.WITHDRAWAL_CANDIDATE]()).wire()["extension"][
        EXTENSION_KEY
    ]["criteria"]
    trough = criteria[0]
    assert trough == {
        "id": "trough",
        "status": "met",
        "value": 11.5,
        "unit": "mg/L",
        "effective": at(20).isoformat(),
        "reference": "Observation/trough",
        "references": ["Observation/trough"],
    }
    assert criteria[-1] == {"id": "hla-dqa1-05", "status": "met"}  # not tested: no value to cite


def test_s8_render_cards_keeps_order_and_count() -> None:
    assessments = [
        EXAMPLES[code]()
        for code in (Recommendation.CHECK_TPMT, Recommendation.CONSIDER_COMBINATION)
    ]
    cards = render_cards(assessments, patient_id="p1")
    assert [c.extension[EXTENSION_KEY]["recommendation"] for c in cards if c.extension] == [
        "check-tpmt",
        "consider-combination",
    ]
    assert render_cards([]) == []


def test_s8_data_problems_are_named_on_every_card() -> None:
    problems = ("CRP: the FHIR server did not answer within 400 ms.",)
    assessments = [
        EXAMPLES[Recommendation.CHECK_TPMT](),
        EXAMPLES[Recommendation.CONTINUE_COMBINATION](),
    ]
    for card in render_cards(assessments, patient_id="p1", data_problems=problems):
        assert (
            "**Not obtained from the EHR:** CRP: the FHIR server did not answer within 400 ms."
            in (card.detail or "")
        )
    for card in render_cards(assessments, VERBOSE, patient_id="p1", data_problems=problems):
        assert "**Data not obtained**\n\n- CRP: the FHIR server did not answer within 400 ms." in (
            card.detail or ""
        )
