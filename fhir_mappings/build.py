"""`build_facts`: the resources of one request -> one immutable `PatientFacts`.

Each entry is read on its own; whatever cannot be read becomes an `Unusable` with its reason and
the rest carries on, so one vendor quirk never hides the whole record. Nothing here raises on
JSON input: an unexpected failure inside one reader is itself reported as that entry's problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from fhir_mappings.conditions import read_condition, read_patient
from fhir_mappings.config import MappingConfig
from fhir_mappings.exposure import combination, exposures
from fhir_mappings.facts import (
    NORMALISED_UNITS,
    ActivityScore,
    Analyte,
    ConditionState,
    DiagnosisClass,
    DraftOrder,
    Exposure,
    Fact,
    PatientFacts,
    Unusable,
)
from fhir_mappings.medications import MedicationRecord, identify, read_medication
from fhir_mappings.observations import (
    ANTIBODIES,
    HLA_DQA1,
    THIOPURINE_METABOLISM,
    ObservationFact,
    read_observation,
)
from fhir_mappings.read import (
    JSON,
    mapping,
    mappings,
    names,
    reference_of,
    relative_reference,
    text,
)
from fhir_mappings.units import factor

_MEDICATION_TYPES = frozenset(
    {"MedicationStatement", "MedicationRequest", "MedicationAdministration"}
)
_MAX_BUNDLE_DEPTH = 4
_OLDEST = datetime.min.replace(tzinfo=UTC)
_DEFAULT_CONFIG = MappingConfig()


@dataclass(frozen=True, slots=True)
class _Entry:
    resource: JSON
    reference: str
    full_url: str | None


def build_facts(
    resources: Iterable[Mapping[str, Any]],
    *,
    evaluated_on: date,
    draft_orders: Iterable[Mapping[str, Any]] = (),
    selections: Iterable[str] = (),
    config: MappingConfig | None = None,
) -> PatientFacts:
    """Map a request's FHIR resources (Bundles of any type are flattened) to `PatientFacts`.

    `draft_orders` are the hook context's draftOrders (a Bundle, its entries, or resources);
    `selections` the order-select selections ("MedicationRequest/id").
    """
    config = config or _DEFAULT_CONFIG
    collected = _Collected()
    entries = list(_flatten(_as_list(resources, collected), collected))
    drafts = list(_flatten(_as_list(draft_orders, collected), collected))
    media = _medication_index([*entries, *drafts])
    patient = next((e for e in entries if e.resource.get("resourceType") == "Patient"), None)
    owner = patient.reference if patient else None
    chosen = {
        relative_reference(s) or s for s in _as_list(selections, collected) if isinstance(s, str)
    }

    def read_entry(entry: _Entry) -> None:
        _read(entry, collected, config, media, patient)

    def read_draft(entry: _Entry) -> None:
        _read_draft(entry, collected, config, media, chosen)

    for entry in entries:
        if problem := _foreign(entry, owner):
            collected.unusable.append(problem)
        else:
            _guarded(entry, collected, read_entry)
    for entry in drafts:
        _guarded(entry, collected, read_draft)
    return collected.facts(evaluated_on, owner, config)


def warm_up(config: MappingConfig | None = None) -> None:
    """Load the code lists and the UCUM registry now (about a second) rather than on the first
    request; a service calls this at startup."""
    _ = (config or _DEFAULT_CONFIG).terminology
    for unit in NORMALISED_UNITS.values():
        factor(unit, unit + "{warm}")


def _as_list(items: object, collected: _Collected) -> Iterable[Any]:
    """A lone Bundle or selection passed where a list was expected is read as a list of one."""
    if isinstance(items, Mapping | str):
        return [items]
    if isinstance(items, Iterable):
        return items
    collected.unusable.append(Unusable(None, f"expected a list, got {type(items).__name__}"))
    return ()


def _guarded(entry: _Entry, collected: _Collected, read: Callable[[_Entry], None]) -> None:
    try:
        read(entry)
    except Exception as exc:  # a reader bug must cost one entry, never the request
        kind = entry.resource.get("resourceType")
        collected.unusable.append(
            Unusable(entry.reference, f"unreadable {kind} ({type(exc).__name__})", None)
        )


def _flatten(items: Iterable[Any], collected: _Collected, depth: int = 0) -> Iterator[_Entry]:
    """Resources, Bundles (any type, nested) and bare Bundle entries; OperationOutcomes noted."""
    for index, item in enumerate(items):
        resource = mapping(item)
        if resource is None:
            collected.unusable.append(Unusable(None, f"entry {index} is not a JSON object"))
            continue
        full_url = text(resource.get("fullUrl"))
        if "resourceType" not in resource and "resource" in resource:
            resource = mapping(resource.get("resource")) or {}
        kind = text(resource.get("resourceType"))
        if kind == "Bundle" and depth >= _MAX_BUNDLE_DEPTH:
            collected.unusable.append(Unusable(reference_of(resource), "Bundle nested too deeply"))
        elif kind == "Bundle":
            yield from _flatten(list(mappings(resource.get("entry"))), collected, depth + 1)
        elif kind == "OperationOutcome":
            collected.unusable.append(_outcome(resource))
        elif kind is not None:
            reference = reference_of(resource) or full_url or f"{kind}/(no id)"
            yield _Entry(resource, reference, full_url)


def _outcome(resource: JSON) -> Unusable:
    said = [
        text(issue.get("diagnostics"))
        or "; ".join(names(issue.get("details")))
        or text(issue.get("code"))
        for issue in mappings(resource.get("issue"))
    ]
    return Unusable(
        reference_of(resource),
        "OperationOutcome: " + ("; ".join(filter(None, said)) or "no detail"),
    )


def _medication_index(entries: Iterable[_Entry]) -> dict[str, JSON]:
    index: dict[str, JSON] = {}
    for entry in entries:
        if entry.resource.get("resourceType") == "Medication":
            index[entry.reference] = entry.resource
            if entry.full_url:
                index[entry.full_url] = entry.resource
    return index


def _foreign(entry: _Entry, owner: str | None) -> Unusable | None:
    """Another patient's record in this request is reported, never read as this patient's."""
    subject = relative_reference(entry.resource.get("subject") or entry.resource.get("patient"))
    if owner and subject and subject.startswith("Patient/") and subject != owner:
        return Unusable(entry.reference, f"belongs to {subject}, not {owner}")
    return None


def _read(
    entry: _Entry,
    collected: _Collected,
    config: MappingConfig,
    media: Mapping[str, JSON],
    patient: _Entry | None,
) -> None:
    resource, reference = entry.resource, entry.reference
    kind = resource.get("resourceType")
    terminology = config.terminology
    if kind == "Observation":
        collected.add(read_observation(resource, reference, terminology))
    elif kind in _MEDICATION_TYPES:
        collected.add(read_medication(resource, reference, terminology, media.get))
    elif kind == "Condition":
        found = read_condition(resource, reference, terminology)
        if found is not None:
            collected.diagnoses.append(found.diagnosis)
            if isinstance(found.state, Unusable):
                collected.unusable.append(found.state)
            elif found.state is not None:
                collected.states.append(found.state)
    elif kind == "Patient" and entry is patient:
        collected.birth_date, collected.sex, problem = read_patient(resource, reference)
        collected.add(problem)


def _read_draft(
    entry: _Entry,
    collected: _Collected,
    config: MappingConfig,
    media: Mapping[str, JSON],
    chosen: set[str],
) -> None:
    resource = entry.resource
    if resource.get("resourceType") != "MedicationRequest":
        return
    if text(resource.get("status")) in ("entered-in-error", "cancelled"):
        return
    drug = identify(resource, config.terminology, media.get)
    if drug is None:
        return
    if isinstance(drug, str) or reference_of(resource) is None:
        reason = drug if isinstance(drug, str) else "draft order without an id cannot be referenced"
        collected.unusable.append(Unusable(entry.reference, reason, "draft-order"))
        return
    collected.drafts.append(
        DraftOrder(
            drug=drug.drug,
            resource_id=entry.reference,
            selected=not chosen or entry.reference in chosen,
            display=drug.display,
            matched_by=drug.matched_by,
        )
    )


def _unknown_stops(found: Iterable[Exposure]) -> Iterator[Unusable]:
    """A drug that ended on an unknown date: its last recorded use is not a stop date."""
    for exposure in found:
        if exposure.intervals and not exposure.active and exposure.stopped_on is None:
            last = exposure.intervals[-1]
            yield Unusable(
                last.references[-1] if last.references else None,
                f"ended on an unknown date (last recorded use {last.end})",
                exposure.drug.value,
            )


def _newest_first(facts: Iterable[Fact[Any]]) -> tuple[Fact[Any], ...]:
    return tuple(
        sorted(facts, key=lambda f: (f.effective or _OLDEST, f.issued or _OLDEST), reverse=True)
    )


@dataclass
class _Collected:
    """What the readers found, before it is frozen into PatientFacts."""

    unusable: list[Unusable] = field(default_factory=list)
    observations: dict[str, list[Fact[Any]]] = field(default_factory=dict)
    medications: list[MedicationRecord] = field(default_factory=list)
    diagnoses: list[Fact[DiagnosisClass]] = field(default_factory=list)
    states: list[Fact[ConditionState]] = field(default_factory=list)
    drafts: list[DraftOrder] = field(default_factory=list)
    birth_date: Fact[date] | None = None
    sex: Fact[str] | None = None

    def add(self, found: ObservationFact | MedicationRecord | Unusable | None) -> None:
        if isinstance(found, Unusable):
            self.unusable.append(found)
        elif isinstance(found, ObservationFact):
            self.observations.setdefault(found.topic, []).append(found.fact)
        elif isinstance(found, MedicationRecord):
            self.medications.append(found)

    def facts(self, evaluated_on: date, owner: str | None, config: MappingConfig) -> PatientFacts:
        found = {topic: _newest_first(facts) for topic, facts in self.observations.items()}
        drug_exposures = exposures(
            self.medications,
            evaluated_on=evaluated_on,
            renewal_gap_days=config.renewal_gap_days,
            administration_window_days=config.administration_window_days,
        )
        self.unusable.extend(_unknown_stops(drug_exposures.values()))
        return PatientFacts(
            evaluated_on=evaluated_on,
            patient_reference=owner,
            birth_date=self.birth_date,
            sex=self.sex,
            diagnoses=_newest_first(self.diagnoses),
            labs=MappingProxyType({a: found[a.value] for a in Analyte if a.value in found}),
            antibodies=found.get(ANTIBODIES, ()),
            exposures=MappingProxyType(drug_exposures),
            combination=combination(drug_exposures, evaluated_on),
            condition_states=_newest_first(self.states),
            activity_scores=MappingProxyType(
                {s: found[s.value] for s in ActivityScore if s.value in found}
            ),
            hla_dqa1_05_carrier=found.get(HLA_DQA1, ()),
            thiopurine_metabolism=found.get(THIOPURINE_METABOLISM, ()),
            draft_orders=tuple(self.drafts),
            unusable=tuple(self.unusable),
        )
