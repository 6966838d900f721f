"""Small builders of R4 JSON resources for the mapping tests (R4-valid as built)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

TODAY = date(2026, 11, 22)
PATIENT = "Patient/p1"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
LOCAL = "http://lab.example.org/codes"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

Resource = dict[str, Any]


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def quantity(value: float, code: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code, **extra}


def patient(**extra: Any) -> Resource:
    return {"resourceType": "Patient", "id": "p1", "birthDate": "1980-05-17", **extra}


def observation(ident: str, code: dict[str, Any], *, days_ago: int = 10, **extra: Any) -> Resource:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "code": code,
        "subject": {"reference": PATIENT},
        "effectiveDateTime": day(days_ago),
        **extra,
    }


def lab(ident: str, loinc: str, value: float, unit: str, **extra: Any) -> Resource:
    return observation(ident, concept(LOINC, loinc), valueQuantity=quantity(value, unit), **extra)


def antibody(ident: str, name: str = "Anti-infliximab antibodies", **extra: Any) -> Resource:
    return observation(
        ident, {"coding": [{"system": LOCAL, "code": "X1", "display": name}]}, **extra
    )


def rx(code: str) -> dict[str, Any]:
    return concept(RXNORM, code)


INFLIXIMAB = rx("191831")
AZATHIOPRINE = rx("1256")


def statement(
    ident: str, medication: dict[str, Any], status: str = "active", **extra: Any
) -> Resource:
    return {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": status,
        "medicationCodeableConcept": medication,
        "subject": {"reference": PATIENT},
        **extra,
    }


def request(
    ident: str,
    medication: dict[str, Any],
    authored_days_ago: int,
    status: str = "active",
    **extra: Any,
) -> Resource:
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": medication,
        "subject": {"reference": PATIENT},
        "authoredOn": day(authored_days_ago),
        **extra,
    }


def administration(
    ident: str, medication: dict[str, Any], days_ago: int, status: str = "completed", **extra: Any
) -> Resource:
    return {
        "resourceType": "MedicationAdministration",
        "id": ident,
        "status": status,
        "medicationCodeableConcept": medication,
        "subject": {"reference": PATIENT},
        "effectiveDateTime": day(days_ago),
        **extra,
    }


def condition(ident: str, code: dict[str, Any], clinical: str = "active", **extra: Any) -> Resource:
    return {
        "resourceType": "Condition",
        "id": ident,
        "clinicalStatus": concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", clinical
        ),
        "code": code,
        "subject": {"reference": PATIENT},
        **extra,
    }


def bundle(*resources: Resource, kind: str | None = "searchset") -> Resource:
    result: Resource = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": f"http://ehr.example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }
    if kind:
        result["type"] = kind
    return result
