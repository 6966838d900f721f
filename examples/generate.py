"""Write the example patients of examples/ from the test fixtures (issue 12).

    .venv/bin/python examples/generate.py          # (re)write the files
    .venv/bin/python examples/generate.py --check  # exit 1 if a committed file differs

The Bundles come from the same builders the tests use (tests/fixtures/worked_examples.py for
decision-spec §9, tests/adversarial/flaws.py for §10), so an example cannot drift from what the
suite checks; tests/test_examples.py fails when a committed file differs from what this writes.
The expected recommendation of each file is stated here, from the decision spec, and never
computed by the service: the tests compare the service's answer with it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script from anywhere: the fixtures' package
    sys.path.insert(0, str(HERE.parent))

from tests.adversarial.flaws import FLAWS, apply_flaw  # noqa: E402
from tests.fixtures.worked_examples import WorkedExample, worked_example  # noqa: E402

Resource = dict[str, Any]

EVALUATION_DATE = date(2026, 12, 2)
"""Every date in the examples is relative to this day (the §10 amendment's date). Each Bundle
carries it as `timestamp` (noon UTC), which `cds-service evaluate` takes as the evaluation date
when no `--as-of` is given."""

NO_CARD = "no card"


@dataclass(frozen=True)
class Example:
    stem: str
    shows: str
    hook: str
    expected: str  # the recommendation code of the card extension, or NO_CARD
    resources: Callable[[], list[Resource]]


def _s9(number: int, stem: str, shows: str) -> Example:
    example = worked_example(number, today=EVALUATION_DATE)
    expected = example.expected or NO_CARD
    return Example(
        f"s9-{number:02d}-{stem}",
        f"§9 #{number}: {shows}",
        example.hook,
        expected,
        lambda: [*example.resources, *example.draft_orders],
    )


def _renewal_at_signing() -> list[Resource]:
    """Worked example 1 with a draft azathioprine renewal, signed: the withdrawal card at
    order entry, with its "remove the draft order" suggestion."""
    example: WorkedExample = worked_example(1, today=EVALUATION_DATE)
    aza = next(r for r in example.resources if r["id"] == "ex01-aza")
    draft = {
        "resourceType": "MedicationRequest",
        "id": "ex01-draft-aza-renewal",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": aza["medicationCodeableConcept"],
        "subject": {"reference": f"Patient/{example.patient_id}"},
        "authoredOn": f"{EVALUATION_DATE.isoformat()}T10:05:00+01:00",
        "dosageInstruction": [{"text": "150 mg by mouth once daily"}],
    }
    return [*example.resources, draft]


def _naproxen_at_signing() -> list[Resource]:
    """Worked example 1 (a withdrawal candidate) with only a draft naproxen order: order entry
    advises on infliximab and thiopurine orders only, so no card (issue 12)."""
    example: WorkedExample = worked_example(1, today=EVALUATION_DATE)
    draft = {
        "resourceType": "MedicationRequest",
        "id": "ex01-draft-naproxen",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "7258",
                    "display": "naproxen",
                }
            ],
            "text": "naproxen 500 mg tablet",
        },
        "subject": {"reference": f"Patient/{example.patient_id}"},
        "authoredOn": f"{EVALUATION_DATE.isoformat()}T10:05:00+01:00",
        "dosageInstruction": [{"text": "500 mg by mouth twice daily"}],
    }
    return [*example.resources, draft]


def _no_draft() -> list[Resource]:
    """Worked example 1 at order entry with nothing drafted: no card (issue 12)."""
    return list(worked_example(1, today=EVALUATION_DATE).resources)


# §10: what each flaw of tests/adversarial/flaws.py leads to, by decision-spec §10 (and §3):
# a flaw that makes its criterion unknown gives insufficient-data, one that makes it not met
# gives continue-combination, an ignored flaw leaves example 1 a withdrawal candidate.
_FLAW_OUTCOMES: dict[str, tuple[str, str]] = {
    "crp_unconvertible_unit": ("insufficient-data", "a newer CRP in a unit nobody can convert"),
    "trough_missing_value": ("insufficient-data", "a newer infliximab level with no value"),
    "trough_data_absent": ("insufficient-data", "a newer infliximab level, sample haemolysed"),
    "antibody_free_text_positive": (
        "continue-combination",
        'an old antibody result "Positive (38 AU/mL)" in free text',
    ),
    "antibody_inconclusive": ("insufficient-data", 'an old antibody result "Inconclusive"'),
    "antibody_quantitative_unjudged": (
        "insufficient-data",
        "a quantitative antibody result without reference range or flag",
    ),
    "antibody_preliminary": ("insufficient-data", "a newer antibody result still preliminary"),
    "antibody_future": ("insufficient-data", "an antibody result dated 10 days ahead"),
    "crp_partial_date": ("insufficient-data", "a CRP of 40 mg/L dated only to the month"),
    "foreign_subject_with_patient": (
        "withdrawal-candidate",
        "another patient's CRP of 40 mg/L in the record (dropped)",
    ),
    "foreign_subject_without_patient": (
        "withdrawal-candidate",
        "another patient's CRP, and no Patient resource (dropped)",
    ),
    "condition_remission_and_relapse": (
        "continue-combination",
        "Crohn's coded both remission and relapse (the worst wins)",
    ),
    "crp_simultaneous_conflict": (
        "insufficient-data",
        "two CRPs at the same instant, 1.2 and 8.0 mg/L",
    ),
    "aza_restart_after_stop": (
        "continue-combination",
        "azathioprine stopped between renewals and restarted 180 days ago",
    ),
    "trough_after_infusion": (
        "insufficient-data",
        "a newer level drawn 3 days after an infusion (a peak)",
    ),
    "crp_negative": ("insufficient-data", "a newer CRP of -5 mg/L (implausible)"),
    "platelets_negative": ("insufficient-data", "a newer platelet count of -240 (implausible)"),
    "trough_astronomical": ("insufficient-data", "a newer infliximab level of 1e308 mg/L"),
    "trough_value_string": ("insufficient-data", 'a newer level whose value is the string "13.2"'),
    "steroid_start_only": (
        "continue-combination",
        "budesonide started 100 days ago, no end known",
    ),
    "steroid_month_end": (
        "continue-combination",
        "budesonide ending in a month whose last day is within 183 days",
    ),
    "birth_year_only_possibly_17": (NO_CARD, "birth year only: the patient may be 17"),
    "hla_detected_text": ("continue-combination", 'HLA text "HLA-DQA1*05 detected"'),
    "hla_unreadable": ("insufficient-data", "an HLA-DQA1 record that cannot be read"),
    "crp_entered_in_error": (
        "withdrawal-candidate",
        "a newer CRP of 40 entered-in-error (ignored)",
    ),
    "steroid_request_cancelled": (
        "withdrawal-candidate",
        "a cancelled prednisolone order (ignored)",
    ),
    "condition_relapse_refuted": (
        "withdrawal-candidate",
        "a refuted Crohn's relapse entry (ignored)",
    ),
    "duplicate_record": ("withdrawal-candidate", "the trough sent twice (deduplicated)"),
    "shuffled": ("withdrawal-candidate", "the records in another order"),
}


def _s10(name: str) -> Example:
    expected, shows = _FLAW_OUTCOMES[name]
    flaw = FLAWS[name]

    def resources() -> list[Resource]:
        base = worked_example(1, today=EVALUATION_DATE).resources
        return apply_flaw(name, base, EVALUATION_DATE).resources

    return Example(
        f"s10-{name.replace('_', '-')}",
        f"§10 {flaw.bullet}: {shows}",
        "patient-view",
        expected,
        resources,
    )


EXAMPLES: tuple[Example, ...] = (
    _s9(1, "withdrawal-candidate", "every criterion met"),
    _s9(2, "trough-below-threshold", "trough 9.8 mg/L"),
    _s9(3, "short-combination", "combination for 700 days"),
    _s9(4, "crp-raised-in-mg-dl", "CRP 1.1 mg/dL (11 mg/L)"),
    _s9(5, "platelets-raised-per-ul", "platelets 305000 /uL"),
    _s9(6, "crp-stale", "the only CRP is 8 months old"),
    _s9(7, "antibodies-never-tested", "no antibody result"),
    _s9(8, "antibodies-positive-in-the-past", "antibodies negative now, positive 3 years ago"),
    _s9(9, "hla-dqa1-05-carrier", "HLA-DQA1*05 carrier (low-certainty note)"),
    _s9(10, "budesonide-recent", "budesonide until 2 months ago"),
    _s9(11, "rheumatoid-arthritis-only", "rheumatoid arthritis the only diagnosis"),
    _s9(12, "young-man-hstcl-note", "male aged 27 (HSTCL note)"),
    _s9(13, "monitor-after-withdrawal", "azathioprine stopped 5 months ago, no level since"),
    _s9(14, "antibodies-after-withdrawal", "azathioprine stopped 6 months ago, antibodies since"),
    _s9(15, "infliximab-start-crohns", "draft infliximab order, naive Crohn's patient"),
    _s9(16, "azathioprine-start-no-tpmt", "draft azathioprine order, no TPMT result"),
    _s9(17, "infliximab-only", "infliximab only, never a thiopurine"),
    Example(
        "order-sign-01-azathioprine-renewal",
        "§9 #1 at signing: a draft azathioprine renewal for a withdrawal candidate",
        "order-sign",
        "withdrawal-candidate",
        _renewal_at_signing,
    ),
    Example(
        "order-sign-02-unrelated-drug",
        "§9 #1 at signing with only a draft naproxen order: no advice on unrelated drugs",
        "order-sign",
        NO_CARD,
        _naproxen_at_signing,
    ),
    Example(
        "order-sign-03-empty-draft",
        "§9 #1 at signing with nothing drafted: no card",
        "order-sign",
        NO_CARD,
        _no_draft,
    ),
    *(_s10(name) for name in FLAWS),
)


def bundle(example: Example) -> Resource:
    """The example as a FHIR R4 collection Bundle, stamped with the evaluation date."""
    return {
        "resourceType": "Bundle",
        "id": example.stem,
        "meta": {
            "tag": [{"system": "https://aza-advisor.example.org/examples", "code": "example"}]
        },
        "type": "collection",
        "timestamp": f"{EVALUATION_DATE.isoformat()}T12:00:00Z",
        "entry": [
            {
                "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r.get('id')}",
                "resource": r,
            }
            for r in example.resources()
        ],
    }


def readme() -> str:
    rows = "\n".join(
        f"| [`{e.stem}.json`]({e.stem}.json) | {e.shows} | `{e.hook}` | "
        f"{e.expected if e.expected == NO_CARD else f'`{e.expected}`'} |"
        for e in EXAMPLES
    )
    return _README.format(date=EVALUATION_DATE.isoformat(), rows=rows)


_README = """\
# Example patients

FHIR R4 patient records (Bundles of type `collection`) for every pathway and outcome of the
decision spec: its worked examples (§9), a withdrawal candidate at order signing, and each record
flaw of §10 applied to worked example 1. Written by `generate.py` from the test fixtures; do not
edit them by hand (`.venv/bin/python examples/generate.py` rewrites them, and a test fails
when they differ from what it writes).

**Evaluation date: {date}.** Every date in the records is relative to it, and each Bundle
carries it as its `timestamp`, which `cds-service evaluate` uses when `--as-of` is not given.
Evaluated on another day, the results would age (a result is fresh for 90 days).

```sh
cds-service evaluate examples/s9-01-withdrawal-candidate.json
cds-service evaluate examples/s9-16-azathioprine-start-no-tpmt.json --hook order-select
cds-service evaluate examples/s9-02-trough-below-threshold.json --policy guideline-5 --json
```

Or, with `make run`, open http://127.0.0.1:8080/preview and pick one.

The expected recommendation is the code the card carries in
`extension["aza-advisor"]["recommendation"]`, with policy `seed-2026` and the hook given;
"no card" means the answer is `{{"cards": []}}`. Order hooks take the record's MedicationRequests
with status `draft` as the draft orders.

| file | what it shows | hook | expected recommendation |
|---|---|---|---|
{rows}
"""


def generate() -> dict[str, str]:
    """Every file of examples/ this script owns: name -> text."""
    written = {
        f"{e.stem}.json": json.dumps(bundle(e), indent=2, ensure_ascii=False) + "\n"
        for e in EXAMPLES
    }
    written["README.md"] = readme()
    return written


def main(argv: list[str]) -> int:
    files = generate()
    if "--check" in argv:
        stale = [name for name, text in files.items() if _read(HERE / name) != text]
        extra = sorted(p.name for p in HERE.glob("*.json") if p.name not in files)
        for name in [*stale, *extra]:
            print(f"examples/{name} differs from what generate.py writes", file=sys.stderr)
        return 1 if stale or extra else 0
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

__all__ = ["EVALUATION_DATE", "EXAMPLES", "NO_CARD", "Example", "generate"]
