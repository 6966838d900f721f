"""The templates advertised in discovery, and how they are rendered (SPEC-06, SPEC-07)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from cds_service.prefetch import (
    PREFETCH_TEMPLATES,
    Unrenderable,
    discovery_prefetch,
    render_template,
    with_site_lab_codes,
)
from cds_service.prefetch.render import TOKEN
from fhir_mappings.topics import MEDICATIONS, Topic

# The token fields of the hooks we serve (hooks library STU1): patient-view, order-select and
# order-sign all define userId, patientId and encounterId as tokens.
HOOK_TOKENS = {"context.userId", "context.patientId", "context.encounterId"}
USER_TOKENS = {"userPractitionerId", "userPractitionerRoleId", "userPatientId"}
USER_TOKENS |= {"userRelatedPersonId"}

# SPEC-07: references, token equality (the :in modifier at most), _count and _sort.
ALLOWED_PARAMETERS = {"patient", "subject", "code", "category", "status", "_count", "_sort"}


def test_spec06_templates_use_only_2_0_tokens() -> None:
    for template in PREFETCH_TEMPLATES.values():
        tokens = TOKEN.findall(template.template)
        assert tokens, template.key  # every query is scoped by a token
        assert set(tokens) <= HOOK_TOKENS | USER_TOKENS, template.key
        assert "today()" not in template.template and "%" not in template.template


@pytest.mark.parametrize("key", list(PREFETCH_TEMPLATES))
def test_spec07_templates_use_restricted_query_subset(key: str) -> None:
    template = PREFETCH_TEMPLATES[key].template
    path, _, query = template.partition("?")
    resource_type, *rest = path.split("/")
    assert resource_type.isalpha() and resource_type[0].isupper()
    if not query:  # an instance read with a token id
        assert rest == ["{{context.patientId}}"]
        return
    assert rest == []
    parameters = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    names = [name.split(":")[0] for name, _ in parameters]
    assert set(names) <= ALLOWED_PARAMETERS
    assert all(name.partition(":")[2] in ("", "in") for name, _ in parameters)
    assert {"patient", "subject"} & set(names), "a search must be patient-scoped"
    for name, value in parameters:
        if name == "_sort":
            assert value in ("date", "-date"), "sort by date only, the most portable"
        if name == "_count":
            assert 0 < int(value) <= 100


def test_required_keys_are_the_medication_lists() -> None:
    required = {key for key, t in PREFETCH_TEMPLATES.items() if t.required}
    assert required == {"medicationStatements", "medicationRequests"}


def test_every_topic_of_the_record_has_a_key() -> None:
    covered = {topic for template in PREFETCH_TEMPLATES.values() for topic in template.informs}
    assert covered == set(Topic) - {Topic.DRAFT_ORDER}  # the draft order is in the hook context


def test_medication_keys_inform_every_drug_class() -> None:
    for key in ("medicationStatements", "medicationRequests"):
        assert set(MEDICATIONS) <= PREFETCH_TEMPLATES[key].informs
    assert PREFETCH_TEMPLATES["medicationAdministrations"].informs == {Topic.INFLIXIMAB}


def test_local_antibody_codes_are_caught_by_a_code_independent_lab_query() -> None:
    recent = PREFETCH_TEMPLATES["recentLabs"].template
    assert "category=laboratory" in recent and "code=" not in recent
    assert Topic.ANTIBODIES in PREFETCH_TEMPLATES["recentLabs"].informs


def test_discovery_prefetch_is_the_template_strings() -> None:
    advertised = discovery_prefetch()
    assert list(advertised) == list(PREFETCH_TEMPLATES)
    assert advertised["patient"] == "Patient/{{context.patientId}}"


def test_render_fills_and_url_encodes_context_values() -> None:
    rendered = render_template(
        "Observation?patient={{context.patientId}}&_count=1", {"patientId": "a b/c&d"}
    )
    assert rendered == "Observation?patient=a%20b%2Fc%26d&_count=1"


def test_render_fills_user_tokens_from_user_id() -> None:
    context = {"userId": "Practitioner/p 1", "patientId": "x"}
    assert render_template("Practitioner/{{userPractitionerId}}", context) == "Practitioner/p%201"
    assert render_template("PractitionerRole?_id={{userPractitionerRoleId}}", context) == (
        Unrenderable(("userPractitionerRoleId",))
    )


@pytest.mark.parametrize(
    "context",
    [{}, {"patientId": ""}, {"patientId": {"reference": "Patient/1"}}, {"patientId": None}],
)
def test_render_reports_unfillable_tokens_instead_of_sending_them(context: dict) -> None:
    rendered = render_template("Patient/{{context.patientId}}", context)
    assert rendered == Unrenderable(("context.patientId",))
    assert rendered.reason == "cannot fill {{context.patientId}}"


def test_render_rejects_3_0_fhirpath_tokens() -> None:
    template = "Observation?date=gt{{today() - 90 days}}&patient={{context.patientId}}"
    rendered = render_template(template, {"patientId": "1"})
    assert rendered == Unrenderable(("today() - 90 days",))


def test_site_lab_codes_join_the_coded_lab_search() -> None:
    templates = with_site_lab_codes(["http://lab.example.org/codes|IFXAB"])

    labs = templates["labs"]
    assert labs.template.count("http://lab.example.org/codes|IFXAB") == 1
    assert "code=http://loinc.org|39803-2," in labs.template
    assert Topic.ANTIBODIES in labs.informs
    assert list(templates) == list(PREFETCH_TEMPLATES)
    changed = {"labs", "recentLabs"}
    assert {k: t for k, t in templates.items() if k not in changed} == {
        k: t for k, t in PREFETCH_TEMPLATES.items() if k not in changed
    }
    assert discovery_prefetch(templates)["labs"] == labs.template
    # The antibody history now comes whole from `labs`: the window no longer vouches for it.
    recent = templates["recentLabs"]
    assert recent.template == PREFETCH_TEMPLATES["recentLabs"].template
    assert Topic.ANTIBODIES not in recent.informs


def test_no_site_lab_codes_leaves_templates_unchanged() -> None:
    assert with_site_lab_codes([]) is PREFETCH_TEMPLATES


@pytest.mark.parametrize(
    "code", ["IFXAB", "|IFXAB", "http://lab|", "http://lab|IFX AB", "http://lab|A&_count=1000"]
)
def test_site_lab_codes_must_be_plain_tokens(code: str) -> None:
    with pytest.raises(ValueError, match="system\\|code"):
        with_site_lab_codes([code])


def test_issue10_query_percent_encodes_the_token_bar_and_keeps_the_or_comma() -> None:
    """Tomcat-based FHIR servers refuse a raw `|` (`code=http://loinc.org|1988-5`)."""
    rendered = render_template(
        "Observation?patient={{context.patientId}}&code=http://loinc.org|1988-5,http://loinc.org|777-3",
        {"patientId": "p|1"},
    )
    assert rendered == (
        "Observation?patient=p%7C1&code=http://loinc.org%7C1988-5,http://loinc.org%7C777-3"
    )
