"""A catalogue of realistic record flaws (decision-spec §10), applied to worked example 1.

Worked example 1 (`aza-ex01`) meets every criterion of pathway A and is a
`withdrawal-candidate`. Each flaw below takes a deep copy of its resources and returns a
`Flawed`: the flawed resource list, the reference ("Type/id") of the record it flawed, and
whether the spec says the flaw is to be ignored (entered-in-error, cancelled, refuted, another
patient's record, a duplicate, the order of the list). For an ignored flaw the outcome must stay
`withdrawal-candidate`; for every other flaw it must not be `withdrawal-candidate`.

    from tests.adversarial.flaws import FLAWS, apply_flaw
    flawed = apply_flaw("crp_unconvertible_unit", worked_example(1, today=today).resources, today)

Every date is relative to `today`, as in the fixture.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from tests.fixtures.worked_examples import (
    ATC,
    LOCAL_LAB,
    LOINC,
    RXNORM,
    SNOMED,
    UCUM,
    worked_example,
)

Resource = dict[str, Any]

PATIENT_ID = "aza-ex01"
SUBJECT = {"reference": f"Patient/{PATIENT_ID}"}
OTHER_PATIENT = "aza-ex99-other"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
LAB_CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "laboratory",
                "display": "Laboratory",
            }
        ]
    }
]
CRP_CODE = {
    "coding": [
        {"system": LOINC, "code": "1988-5", "display": "C reactive protein [Mass/volume] in Serum"}
    ]
}
TROUGH_CODE = {
    "coding": [
        {
            "system": LOINC,
            "code": "39803-2",
            "display": "Infliximab [Mass/volume] in Serum or Plasma",
        }
    ]
}
PLATELETS_CODE = {
    "coding": [
        {
            "system": LOINC,
            "code": "777-3",
            "display": "Platelets [#/volume] in Blood by Automated count",
        }
    ]
}
ANTIBODY_CODE = {
    "coding": [{"system": LOCAL_LAB, "code": "IFXAB", "display": "Anti-infliximab antibodies"}],
    "text": "Anti-infliximab antibodies",
}
ANTIBODY_QUANTITATIVE_CODE = {
    "coding": [
        {
            "system": LOCAL_LAB,
            "code": "IFXABQ",
            "display": "inFLIXimab Ab [Units/volume] in Serum by Immunoassay",
        }
    ],
    "text": "inFLIXimab Ab [Units/volume] in Serum by Immunoassay",
}
AZATHIOPRINE = {
    "coding": [
        {"system": RXNORM, "code": "1256", "display": "azathioprine"},
        {"system": ATC, "code": "L04AX01", "display": "azathioprine"},
    ],
    "text": "Azathioprine 50 mg tablet",
}
INFLECTRA = {
    "coding": [{"system": RXNORM, "code": "1790546"}],
    "text": "Inflectra (infliximab-dyyb) 100 mg powder for IV infusion",
}
BUDESONIDE = {
    "coding": [
        {"system": RXNORM, "code": "19831", "display": "budesonide"},
        {"system": ATC, "code": "A07EA06", "display": "budesonide"},
    ],
    "text": "Budesonide 3 mg modified-release capsule",
}
PREDNISOLONE = {
    "coding": [
        {"system": RXNORM, "code": "8638", "display": "prednisolone"},
        {"system": ATC, "code": "H02AB06", "display": "prednisolone"},
    ],
    "text": "Prednisolone 5 mg tablet",
}


@dataclass(frozen=True)
class Flawed:
    """The outcome of one flaw: the resources, the record it flawed, and whether to ignore it."""

    resources: list[Resource]
    reference: str
    ignored: bool


@dataclass(frozen=True)
class Flaw:
    """A named flaw. `criterion` is the pathway A criterion it bears on ("scope" for the
    patient's age, "any" for the benign transformations); `ignored` is what the spec says."""

    name: str
    criterion: str
    ignored: bool
    apply: Callable[[list[Resource], date], tuple[list[Resource], str]]
    bullet: str  # the §10 (or §7) rule it checks


# --- helpers ------------------------------------------------------------------------------


def day(today: date, days_ago: int) -> str:
    return (today - timedelta(days=days_ago)).isoformat()


def instant(today: date, days_ago: int, hhmm: str = "07:45", tz: str = "+01:00") -> str:
    return f"{day(today, days_ago)}T{hhmm}:00{tz}"


def example_resources(today: date) -> list[Resource]:
    """A fresh copy of worked example 1's resources."""
    return copy.deepcopy(worked_example(1, today=today).resources)


def ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def find(resources: Sequence[Resource], reference: str) -> Resource:
    for resource in resources:
        if ref(resource) == reference:
            return resource
    raise KeyError(reference)


def lab(
    rid: str,
    code: dict[str, Any],
    effective: str,
    issued: str,
    *,
    subject: dict[str, str] | None = None,
    status: str = "final",
    **value: Any,
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": status,
        "category": copy.deepcopy(LAB_CATEGORY),
        "code": copy.deepcopy(code),
        "subject": dict(subject or SUBJECT),
        "effectiveDateTime": effective,
        "issued": issued,
        **value,
    }


def recent_lab(
    rid: str, code: dict[str, Any], today: date, days_ago: int = 5, **value: Any
) -> Resource:
    """A result collected `days_ago` days ago (newer than example 1's, which are 20 days old),
    reported the same afternoon."""
    return lab(
        rid,
        code,
        instant(today, days_ago, "07:45"),
        instant(today, days_ago, "16:10"),
        **value,
    )


def quantity(value: Any, code: str, unit: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


def hla_genotype(rid: str, today: date, result: dict[str, Any]) -> Resource:
    resource = lab(
        rid,
        {"coding": [{"system": LOINC, "code": "84413-4", "display": "Genotype display name"}]},
        instant(today, 800),
        instant(today, 795, "12:00"),
        valueCodeableConcept=result,
    )
    resource["component"] = [
        {
            "code": {
                "coding": [{"system": LOINC, "code": "48018-6", "display": "Gene studied [ID]"}]
            },
            "valueCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.genenames.org/geneId",
                        "code": "HGNC:4942",
                        "display": "HLA-DQA1",
                    }
                ]
            },
        }
    ]
    return resource


def _added(resources: list[Resource], *new: Resource) -> tuple[list[Resource], str]:
    resources.extend(new)
    return resources, ref(new[0])


# --- unreadable newer results (§10 bullet 1) ----------------------------------------------


def crp_unconvertible_unit(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A newer CRP whose unit nobody can convert (a flag glued to the unit, no UCUM code)."""
    crp = recent_lab(
        "ex01-crp-bad-unit", CRP_CODE, today, valueQuantity={"value": 3.1, "unit": "mg/l (H)"}
    )
    return _added(resources, crp)


def trough_missing_value(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A newer infliximab level sent as final with no value at all."""
    return _added(resources, recent_lab("ex01-trough-no-value", TROUGH_CODE, today))


def trough_data_absent(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A newer infliximab level with a dataAbsentReason (sample haemolysed)."""
    trough = recent_lab(
        "ex01-trough-absent",
        TROUGH_CODE,
        today,
        dataAbsentReason={
            "coding": [{"system": DATA_ABSENT, "code": "error", "display": "Error"}],
            "text": "Sample haemolysed",
        },
    )
    return _added(resources, trough)


# --- antibodies: every record must read as negative (§10 bullet 2) ------------------------


def antibody_free_text_positive(
    resources: list[Resource], today: date
) -> tuple[list[Resource], str]:
    """An older antibody result as free text, a positive word with a number after it."""
    antibody = lab(
        "ex01-ab-text-positive",
        ANTIBODY_CODE,
        instant(today, 400),
        instant(today, 398, "14:00"),
        valueString="Positive (38 AU/mL)",
    )
    return _added(resources, antibody)


def antibody_inconclusive(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """An older antibody result that is neither negative nor positive."""
    antibody = lab(
        "ex01-ab-inconclusive",
        ANTIBODY_CODE,
        instant(today, 300),
        instant(today, 298, "14:00"),
        valueString="Inconclusive",
    )
    return _added(resources, antibody)


def antibody_quantitative_unjudged(
    resources: list[Resource], today: date
) -> tuple[list[Resource], str]:
    """A quantitative antibody result with neither a reference range nor an interpretation."""
    antibody = lab(
        "ex01-ab-no-range",
        ANTIBODY_QUANTITATIVE_CODE,
        instant(today, 200),
        instant(today, 198, "14:00"),
        valueQuantity=quantity(8.0, "[arb'U]/mL", "AU/mL"),
    )
    return _added(resources, antibody)


def antibody_preliminary(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A newer antibody result still preliminary (the lab has not released it)."""
    antibody = recent_lab(
        "ex01-ab-preliminary",
        ANTIBODY_CODE,
        today,
        valueCodeableConcept={
            "coding": [{"system": SNOMED, "code": "260385009", "display": "Negative"}]
        },
    )
    antibody["status"] = "preliminary"
    return _added(resources, antibody)


def antibody_future(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """An antibody result dated 10 days in the future (a clock or entry error)."""
    antibody = lab(
        "ex01-ab-future",
        ANTIBODY_CODE,
        instant(today, -10),
        instant(today, -10, "16:10"),
        valueCodeableConcept={
            "coding": [{"system": SNOMED, "code": "260385009", "display": "Negative"}]
        },
    )
    return _added(resources, antibody)


# --- partial dates (§10 bullet 5) ---------------------------------------------------------


def crp_partial_date(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A CRP of 40 mg/L dated only to the month of a day 10 days ago: possibly the newest."""
    month = (today - timedelta(days=10)).isoformat()[:7]
    crp = lab(
        "ex01-crp-month",
        CRP_CODE,
        month,
        instant(today, 2, "16:10"),
        valueQuantity=quantity(40.0, "mg/L"),
    )
    return _added(resources, crp)


def birth_year_only_possibly_17(
    resources: list[Resource], today: date
) -> tuple[list[Resource], str]:
    """birthDate "YYYY" such that the patient may still be 17 today: out of scope (no card)."""
    patient = find(resources, f"Patient/{PATIENT_ID}")
    year = today.year - 18 if (today.month, today.day) != (12, 31) else today.year - 17
    patient["birthDate"] = str(year)
    return resources, ref(patient)


def steroid_start_only(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A completed budesonide statement with only a start, 100 days ago: possibly ongoing."""
    steroid = {
        "resourceType": "MedicationStatement",
        "id": "ex01-budesonide-start-only",
        "status": "completed",
        "medicationCodeableConcept": copy.deepcopy(BUDESONIDE),
        "subject": dict(SUBJECT),
        "effectivePeriod": {"start": day(today, 100)},
        "dosage": [{"text": "9 mg by mouth once daily"}],
    }
    return _added(resources, steroid)


def steroid_month_end(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A completed budesonide course ending in the month of a day 180 days ago: its latest
    possible end is within the last 183 days."""
    steroid = {
        "resourceType": "MedicationStatement",
        "id": "ex01-budesonide-month-end",
        "status": "completed",
        "medicationCodeableConcept": copy.deepcopy(BUDESONIDE),
        "subject": dict(SUBJECT),
        "effectivePeriod": {
            "start": day(today, 270),
            "end": (today - timedelta(days=180)).isoformat()[:7],
        },
        "dosage": [{"text": "9 mg by mouth once daily"}],
    }
    return _added(resources, steroid)


# --- whose record (§10 bullet 4) ----------------------------------------------------------


def foreign_crp(today: date) -> Resource:
    """Another patient's newer CRP of 40 mg/L (an EHR search that leaked a record)."""
    return recent_lab(
        "ex99-crp-other-patient",
        CRP_CODE,
        today,
        days_ago=3,
        subject={"reference": f"Patient/{OTHER_PATIENT}"},
        valueQuantity=quantity(40.0, "mg/L"),
    )


def foreign_subject_with_patient(
    resources: list[Resource], today: date
) -> tuple[list[Resource], str]:
    return _added(resources, foreign_crp(today))


def foreign_subject_without_patient(
    resources: list[Resource], today: date
) -> tuple[list[Resource], str]:
    kept = [r for r in resources if r["resourceType"] != "Patient"]
    kept.append(foreign_crp(today))
    return kept, ref(kept[-1])


# --- contradictions (§10 bullet 7) --------------------------------------------------------


def condition_remission_and_relapse(
    resources: list[Resource], today: date
) -> tuple[list[Resource], str]:
    """clinicalStatus carrying both remission and relapse: the worst (relapse) wins."""
    condition = find(resources, "Condition/ex01-crohns")
    condition["clinicalStatus"] = {
        "coding": [
            {"system": CONDITION_CLINICAL, "code": "remission", "display": "Remission"},
            {"system": CONDITION_CLINICAL, "code": "relapse", "display": "Relapse"},
        ]
    }
    return resources, ref(condition)


def crp_simultaneous_conflict(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A second CRP collected and issued at the same instants as example 1's, 8.0 mg/L."""
    original = find(resources, "Observation/ex01-crp")
    twin = copy.deepcopy(original)
    twin["id"] = "ex01-crp-twin"
    twin["valueQuantity"] = quantity(8.0, "mg/L")
    return _added(resources, twin)


# --- stops inside a chain of renewals (§10 bullet 6) --------------------------------------


def aza_restart_after_stop(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """Azathioprine: yearly requests (1100, 750, 400 days ago), stopped 365 days ago, restarted
    by a request 180 days ago. All requests are < 400 days apart, but the stop splits the chain:
    the current course is 180 days long (duration not met)."""
    kept = [r for r in resources if ref(r) != "MedicationStatement/ex01-aza"]

    def request(rid: str, days_ago: int, status: str) -> Resource:
        return {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": copy.deepcopy(AZATHIOPRINE),
            "subject": dict(SUBJECT),
            "authoredOn": instant(today, days_ago, "10:15", "-05:00"),
            "dosageInstruction": [{"text": "150 mg by mouth once daily"}],
        }

    stop = {
        "resourceType": "MedicationStatement",
        "id": "ex01-aza-stopped",
        "status": "stopped",
        "medicationCodeableConcept": copy.deepcopy(AZATHIOPRINE),
        "subject": dict(SUBJECT),
        "effectivePeriod": {"start": day(today, 1100), "end": day(today, 365)},
        "statusReason": [{"text": "leucopenia"}],
        "dosage": [{"text": "150 mg by mouth once daily"}],
    }
    restart = request("ex01-aza-rx-restart", 180, "active")
    kept += [
        request("ex01-aza-rx1", 1100, "completed"),
        request("ex01-aza-rx2", 750, "completed"),
        request("ex01-aza-rx3", 400, "completed"),
        stop,
        restart,
    ]
    return kept, ref(restart)


# --- trough timing (§10 bullet 8) ---------------------------------------------------------


def trough_after_infusion(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A newer infliximab level drawn 3 days after the infusion of 20 days ago: a peak."""
    administration = find(resources, "MedicationAdministration/ex01-ifx-adm3")
    assert administration["effectivePeriod"]["start"].startswith(day(today, 20))
    level = recent_lab(
        "ex01-level-after-infusion",
        TROUGH_CODE,
        today,
        days_ago=17,
        valueQuantity=quantity(28.0, "mg/L"),
    )
    return _added(resources, level)


# --- plausibility (§10 bullet 9) ----------------------------------------------------------


def crp_negative(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    crp = recent_lab("ex01-crp-negative", CRP_CODE, today, valueQuantity=quantity(-5, "mg/L"))
    return _added(resources, crp)


def platelets_negative(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    platelets = recent_lab(
        "ex01-platelets-negative",
        PLATELETS_CODE,
        today,
        valueQuantity=quantity(-240, "10*3/uL"),
    )
    return _added(resources, platelets)


def trough_astronomical(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    trough = recent_lab(
        "ex01-trough-1e308", TROUGH_CODE, today, valueQuantity=quantity(1e308, "mg/L")
    )
    return _added(resources, trough)


def trough_value_string(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """valueQuantity.value "13.2" (a JSON string): invalid FHIR is not guessed at."""
    trough = recent_lab(
        "ex01-trough-string", TROUGH_CODE, today, valueQuantity=quantity("13.2", "mg/L")
    )
    return _added(resources, trough)


# --- HLA-DQA1*05 (§10 bullet 3) -----------------------------------------------------------


def hla_detected_text(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    return _added(resources, hla_genotype("ex01-hla-text", today, {"text": "HLA-DQA1*05 detected"}))


def hla_unreadable(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    return _added(
        resources,
        hla_genotype("ex01-hla-unreadable", today, {"text": "See scanned report (page 2)"}),
    )


# --- ignored records and benign transformations -------------------------------------------


def crp_entered_in_error(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A newer CRP of 40 mg/L marked entered-in-error: ignored (§7)."""
    crp = recent_lab(
        "ex01-crp-eie", CRP_CODE, today, days_ago=3, valueQuantity=quantity(40.0, "mg/L")
    )
    crp["status"] = "entered-in-error"
    return _added(resources, crp)


def steroid_request_cancelled(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A prednisolone order authored 30 days ago and cancelled: ignored (§7)."""
    order = {
        "resourceType": "MedicationRequest",
        "id": "ex01-pred-cancelled",
        "status": "cancelled",
        "intent": "order",
        "medicationCodeableConcept": copy.deepcopy(PREDNISOLONE),
        "subject": dict(SUBJECT),
        "authoredOn": instant(today, 30, "10:15"),
        "dosageInstruction": [{"text": "40 mg by mouth once daily, taper"}],
    }
    return _added(resources, order)


def condition_relapse_refuted(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """A second Crohn's problem-list entry in relapse, verificationStatus refuted: ignored."""
    condition = copy.deepcopy(find(resources, "Condition/ex01-crohns"))
    condition["id"] = "ex01-crohns-refuted"
    condition["clinicalStatus"] = {
        "coding": [{"system": CONDITION_CLINICAL, "code": "relapse", "display": "Relapse"}]
    }
    condition["verificationStatus"] = {
        "coding": [{"system": CONDITION_VERIFICATION, "code": "refuted", "display": "Refuted"}]
    }
    condition.pop("abatementDateTime", None)
    condition["recordedDate"] = day(today, 30)
    return _added(resources, condition)


def duplicate_record(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """The trough sent twice (same id and content, as overlapping searches return it)."""
    trough = find(resources, "Observation/ex01-trough")
    resources.append(copy.deepcopy(trough))
    return resources, ref(trough)


def shuffled(resources: list[Resource], today: date) -> tuple[list[Resource], str]:
    """The same records in another order (fixed seed: the flaw itself is deterministic)."""
    random.Random(today.toordinal()).shuffle(resources)
    return resources, ref(resources[0])


FLAWS: dict[str, Flaw] = {
    flaw.name: flaw
    for flaw in (
        Flaw("crp_unconvertible_unit", "crp", False, crp_unconvertible_unit, "unreadable newer"),
        Flaw("trough_missing_value", "trough", False, trough_missing_value, "unreadable newer"),
        Flaw("trough_data_absent", "trough", False, trough_data_absent, "unreadable newer"),
        Flaw(
            "antibody_free_text_positive",
            "antibodies",
            False,
            antibody_free_text_positive,
            "antibodies never positive",
        ),
        Flaw(
            "antibody_inconclusive",
            "antibodies",
            False,
            antibody_inconclusive,
            "antibodies never positive",
        ),
        Flaw(
            "antibody_quantitative_unjudged",
            "antibodies",
            False,
            antibody_quantitative_unjudged,
            "antibodies never positive",
        ),
        Flaw(
            "antibody_preliminary",
            "antibodies",
            False,
            antibody_preliminary,
            "antibodies never positive",
        ),
        Flaw("antibody_future", "antibodies", False, antibody_future, "antibodies never positive"),
        Flaw("crp_partial_date", "crp", False, crp_partial_date, "partial dates"),
        Flaw(
            "foreign_subject_with_patient",
            "crp",
            True,
            foreign_subject_with_patient,
            "whose record",
        ),
        Flaw(
            "foreign_subject_without_patient",
            "crp",
            True,
            foreign_subject_without_patient,
            "whose record",
        ),
        Flaw(
            "condition_remission_and_relapse",
            "remission",
            False,
            condition_remission_and_relapse,
            "contradictions",
        ),
        Flaw(
            "crp_simultaneous_conflict", "crp", False, crp_simultaneous_conflict, "contradictions"
        ),
        Flaw("aza_restart_after_stop", "duration", False, aza_restart_after_stop, "stops"),
        Flaw("trough_after_infusion", "trough", False, trough_after_infusion, "trough timing"),
        Flaw("crp_negative", "crp", False, crp_negative, "plausibility"),
        Flaw("platelets_negative", "platelets", False, platelets_negative, "plausibility"),
        Flaw("trough_astronomical", "trough", False, trough_astronomical, "plausibility"),
        Flaw("trough_value_string", "trough", False, trough_value_string, "plausibility"),
        Flaw("steroid_start_only", "remission", False, steroid_start_only, "partial dates"),
        Flaw("steroid_month_end", "remission", False, steroid_month_end, "partial dates"),
        Flaw(
            "birth_year_only_possibly_17",
            "scope",
            False,
            birth_year_only_possibly_17,
            "partial dates",
        ),
        Flaw("hla_detected_text", "hla-dqa1-05", False, hla_detected_text, "HLA-DQA1*05"),
        Flaw("hla_unreadable", "hla-dqa1-05", False, hla_unreadable, "HLA-DQA1*05"),
        Flaw("crp_entered_in_error", "crp", True, crp_entered_in_error, "ignored records"),
        Flaw(
            "steroid_request_cancelled",
            "remission",
            True,
            steroid_request_cancelled,
            "ignored records",
        ),
        Flaw(
            "condition_relapse_refuted",
            "remission",
            True,
            condition_relapse_refuted,
            "ignored records",
        ),
        Flaw("duplicate_record", "any", True, duplicate_record, "benign"),
        Flaw("shuffled", "any", True, shuffled, "benign"),
    )
}

NAMES = tuple(FLAWS)
IGNORED = tuple(name for name, flaw in FLAWS.items() if flaw.ignored)
NOT_IGNORED = tuple(name for name, flaw in FLAWS.items() if not flaw.ignored)
FOREIGN = ("foreign_subject_with_patient", "foreign_subject_without_patient")


def apply_flaw(name: str, resources: Sequence[Resource], today: date) -> Flawed:
    """Flaw a deep copy of `resources` (example 1's, possibly varied) with flaw `name`."""
    flaw = FLAWS[name]
    flawed, reference = flaw.apply(copy.deepcopy(list(resources)), today)
    return Flawed(flawed, reference, flaw.ignored)
