"""What each supported hook's context must carry (CDS Hooks library STU1, SPEC-41).

Only the fields the service relies on are required; everything else is tolerated. A draftOrders
Bundle without `type` is accepted (the STU1 examples omit it, fixed later as FHIR-52111).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cds_service.protocol.base import InboundModel


class PatientViewContext(InboundModel):
    userId: str = Field(min_length=1)
    patientId: str = Field(min_length=1)
    encounterId: str | None = None


class DraftOrdersBundle(InboundModel):
    resourceType: str = Field(pattern="^Bundle$")
    entry: list[dict[str, Any]] = Field(default_factory=list)


class OrderSignContext(PatientViewContext):
    draftOrders: DraftOrdersBundle


class OrderSelectContext(OrderSignContext):
    selections: list[str] = Field(min_length=1)


CONTEXT_MODELS: dict[str, type[PatientViewContext]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}
