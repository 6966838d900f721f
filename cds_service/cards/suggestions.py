"""Suggestions a clinician can accept in one click: order what is missing, schedule the
post-withdrawal check, remove a draft thiopurine order.

A suggested ServiceRequest is valid R4: each orderable's fixed part (status, intent, code) is
built and validated with `fhir.resources.R4B` once per process, the first time it is offered;
each card then copies it and fills in the patient and the date as plain JSON. Building and
dumping the R4B model on every request cost about a tenth of a hook call (issue 14); the parts
filled in per request (a `Patient/<id>` reference, an ISO date) cannot make it invalid, and a
test checks every catalogue order against R4B as a whole resource.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards.catalogue import Catalogue, Orderable, load_catalogue
from cds_service.protocol import Action, Suggestion
from cds_service.rules import Assessment, Need, Recommendation
from fhir_mappings.facts import DrugClass

_VALIDATION_SUBJECT = "Patient/validation"


@cache
def _fixed_part(orderable: Orderable) -> dict[str, Any]:
    """The draft, proposed lab order for `orderable` without its patient and date, as R4 JSON,
    validated once (a site catalogue's code that R4 refuses fails here, as it did per call)."""
    request = ServiceRequest(
        status="draft",
        intent="proposal",
        code={
            "coding": [
                {"system": orderable.system, "code": orderable.code, "display": orderable.display}
            ],
            "text": orderable.display,
        },
        subject={"reference": _VALIDATION_SUBJECT},
    )
    fixed: dict[str, Any] = request.model_dump(mode="json", exclude_none=True)
    del fixed["subject"]
    return fixed


def service_request(
    orderable: Orderable, patient: str, *, occurrence: date | None = None
) -> dict[str, Any]:
    """A draft, proposed lab order for `patient` ("Patient/<id>") as R4 JSON: a fresh copy of
    the validated fixed part (no card shares a mutable element with another)."""
    fixed = _fixed_part(orderable)
    code = fixed["code"]
    resource: dict[str, Any] = {
        **fixed,
        "code": {**code, "coding": [dict(coding) for coding in code["coding"]]},
        "subject": {"reference": patient},
    }
    if occurrence is not None:
        resource["occurrenceDateTime"] = occurrence.isoformat()
    return resource


def _orders(
    orders: Mapping[Need, Orderable],
    needs: Sequence[Need],
    patient: str | None,
    occurrence: date | None,
    label: str,
) -> Iterator[Suggestion]:
    orderables = [orders[n] for n in needs if n in orders]
    if not orderables or patient is None:
        return
    names = ", ".join(o.label for o in orderables)
    yield Suggestion(
        label=label.format(names=names, when=occurrence.isoformat() if occurrence else ""),
        actions=[
            Action(
                type="create",
                description=f"Order {o.label}" + (f" for {occurrence}" if occurrence else ""),
                resource=service_request(o, patient, occurrence=occurrence),
            )
            for o in orderables
        ],
    )


def _remove_thiopurine_drafts(assessment: Assessment) -> Iterator[Suggestion]:
    drafts = [d for d in assessment.draft_orders if d.drug is DrugClass.THIOPURINE]
    if assessment.recommendation is not Recommendation.WITHDRAWAL_CANDIDATE or not drafts:
        return
    yield Suggestion(
        label="Remove the draft thiopurine order",
        actions=[
            Action(
                type="delete",
                description=f"Remove the draft order for {d.display or 'the thiopurine'}",
                resourceId=d.resource_id,
            )
            for d in drafts
        ],
    )


def suggestions(
    assessment: Assessment, patient: str | None, catalogue: Catalogue | None = None
) -> list[Suggestion]:
    orders = (catalogue or load_catalogue()).orders
    return [
        *_remove_thiopurine_drafts(assessment),
        *_orders(orders, assessment.to_obtain, patient, None, "Order {names}"),
        *_orders(
            orders,
            assessment.follow_up,
            patient,
            assessment.follow_up_on,
            "After withdrawal, order {names} for {when}",
        ),
    ]
