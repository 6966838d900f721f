"""Suggestions a clinician can accept in one click: order what is missing, schedule the
post-withdrawal check, remove a draft thiopurine order. Resources are built and validated with
`fhir.resources.R4B`, so a suggestion can never carry an invalid ServiceRequest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards.catalogue import Catalogue, Orderable, load_catalogue
from cds_service.protocol import Action, Suggestion
from cds_service.rules import Assessment, Need, Recommendation
from fhir_mappings.facts import DrugClass


def service_request(
    orderable: Orderable, patient: str, *, occurrence: date | None = None
) -> dict[str, Any]:
    """A draft, proposed lab order for `patient` ("Patient/<id>") as R4 JSON."""
    request = ServiceRequest(
        status="draft",
        intent="proposal",
        code={
            "coding": [
                {"system": orderable.system, "code": orderable.code, "display": orderable.display}
            ],
            "text": orderable.display,
        },
        subject={"reference": patient},
        occurrenceDateTime=occurrence.isoformat() if occurrence else None,
    )
    resource: dict[str, Any] = request.model_dump(mode="json", exclude_none=True)
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
