"""Assessment -> CDS Hooks Card (spec §8). Pure: the only randomness is the cards' and
suggestions' UUIDs (SPEC-26), which the protocol models assign.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from cds_service.cards.catalogue import Catalogue, load_catalogue
from cds_service.cards.concise import cited_sources, render_concise
from cds_service.cards.detail import render_detail
from cds_service.cards.extension import extension
from cds_service.cards.suggestions import suggestions
from cds_service.cards.wording import INDICATORS, summary
from cds_service.protocol import Card, Link, OverrideReason, Source
from cds_service.rules import Assessment, Recommendation

SERVICE_NAME = "aza-advisor"

# Cards that ask the clinician to act; the others only inform, so there is nothing to override.
ACTIONABLE = frozenset(Recommendation) - {
    Recommendation.CONTINUE_COMBINATION,
    Recommendation.UNSUPPORTED_INDICATION,
}


def patient_reference(patient_id: str | None, assessment: Assessment) -> str | None:
    """'Patient/<id>' from the hook context's patientId, else from the facts."""
    if patient_id:
        return patient_id if patient_id.startswith("Patient/") else f"Patient/{patient_id}"
    return assessment.patient_reference


def source(assessment: Assessment, url: str | None) -> Source:
    label = f"{SERVICE_NAME} · policy {assessment.policy_id} v{assessment.policy_version}"
    return Source(label=label, url=url)


def links(assessment: Assessment, *, verbose: bool = False) -> list[Link]:
    """Links to the evidence: on a concise card only the sources its evidence line names."""
    sources = assessment.evidence if verbose else cited_sources(assessment)
    return [_link(e.label, e.url) for e in sources if e.url]


# The fixed parts of cards, validated once per process (issue 14): frozen models shared by
# every card, keyed on the policies' evidence and the catalogue's override reasons (data
# files, no patient data), so a few hundred entries bound them with room to spare.
@lru_cache(maxsize=256)
def _link(label: str, url: str) -> Link:
    return Link(label=label, url=url, type="absolute")


@lru_cache(maxsize=16)
def _override_reasons(
    system: str, codes: tuple[tuple[str, str], ...]
) -> tuple[OverrideReason, ...]:
    return tuple(OverrideReason(system=system, code=code, display=d) for code, d in codes)


def override_reasons(assessment: Assessment, catalogue: Catalogue) -> list[OverrideReason]:
    if assessment.recommendation not in ACTIONABLE:
        return []
    reasons = catalogue.override_reasons
    return list(_override_reasons(reasons.system, tuple(reasons.codes.items())))


@dataclass(frozen=True, slots=True)
class CardContext:
    """Per-deployment card settings. `source_url` is settings.source_url: the site's page about
    the service; without one, the card has no source link rather than a link to nowhere.
    `catalogue` is the order catalogue with the site's lab codes (settings.order_catalogue).
    `verbose` (settings.verbose_cards) renders the long detail, one line per criterion with its
    record, instead of the concise one (issue 12)."""

    source_url: str | None = None
    catalogue: Catalogue = field(default_factory=load_catalogue)
    verbose: bool = False


def render_card(
    assessment: Assessment,
    context: CardContext | None = None,
    *,
    patient_id: str | None = None,
    data_problems: Sequence[str] = (),
) -> Card:
    context = context or CardContext()
    suggested = suggestions(
        assessment, patient_reference(patient_id, assessment), context.catalogue
    )
    return Card(
        summary=summary(assessment),
        indicator=INDICATORS[assessment.recommendation],
        detail=(render_detail if context.verbose else render_concise)(assessment, data_problems),
        source=source(assessment, context.source_url),
        suggestions=suggested or None,
        selectionBehavior="any" if suggested else None,
        overrideReasons=override_reasons(assessment, context.catalogue) or None,
        links=links(assessment, verbose=context.verbose) or None,
        extension=extension(assessment),
    )


def render_cards(
    assessments: Iterable[Assessment],
    context: CardContext | None = None,
    *,
    patient_id: str | None = None,
    data_problems: Sequence[str] = (),
) -> list[Card]:
    """One card per assessment, in the order the rules gave them.

    `patient_id` is the hook context's patientId (with or without "Patient/");
    `data_problems` says which data could not be fetched (one sentence each), shown on every
    card so that a clinician knows what the advice could not see.
    """
    return [
        render_card(a, context, patient_id=patient_id, data_problems=data_problems)
        for a in assessments
    ]
