"""A small patient record of our own (one resource per prefetch key) for the prefetch tests."""

from __future__ import annotations

from typing import Any

Resource = dict[str, Any]

PATIENT_ID = "pf-0042"
CONTEXT: dict[str, Any] = {"userId": "Practitioner/u-7", "patientId": PATIENT_ID}
TOKEN = "opaque-token-9c1f37d2-never-log-me"

_SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}
_LOINC = "http://loinc.org"
_LAB = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "laboratory",
            }
        ]
    }
]


def observation(
    resource_id: str,
    code: str,
    *,
    system: str = _LOINC,
    date: str = "2026-11-01T08:00:00+00:00",
    category: list[Resource] | None = None,
    status: str = "final",
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "status": status,
        "category": _LAB if category is None else category,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": _SUBJECT,
        "effectiveDateTime": date,
    }


def small_record() -> list[Resource]:
    """Patient, diagnosis, infliximab and azathioprine, labs (one with a local code), HLA."""
    return [
        {"resourceType": "Patient", "id": PATIENT_ID, "birthDate": "1980-02-03"},
        {
            "resourceType": "Condition",
            "id": "cd",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "34000006"}]},
            "subject": _SUBJECT,
        },
        {
            "resourceType": "MedicationStatement",
            "id": "aza",
            "status": "active",
            "medicationCodeableConcept": {"text": "Azathioprine 50 mg tablet"},
            "subject": _SUBJECT,
        },
        {
            "resourceType": "MedicationRequest",
            "id": "ifx-rx",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Inflectra 100 mg"},
            "subject": _SUBJECT,
            "authoredOn": "2026-01-05",
        },
        {
            "resourceType": "MedicationAdministration",
            "id": "ifx-adm",
            "status": "completed",
            "medicationReference": {"reference": "#med"},
            "subject": _SUBJECT,
            "effectiveDateTime": "2026-10-20T09:00:00+01:00",
        },
        observation("crp", "1988-5"),
        observation("trough", "39803-2", date="2026-10-30T08:00:00-05:00"),
        observation("ab-local", "IFXAB", system="http://lab.example.org/codes"),
        observation("hla", "84413-4", date="2024-01-01T08:00:00Z"),
        observation(
            "hbi",
            "HBI",
            system="http://example.org/scores",
            category=[{"coding": [{"code": "survey"}]}],
        ),
        # Another patient's result is never returned; a preliminary one is (decision-spec §10:
        # it still happened, and the mappings make its criterion unknown).
        {**observation("other", "1988-5"), "subject": {"reference": "Patient/someone-else"}},
        observation("prelim", "1988-5", status="preliminary"),
    ]


def identities_of_small_record() -> set[tuple[str, str]]:
    """What the templates should find in `small_record()`."""
    excluded = {"other"}
    return {(r["resourceType"], r["id"]) for r in small_record() if r["id"] not in excluded}
