"""Records and reasons in a clinician's words, for the notes the rules write (issue 12).

A note says what a record is, when it was dated and why it could not be read; it never names
the FHIR id (`Observation/obs-4`) or a FHIR element (`medication[x]`). The ids stay with the
results as data (`CriterionResult.references`, `stale`, `unusable`, `Note.references`), where the
card's machine-readable extension and its long form cite them.
"""

from __future__ import annotations

import re
from datetime import datetime

from fhir_mappings.facts import Unusable
from fhir_mappings.topics import MEDICATIONS, TOPIC_LABELS, Topic

_NOUNS = {
    Topic.REMISSION: "remission record",
    Topic.DIAGNOSIS: "diagnosis record",
    Topic.PATIENT: "patient record",
    Topic.DRAFT_ORDER: "draft order",
}

# FHIR element names and phrasings that reach reasons from the mappings -> plain words.
_JARGON = (
    (re.compile(r"^no medication\[x\]$"), "names no medication"),
    (
        re.compile(r"^medicationReference .* is neither contained nor in the request$"),
        "its medication record was not sent",
    ),
    (re.compile(r"^OperationOutcome: .*", re.S), "the EHR returned an error instead of a result"),
    (re.compile(r"^unreadable (\w+) \(\w+\)$"), "its content is not in the expected form"),
    (re.compile(r"\bauthoredOn\b"), "order date"),
    (re.compile(r"\beffectivePeriod\b"), "period"),
    (re.compile(r"\babatementDateTime\b"), "remission date"),
    (re.compile(r"\bbirthDate\b"), "birth date"),
    (re.compile(r"is not a FHIR date"), "is not a valid date"),
    (re.compile(r"\(subject\)"), ""),
)
# A FHIR reference ("Observation/abc", "Patient/p1") left in any reason.
FHIR_ID = re.compile(r"\b[A-Z][A-Za-z]+/[A-Za-z0-9\-.]+")


def record_name(topic: Topic | None) -> str:
    """'CRP result', 'thiopurine record', 'draft order', 'record'."""
    if topic is None:
        return "record"
    if topic in _NOUNS:
        return _NOUNS[topic]
    label = TOPIC_LABELS[topic]
    return f"{label} record" if topic in MEDICATIONS else f"{label} result"


def day_text(when: datetime | None) -> str:
    return when.date().isoformat() if when else "undated"


def reason_text(reason: str) -> str:
    """A mapping's reason without FHIR element names or ids."""
    text = reason
    for pattern, words in _JARGON:
        text = pattern.sub(words, text)
    return FHIR_ID.sub("a record", text).strip()


def unusable_source(unusable: Unusable) -> str:
    """'a CRP result (2026-10-01)': an unreadable record and the date it still carries."""
    name = record_name(unusable.topic)
    article = "an" if name[0] in "aeiouAEIOU" or name.startswith("HLA") else "a"
    return f"{article} {name} ({day_text(unusable.effective)})"


def unusable_line(unusable: Unusable) -> str:
    """'a CRP result (2026-10-01) could not be read: unit 'mmol/L' ...'."""
    return f"{unusable_source(unusable)} could not be read: {reason_text(unusable.reason)}"
