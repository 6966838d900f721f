"""The three hook services: one pipeline, three entry points (decision-spec §2).

request -> prefetch (present / null / missing -> FHIR fetch) -> fhir_mappings -> rules -> cards.
Each step is a function of the previous one's output; this module only chains them and turns
"required data unobtainable" into HTTP 412 (SPEC-15).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import anyio

from cds_service.cards import CardContext, load_catalogue, render_cards
from cds_service.completeness import incomplete_topics
from cds_service.log_safety import loggable
from cds_service.observability import audit
from cds_service.prefetch import (
    FetchSettings,
    PrefetchResult,
    PrefetchTemplate,
    discovery_prefetch,
    fhir_server_allowed,
    resolve_prefetch,
    with_site_lab_codes,
)
from cds_service.protocol import CdsResponse, PreconditionFailed, ServiceDescriptor
from cds_service.registry import HookCall, RegisteredService, ServiceRegistry
from cds_service.rules import Policy, advise, load_policy
from cds_service.settings import Settings
from fhir_mappings import MappingConfig, build_facts, warm_up
from fhir_mappings.topics import Topic

Clock = Callable[[], date]

_log = logging.getLogger("cds_service.services")

# Up to this many resources (a typical record is under a hundred) the pipeline runs on the event
# loop: a thread hop would cost more than the work. Beyond it, in a worker thread.
_INLINE_RESOURCES = 300

_USAGE = (
    "Reads the patient's infliximab, thiopurine, corticosteroid and other medication records, "
    "IBD and rheumatoid arthritis diagnoses, laboratory results (infliximab level, "
    "anti-infliximab antibodies, CRP, platelets), HLA-DQA1 and TPMT/NUDT15 results. Works from "
    "prefetch or, when a key is missing, by querying fhirServer with the access token (scopes: "
    "patient/*.read for Patient, Condition, Observation, MedicationStatement, "
    "MedicationRequest, MedicationAdministration, Medication). Answers 412 when no medication "
    "data can be obtained."
)


@dataclass(frozen=True, slots=True)
class _Service:
    id: str
    hook: str
    title: str
    description: str


SERVICES = (
    _Service(
        "aza-withdrawal-patient-view",
        "patient-view",
        "Azathioprine withdrawal on infliximab: assessment",
        "For adults on infliximab plus azathioprine or mercaptopurine: whether the thiopurine "
        "can be withdrawn (trough level, antibodies, duration, CRP, platelets, remission), and "
        "monitoring after a withdrawal.",
    ),
    _Service(
        "aza-withdrawal-order-select",
        "order-select",
        "Azathioprine withdrawal on infliximab: order advice",
        "When an infliximab or thiopurine order is selected: withdrawal candidates, data to "
        "obtain before renewing a thiopurine, combination at infliximab start (SONIC), TPMT "
        "check before a thiopurine start.",
    ),
    _Service(
        "aza-withdrawal-order-sign",
        "order-sign",
        "Azathioprine withdrawal on infliximab: order check at signing",
        "When infliximab or thiopurine orders are signed: the same advice as at selection, for "
        "EHRs that call only at signing.",
    ),
)


def clinical_registry(settings: Settings, *, today: Clock | None = None) -> ServiceRegistry:
    """The registry of the three services, sharing one policy, mapping config and clock.

    Code lists and the UCUM registry load here, at start-up (about a second), so that the first
    hook call stays within the EHR's time budget."""
    mapping = settings.mapping_config()
    warm_up(mapping)
    # A site's antibody codes are searched for, not only recognised: the whole antibody
    # history then arrives with the coded labs ("never positive" needs all of it).
    templates = with_site_lab_codes(mapping.terminology.search_tokens(Topic.ANTIBODIES))
    pipeline = _Pipeline(
        templates=templates,
        policy=load_policy(settings.policy),
        mapping=mapping,
        fetch=settings.fetch_settings(),
        today=today or _clock(settings),
        cards=CardContext(
            source_url=settings.source_url,
            catalogue=load_catalogue(settings.order_catalogue),
            verbose=settings.verbose_cards,
        ),
    )
    prefetch = discovery_prefetch(templates)
    return ServiceRegistry(
        RegisteredService(
            ServiceDescriptor(
                id=service.id,
                hook=service.hook,
                title=service.title,
                description=service.description,
                prefetch=prefetch,
                usageRequirements=_USAGE,
            ),
            pipeline.handle,
            clock=pipeline.today,
        )
        for service in SERVICES
    )


def _clock(settings: Settings) -> Clock:
    fixed = settings.evaluation_date
    if fixed is not None:
        return lambda: fixed
    return partial(_today, ZoneInfo(settings.timezone))


def _today(zone: ZoneInfo) -> date:
    return datetime.now(zone).date()


@dataclass(frozen=True, slots=True)
class _Pipeline:
    templates: Mapping[str, PrefetchTemplate]
    policy: Policy
    mapping: MappingConfig
    fetch: FetchSettings
    today: Clock
    cards: CardContext

    async def handle(self, call: HookCall) -> CdsResponse:
        request = call.request
        data = await resolve_prefetch(
            context=request.context,
            prefetch=request.prefetch,
            templates=self.templates,
            fhir_server=request.fhirServer,
            access_token=request.access_token,
            client=call.http,
            settings=self.fetch,
            hook_instance=request.hookInstance,
            may_fetch=_may_fetch(call),
        )
        audit.note_prefetch(data)
        audit.note_policy(self.policy.id, self.policy.version)
        if data.missing_required:
            raise PreconditionFailed.missing(data.missing_required, data.problem_descriptions())
        evaluate = partial(self._evaluate, call, data)
        if len(data.resources) <= _INLINE_RESOURCES:
            return evaluate()
        # Thousands of records take a noticeable share of a second to map: off the event loop,
        # so that one large legal request does not stall every other caller (issue 10).
        return await anyio.to_thread.run_sync(evaluate)

    def _evaluate(self, call: HookCall, data: PrefetchResult) -> CdsResponse:
        """fhir_mappings -> rules -> cards: pure CPU work on what the prefetch step gathered."""
        request, context = call.request, call.context
        facts = build_facts(
            data.resources,
            evaluated_on=self.today(),
            draft_orders=_draft_orders(request.context),
            selections=request.context.get("selections") or (),
            config=self.mapping,
            patient_id=context.patientId,
        )
        if facts.foreign:
            # A count only: the other patient's identifiers are PHI and stay out of the log.
            _log.warning(
                "records of another patient dropped hookInstance=%s count=%d",
                loggable(request.hookInstance),
                len(facts.foreign),
            )
        incomplete = incomplete_topics(data, self.templates)
        assessments = advise(facts, self.policy, hook=request.hook, incomplete=incomplete)
        cards = render_cards(
            assessments,
            self.cards,
            patient_id=context.patientId,
            data_problems=data.problem_descriptions(),
        )
        return CdsResponse(cards=cards)


def _may_fetch(call: HookCall) -> bool:
    """SSRF guard (issue 11): a verified caller's request is answered from FHIR servers of
    that caller's allowlist only; any other `fhirServer` is never contacted, and its token is
    never sent. Without trusted clients (dev mode) any server may be queried."""
    caller = call.caller
    return caller is None or fhir_server_allowed(call.request.fhirServer, caller.fhir_servers)


def _draft_orders(context: dict[str, Any]) -> list[dict[str, Any]]:
    bundle = context.get("draftOrders") or {}
    return [entry["resource"] for entry in bundle.get("entry", []) if "resource" in entry]
