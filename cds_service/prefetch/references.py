"""Medications referenced by id, read after the medication keys (decision-spec §7).

Many EHRs code a medication record as `medicationReference: Medication/123` rather than
inline; without that Medication the record's drug is unknown, and an unknown infliximab or
thiopurine would look like "not on it". The prefetch templates cannot ask for these (an
`_include` is outside the SPEC-07 subset, and the ids are only known from the first answers),
so the service reads the ones neither contained nor already present, by id, after the
medication keys and within the same deadline. `Gathered` finds them in the same walk that
de-duplicates the keys' resources.
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


class Gathered:
    """The keys' resources, in the order they are added, each type/id once (first occurrence
    wins; resources without an id are all kept), and the Medications their records reference.

    One walk per resource does both (issue 14: three walks before, a third of
    `resolve_prefetch` on 2,000 resources sent whole), and the caller adds each key as soon as
    it is read, while its resources are still in the CPU's caches. References are collected
    from every record added, duplicates included, as if no resource had been dropped.
    """

    __slots__ = ("_base", "_present", "_references", "_seen", "kept")

    def __init__(self, fhir_server: str | None) -> None:
        self._base = fhir_server.rstrip("/") + "/" if fhir_server else None
        self.kept: list[dict[str, Any]] = []
        self._seen: set[tuple[str, str]] = set()
        self._present: set[str] = set()  # ids of the Medications at hand
        self._references: list[Any] = []  # the records' medicationReference values

    def add(self, resources: Iterable[dict[str, Any]]) -> None:
        seen, remember, keep = self._seen, self._seen.add, self.kept.append
        present, references = self._present, self._references
        for resource in resources:
            resource_type = resource["resourceType"]
            resource_id = resource.get("id")
            if isinstance(resource_id, str):
                identity = (resource_type, resource_id)
                if identity not in seen:
                    remember(identity)
                    keep(resource)
            else:
                keep(resource)
            if resource_type == "Medication":
                # Only a string id can answer a reference; any other JSON (a list, say) is
                # kept for the mappings to refuse, never hashed here (that was a 500).
                if isinstance(resource_id, str):
                    present.add(resource_id)
            elif resource_type in _RECORD_TYPES:
                reference = resource.get("medicationReference")
                if reference is not None:
                    references.append(reference)

    def unresolved_medication_ids(self) -> list[str]:
        """Ids of Medications that the records added reference (relatively, or on the
        fhirServer) and that are not among the resources added, in the order first
        referenced."""
        present = set(self._present)
        wanted: list[str] = []
        for reference in self._references:
            medication_id = _medication_id(reference, self._base)
            if medication_id is not None and medication_id not in present:
                present.add(medication_id)
                wanted.append(medication_id)
        return wanted


def unresolved_medication_ids(
    resources: Iterable[dict[str, Any]], fhir_server: str | None
) -> list[str]:
    """`Gathered.unresolved_medication_ids` of `resources` alone."""
    gathered = Gathered(fhir_server)
    gathered.add(resources)
    return gathered.unresolved_medication_ids()


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
