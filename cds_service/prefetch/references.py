"""Medications referenced by id, read after the medication keys (decision-spec §7).

Many EHRs code a medication record as `medicationReference: Medication/123` rather than
inline; without that Medication the record's drug is unknown, and an unknown infliximab or
thiopurine would look like "not on it". The prefetch templates cannot ask for these (an
`_include` is outside the SPEC-07 subset, and the ids are only known from the first answers),
so the service reads the ones neither contained nor already present, by id, after the
medication keys and within the same deadline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cds_service.prefetch.templates import MEDICATION_TOPICS, PrefetchTemplate

REFERENCED_MEDICATIONS = PrefetchTemplate(
    key="referencedMedications",
    template="Medication/{id}",  # never advertised or rendered: the ids come from the records
    required=False,
    label="referenced medications",
    informs=MEDICATION_TOPICS,
)

_RECORD_TYPES = frozenset(
    {"MedicationStatement", "MedicationRequest", "MedicationAdministration", "MedicationDispense"}
)


def unresolved_medication_ids(
    resources: Iterable[dict[str, Any]], fhir_server: str | None
) -> list[str]:
    """Ids of Medications that records reference (relatively, or on `fhir_server`) and that
    are not at hand, in the order first referenced."""
    # One walk over every resource (issue 14: thousands of them, walked twice before); the
    # few references are read afterwards, against every Medication present.
    present: set[Any] = set()
    references: list[Any] = []
    for resource in resources:
        resource_type = resource["resourceType"]
        if resource_type == "Medication":
            present.add(resource.get("id"))
        elif resource_type in _RECORD_TYPES:
            reference = resource.get("medicationReference")
            if reference is not None:
                references.append(reference)
    base = fhir_server.rstrip("/") + "/" if fhir_server else None
    wanted: list[str] = []
    for reference in references:
        medication_id = _medication_id(reference, base)
        if medication_id is not None and medication_id not in present:
            present.add(medication_id)
            wanted.append(medication_id)
    return wanted


def _medication_id(reference: Any, base: str | None) -> str | None:
    """The id in `Medication/<id>`, `Medication/<id>/_history/<v>` or the same under `base`
    (the fhirServer's URL with one trailing slash); None for contained (`#id`) and foreign
    references."""
    raw = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(raw, str):
        return None
    relative = raw.removeprefix(base) if base is not None else raw
    parts = relative.split("/")
    versioned = len(parts) == 4 and parts[2] == "_history"
    if parts[0] == "Medication" and (len(parts) == 2 or versioned) and parts[1]:
        return parts[1]
    return None
