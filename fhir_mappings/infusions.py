"""Infliximab infusion times, for trough timing (decision-spec §10).

A level drawn within days after an infusion is a peak, not a trough. The rules need the moment
of each recorded infusion, and whether that moment is known or only its day.
"""

from __future__ import annotations

from datetime import tzinfo

from fhir_mappings.facts import DrugClass, Infusion
from fhir_mappings.medications import MedicationRecord
from fhir_mappings.read import DATE_LENGTH, JSON, parse_instant, period_start, text


def infusion_of(resource: JSON, record: MedicationRecord, zone: tzinfo) -> Infusion | None:
    """The infusion a MedicationAdministration record stands for, if it is infliximab's.

    Its start is the moment that matters (a level drawn during the infusion is no trough
    either). A date-only value is not timed: the infusion may have been at any time that day.
    """
    if record.kind != "MedicationAdministration" or record.drug.drug is not DrugClass.INFLIXIMAB:
        return None
    raw = period_start(resource, "effective")
    given = parse_instant(raw, zone)
    if given is None:
        return None
    return Infusion(record.reference, given, timed=len(text(raw) or "") > DATE_LENGTH)
