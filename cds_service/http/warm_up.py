"""The start-up warm-up (issue 14): one synthetic hook call answered before the first real one.

Loading the code lists and the UCUM registry at start-up (`fhir_mappings.warm_up`) is not all
a first call pays for: parsing each unit with lark, pydantic building its models' validators
and the card parts' FHIR models on first use, and Python compiling what runs first made the
first call of a fresh process about four times as slow as the next. So the app answers, at
start-up, a call for an invented patient (no real person: every value is made up here), the
way the hook route answers one: the body decoded, the request and context validated, the
service's own handler (prefetch, mappings, rules, cards) and the wire form.

It is not a call: it runs outside the audit record and the metrics middleware, so it counts in
no metric and writes no audit event (the pipeline's own prefetch summary is filtered out while
it runs); its cards are not recorded as issued; and its HTTP client has no network, so nothing
leaves the process whatever the record says. Only services that give a clock
(`RegisteredService.clock`) are warmed: test doubles are not called behind a test's back. A
warm-up that fails is logged and costs the first call its speed, never the start.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import date, timedelta
from typing import Any

import httpx
import orjson

from cds_service.http.body import decode_json, parse
from cds_service.offline import ORDER_HOOKS, no_network, request_from_bundle
from cds_service.protocol import CONTEXT_MODELS, HookRequest
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry

log = logging.getLogger("cds_service.http.warm_up")

Resource = dict[str, Any]

_PATIENT = "warm-up-synthetic"
_UCUM = "http://unitsofmeasure.org"
_LOINC = "http://loinc.org"
_SNOMED = "http://snomed.info/sct"
_RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_LOCAL = "urn:aza-advisor:warm-up"

# Units sites send for the analytes the rules read: each (unit, target) pair is parsed once and
# then cached (`fhir_mappings.units.factor`), so the lab history below carries each of them.
_LAB_HISTORY = (
    ("39803-2", "Infliximab [Mass/volume] in Serum or Plasma", ((11.5, "ug/mL"), (8.0, "mg/L"))),
    (
        "1988-5",
        "C reactive protein [Mass/volume] in Serum or Plasma",
        ((1.5, "mg/L"), (0.2, "mg/dL"), (12.0, "nmol/L")),
    ),
    (
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        ((260, "10*3/uL"), (250, "10*9/L"), (270000, "/uL")),
    ),
)


def reference_request(today: date, hook: str, templates: dict[str, str]) -> Resource:
    """The hook request an EHR would send for the synthetic record, evaluated on `today`."""
    resources = _record(today)
    if hook in ORDER_HOOKS:  # the order being selected or signed: a thiopurine renewal
        resources.append(
            {
                "resourceType": "MedicationRequest",
                "id": "azathioprine-renewal",
                "status": "draft",
                "intent": "proposal",
                "medicationCodeableConcept": _concept(_RXNORM, "1256", "azathioprine"),
                "subject": {"reference": f"Patient/{_PATIENT}"},
                "authoredOn": f"{today.isoformat()}T10:05:00+01:00",
                "dosageInstruction": [{"text": "150 mg by mouth once daily"}],
            }
        )
    entries = [{"resource": resource} for resource in resources]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return request_from_bundle(bundle, hook=hook, templates=templates)


_WARMING: ContextVar[bool] = ContextVar("aza_warm_up", default=False)


class _NotWarmingUp(logging.Filter):
    """Drops the audit lines the pipeline writes on its own (the prefetch summary) while the
    synthetic call runs: only in the warm-up's context, whatever else the process logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _WARMING.get()


for _name in ("cds_service.audit", "cds_service.audit.prefetch"):
    logging.getLogger(_name).addFilter(_NotWarmingUp())


async def warm_up(registry: ServiceRegistry) -> None:
    """Answer the synthetic call once per service that gives a clock (see the module doc)."""
    warming = _WARMING.set(True)
    try:
        await _warm_up(registry)
    finally:
        _WARMING.reset(warming)


async def _warm_up(registry: ServiceRegistry) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as http:
        for descriptor in registry.discovery().services:
            service = registry.get(descriptor.id)
            if service is not None and service.clock is not None:
                try:
                    await _answer(service, http)
                except Exception as error:  # a slower first call, never a refused start
                    log.warning(
                        "start-up warm-up of %s failed (%s): its first call is slower",
                        descriptor.id,
                        type(error).__name__,
                    )


async def _answer(service: RegisteredService, http: httpx.AsyncClient) -> None:
    descriptor = service.descriptor
    assert service.clock is not None
    request = reference_request(service.clock(), descriptor.hook, descriptor.prefetch or {})
    payload = decode_json(orjson.dumps(request))
    hook_request = parse(HookRequest, payload)
    context = parse(CONTEXT_MODELS[descriptor.hook], hook_request.context, prefix="context")
    response = await service.handler(HookCall(descriptor.id, hook_request, context, http))
    response.wire_text()  # as the hook route writes its answer


def _record(today: date) -> list[Resource]:
    def day(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).isoformat()

    subject = {"reference": f"Patient/{_PATIENT}"}
    infliximab = {
        "coding": [{"system": _RXNORM, "code": "1790546"}],
        "text": "infliximab-dyyb 100 mg powder for IV infusion",
    }
    resources: list[Resource] = [
        {
            "resourceType": "Patient",
            "id": _PATIENT,
            "gender": "female",
            "birthDate": day(45 * 365 + 40),
        },
        {
            "resourceType": "Condition",
            "id": "crohns",
            "clinicalStatus": _concept(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "remission"
            ),
            "verificationStatus": _concept(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed"
            ),
            "code": _concept(_SNOMED, "34000006", "Crohn's disease"),
            "subject": subject,
            "onsetDateTime": day(2400),
            "abatementDateTime": day(426),
        },
        {
            "resourceType": "MedicationStatement",
            "id": "azathioprine",
            "status": "active",
            "medicationCodeableConcept": _concept(_RXNORM, "1256", "azathioprine"),
            "subject": subject,
            "effectivePeriod": {"start": day(1100)},
            "dosage": [{"text": "150 mg by mouth once daily"}],
        },
        {
            "resourceType": "MedicationAdministration",
            "id": "infusion",
            "contained": [{"resourceType": "Medication", "id": "med", "code": infliximab}],
            "status": "completed",
            "medicationReference": {"reference": "#med"},
            "subject": subject,
            "effectivePeriod": {"start": f"{day(20)}T09:00:00+01:00"},
            "dosage": {"dose": {"value": 400, "unit": "mg", "system": _UCUM, "code": "mg"}},
        },
        _lab(
            subject,
            "antibodies",
            day(20),
            _concept(_LOCAL, "IFXAB", "Anti-infliximab antibodies"),
            valueCodeableConcept=_concept(_SNOMED, "260385009", "Negative"),
        ),
        _lab(
            subject,
            "calprotectin",
            day(25),
            _concept(_LOINC, "38445-3", "Calprotectin [Mass/mass] in Stool"),
            valueQuantity=_quantity(45, "ug/g"),
        ),
    ]
    for days_ago in (1200, 850, 500, 150):
        resources.append(
            {
                "resourceType": "MedicationRequest",
                "id": f"infliximab-{days_ago}",
                "status": "active" if days_ago == 150 else "completed",
                "intent": "order",
                "medicationCodeableConcept": infliximab,
                "subject": subject,
                "authoredOn": f"{day(days_ago)}T11:20:00-05:00",
                "dosageInstruction": [{"text": "5 mg/kg IV every 8 weeks"}],
            }
        )
    for loinc, name, results in _LAB_HISTORY:
        for index, (value, unit) in enumerate(results):
            resources.append(
                _lab(
                    subject,
                    f"{loinc}-{index}",
                    day(20 + 90 * index),
                    _concept(_LOINC, loinc, name),
                    valueQuantity=_quantity(value, unit),
                )
            )
    return resources


def _lab(subject: Resource, role: str, when: str, code: Resource, **value: Any) -> Resource:
    return {
        "resourceType": "Observation",
        "id": role,
        "status": "final",
        "category": [
            _concept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")
        ],
        "code": code,
        "subject": subject,
        "effectiveDateTime": f"{when}T07:45:00+01:00",
        **value,
    }


def _concept(system: str, code: str, display: str | None = None) -> Resource:
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return {"coding": [coding]}


def _quantity(value: float, unit: str) -> Resource:
    return {"value": value, "unit": unit, "system": _UCUM, "code": unit}
