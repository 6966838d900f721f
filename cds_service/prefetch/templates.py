"""The service's prefetch templates: what the EHR is asked to send, and what the service
queries itself when the EHR does not.

The same strings are advertised in discovery and rendered for the fallback fetch, so prefetch
and fallback cannot drift apart. They use only CDS Hooks 2.0 tokens (`{{context.patientId}}`;
no 3.0 FHIRPath or `today()` tokens, SPEC-06) and the restricted query subset of SPEC-07:
reads, type searches by reference, token equality (comma = OR), `_count` and `_sort`.

Choices that are not obvious:

- Medications (statements, requests and administrations) are filtered by status, not by code.
  EHRs send clinical and branded drug codes, and often a `medicationReference` to a contained
  Medication, which a `code` search does not match; a code list that missed one product would
  make "on infliximab" look like "not on infliximab", exactly the missing data that must not
  look like normal data. They are not sorted because `_sort` on medication resources is
  unevenly supported and a 400 there would lose a required key; paging
  (`FetchSettings.max_pages`) bounds the volume instead, and a cut-off is reported.
  Medications referenced by id are not a template (see `references`).
- `recentLabs` fetches the latest 100 laboratory results whatever their code, because
  anti-infliximab antibodies often carry a lab's local code (decision-spec §7). It is a window
  by design (no further pages), so an older locally coded result is found only once the site's
  code is added to `labs` with `with_site_lab_codes`.
- No date filters: relative dates need the 3.0 `today()` token; `_sort=-date` with `_count`
  keeps the most recent results instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from fhir_mappings.topics import ACTIVITY_SCORES, MEDICATIONS, Topic


@dataclass(frozen=True, slots=True)
class PrefetchTemplate:
    """One prefetch key.

    `required` keys are those without which the service cannot decide anything (SPEC-15: 412
    when they are unobtainable); a failed optional key only makes its topics unknown. `informs`
    are the `Topic`s, the rules' own vocabulary, whose data the key carries; `label` names the
    key for a card ("Laboratory results could not be fetched: ...").
    """

    key: str
    template: str
    required: bool
    label: str
    informs: frozenset[Topic]
    first_page_only: bool = False
    """A window by design ("the latest 100"): further pages are neither read nor missed."""

    @property
    def resource_type(self) -> str:
        """The FHIR type the query reads or searches."""
        return self.template.split("?", 1)[0].split("/", 1)[0]

    @property
    def newest_first(self) -> bool:
        """Sorted by date, newest first: a page limit then cuts off only the oldest results."""
        return "_sort=-date" in self.template

    @property
    def is_search(self) -> bool:
        """A search answers with a Bundle; a read answers with the resource itself."""
        return "?" in self.template


_LOINC = "http://loinc.org"


def _codes(system: str, *codes: str) -> str:
    return ",".join(f"{system}|{code}" for code in codes)


# decision-spec §7: levels, inflammation, platelets and calprotectin, by LOINC code.
_LAB_CODES = _codes(
    _LOINC,
    "39803-2",  # infliximab [mass/volume]
    "86896-8",  # infliximab trough
    "1988-5",  # CRP
    "30522-7",  # hs-CRP
    "76485-2",  # CRP [moles/volume]
    "76486-0",  # hs-CRP [moles/volume]
    "777-3",  # platelets, automated
    "26515-7",  # platelets
    "778-1",  # platelets, manual
    "38445-3",  # faecal calprotectin
)
# Done once, often years ago, so searched by code without a recency limit. 84413-4 is the
# genomics-reporting "genotype display name" (gene in a component): it carries HLA-DQA1, TPMT
# and NUDT15 genotypes alike. 41048-0 is the TPMT genotype as reported by large US labs.
_GENETIC_CODES = _codes(_LOINC, "59019-0", "96654-9", "84413-4", "41048-0")
# No status filter on results (decision-spec §10): a preliminary or registered result still
# happened, and the mappings must see it to make its criterion unknown; filtering it out here
# would let an older final result decide. The mappings drop entered-in-error and cancelled.

_LAB_TOPICS = frozenset({Topic.INFLIXIMAB_LEVEL, Topic.CRP, Topic.PLATELETS, Topic.CALPROTECTIN})
MEDICATION_TOPICS = frozenset(MEDICATIONS)
"""What a medication record may inform: any drug class of the rules."""
_TOKEN = re.compile(r"[^\s|,&#?{}]+\|[^\s|,&#?{}]+")


def _labs(site_codes: tuple[str, ...] = ()) -> PrefetchTemplate:
    """Results searched by code, their whole history (paged): a site's own antibody codes
    join the LOINC list here, so that "ever positive" sees every result, not just the
    window of `recentLabs`."""
    codes = ",".join((_LAB_CODES, *site_codes))
    return PrefetchTemplate(
        key="labs",
        template=(
            f"Observation?patient={{{{context.patientId}}}}&code={codes}&_sort=-date&_count=100"
        ),
        required=False,
        label="laboratory results",
        informs=_LAB_TOPICS | ({Topic.ANTIBODIES} if site_codes else frozenset()),
    )


_ALL_TEMPLATES = (
    PrefetchTemplate(
        key="patient",
        template="Patient/{{context.patientId}}",
        required=False,
        label="patient demographics",
        informs=frozenset({Topic.PATIENT}),
    ),
    PrefetchTemplate(
        key="conditions",
        template="Condition?patient={{context.patientId}}&_count=100",
        required=False,
        label="diagnoses",
        informs=frozenset({Topic.DIAGNOSIS, Topic.REMISSION}),
    ),
    PrefetchTemplate(
        key="medicationStatements",
        template=(
            "MedicationStatement?patient={{context.patientId}}"
            "&status=active,completed,intended,on-hold,stopped&_count=100"
        ),
        required=True,
        label="medication statements",
        informs=MEDICATION_TOPICS | {Topic.REMISSION},
    ),
    PrefetchTemplate(
        key="medicationRequests",
        template=(
            "MedicationRequest?patient={{context.patientId}}"
            "&status=active,on-hold,completed,stopped&_count=100"
        ),
        required=True,
        label="medication orders",
        informs=MEDICATION_TOPICS | {Topic.REMISSION},
    ),
    PrefetchTemplate(
        key="medicationAdministrations",
        template=(
            "MedicationAdministration?patient={{context.patientId}}"
            "&status=completed,in-progress&_count=100"
        ),
        required=False,
        label="medication administrations",
        informs=frozenset({Topic.INFLIXIMAB}),
    ),
    _labs(),
    PrefetchTemplate(
        key="recentLabs",
        template=(
            "Observation?patient={{context.patientId}}&category=laboratory&_sort=-date&_count=100"
        ),
        required=False,
        label="recent laboratory results",
        informs=frozenset({Topic.ANTIBODIES}),
        first_page_only=True,
    ),
    PrefetchTemplate(
        key="genetics",
        template=f"Observation?patient={{{{context.patientId}}}}&code={_GENETIC_CODES}&_count=50",
        required=False,
        label="genetic test results",
        informs=frozenset({Topic.HLA_DQA1_05, Topic.THIOPURINE_METABOLISM}),
    ),
    PrefetchTemplate(
        key="activityScores",
        template=(
            "Observation?patient={{context.patientId}}&category=survey&_sort=-date&_count=50"
        ),
        required=False,
        label="disease activity scores",
        informs=frozenset({*ACTIVITY_SCORES, Topic.REMISSION}),
        first_page_only=True,
    ),
)

PREFETCH_TEMPLATES: Mapping[str, PrefetchTemplate] = MappingProxyType(
    {template.key: template for template in _ALL_TEMPLATES}
)
"""Every key the service asks for, in a stable order (also the order of the resolved data)."""


def with_site_lab_codes(
    codes: Iterable[str], templates: Mapping[str, PrefetchTemplate] = PREFETCH_TEMPLATES
) -> Mapping[str, PrefetchTemplate]:
    """`templates` with a site's laboratory codes (`system|code`, e.g. its local
    anti-infliximab antibody code) added to the `labs` search.

    Without them, a locally coded antibody result is found only among the latest laboratory
    results (`recentLabs`), so an old positive result can fall outside that window; the rules
    then treat "never positive" as unknown whenever that window was full.
    """
    site_codes = tuple(codes)
    malformed = [code for code in site_codes if not _TOKEN.fullmatch(code)]
    if malformed:
        raise ValueError(f"laboratory codes must be 'system|code' tokens: {malformed}")
    if not site_codes:
        return templates
    # The antibody history now comes whole from `labs`; the latest-results window still reads
    # (results under other local codes are recognised by name) but no longer vouches for it.
    recent = templates["recentLabs"]
    window = replace(recent, informs=recent.informs - {Topic.ANTIBODIES})
    return MappingProxyType({**templates, "labs": _labs(site_codes), "recentLabs": window})


def discovery_prefetch(
    templates: Mapping[str, PrefetchTemplate] = PREFETCH_TEMPLATES,
) -> dict[str, str]:
    """The `prefetch` object of a discovery entry (SPEC-05): key -> template string."""
    return {key: template.template for key, template in templates.items()}
