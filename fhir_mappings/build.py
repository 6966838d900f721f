"""`build_facts`: the resources of one request -> one immutable `PatientFacts`.

Each entry is read on its own; whatever cannot be read becomes an `Unusable` with its reason and
the rest carries on, so one vendor quirk never hides the whole record. Nothing here raises on
JSON input: an unexpected failure inside one reader is itself reported as that entry's problem.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import date, tzinfo
from typing import Any, NamedTuple

from fhir_mappings.collect import Collected
from fhir_mappings.conditions import read_condition, read_patient
from fhir_mappings.config import MappingConfig
from fhir_mappings.facts import NORMALISED_UNITS, DraftOrder, PatientFacts, Unusable
from fhir_mappings.infusions import infusion_of
from fhir_mappings.medications import MedicationRecord, identify, read_medication
from fhir_mappings.observations import read_observation
from fhir_mappings.read import (
    JSON,
    mapping,
    mappings,
    names,
    reference_of,
    relative_reference,
    text,
)
from fhir_mappings.terminology import Terminology
from fhir_mappings.topics import Topic
from fhir_mappings.units import factor

_MEDICATION_TYPES = frozenset(
    {"MedicationStatement", "MedicationRequest", "MedicationAdministration"}
)
_MAX_BUNDLE_DEPTH = 4
_DEFAULT_CONFIG = MappingConfig()


class _Entry(NamedTuple):  # a tuple: one per resource, several times cheaper than a dataclass
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
    patient_id: str | None = None,
) -> PatientFacts:
    """Map a request's FHIR resources (Bundles of any type are flattened) to `PatientFacts`.

    `draft_orders` are the hook context's draftOrders (a Bundle, its entries, or resources);
    `selections` the order-select selections ("MedicationRequest/id"). `patient_id` is the
    hook context's patientId: every resource used must belong to it (§10), whether or not the
    Patient resource arrived; without it the Patient resource's id is the owner.
    """
    config = config or _DEFAULT_CONFIG
    collected = Collected()
    entries = list(_flatten(_as_list(resources, collected), collected))
    drafts = list(_flatten(_as_list(draft_orders, collected), collected))
    media = _medication_index([*entries, *drafts])
    owner = _owner(patient_id)
    patient = next((e for e in entries if _is_patient(e, owner)), None)
    owner = owner or (patient.reference if patient else None)
    aliases = {owner, patient.full_url if patient else None} - {None}
    chosen = {
        relative_reference(s) or s for s in _as_list(selections, collected) if isinstance(s, str)
    }

    terminology, zone = config.terminology, config.zone  # once, not per entry
    for entry in entries:
        if problem := _foreign(entry, owner, aliases):
            collected.foreign.append(problem)
            continue
        try:
            _read(entry, collected, terminology, zone, media, patient)
        except Exception as exc:  # a reader bug must cost one entry, never the request
            collected.unusable.append(_unreadable(entry, exc))
    for entry in drafts:  # the hook's own drafts: a missing subject is the context's patient
        if problem := _foreign(entry, owner, aliases, subject_required=False):
            collected.foreign.append(problem)
            continue
        try:
            _read_draft(entry, collected, config, media, chosen)
        except Exception as exc:  # as above
            collected.unusable.append(_unreadable(entry, exc))
    return collected.facts(evaluated_on, owner, config)


def warm_up(config: MappingConfig | None = None) -> None:
    """Load the code lists and the UCUM registry now (about a second) rather than on the first
    request; a service calls this at startup."""
    _ = (config or _DEFAULT_CONFIG).terminology
    for unit in NORMALISED_UNITS.values():
        factor(unit, unit + "{warm}")


def _as_list(items: object, collected: Collected) -> Iterable[Any]:
    """A lone Bundle or selection passed where a list was expected is read as a list of one."""
    if isinstance(items, Mapping | str):
        return [items]
    if isinstance(items, Iterable):
        return items
    collected.unusable.append(Unusable(None, f"expected a list, got {type(items).__name__}"))
    return ()


def _unreadable(entry: _Entry, exc: Exception) -> Unusable:
    kind = entry.resource.get("resourceType")
    return Unusable(entry.reference, f"unreadable {kind} ({type(exc).__name__})", None)


def _flatten(items: Iterable[Any], collected: Collected, depth: int = 0) -> Iterator[_Entry]:
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
            ident = text(resource.get("id"))  # as `reference_of`, with the kind already read
            reference = f"{kind}/{ident}" if ident else full_url or f"{kind}/(no id)"
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


def _owner(patient_id: str | None) -> str | None:
    """'Patient/<id>' of the hook context's patientId (given bare, relative or absolute)."""
    raw = text(patient_id)
    if raw is None:
        return None
    return relative_reference(raw) if "/" in raw else f"Patient/{raw}"


def _is_patient(entry: _Entry, owner: str | None) -> bool:
    return entry.resource.get("resourceType") == "Patient" and owner in (None, entry.reference)


# Resources that are not about a patient, read wherever they come from.
_UNOWNED = frozenset({"Medication"})


def _foreign(
    entry: _Entry,
    owner: str | None,
    aliases: Collection[str | None],
    *,
    subject_required: bool = True,
) -> Unusable | None:
    """Another patient's record, or one whose patient cannot be told, never counts (§10).

    `aliases` are the owner's reference and the Patient entry's fullUrl (a transaction Bundle
    may point at it as "urn:uuid:..."). The other patient's id is not repeated: the reason
    reaches this patient's card."""
    kind = entry.resource.get("resourceType")
    if owner is None or kind in _UNOWNED:
        return None
    if kind == "Patient":
        subject: str | None = entry.reference
    else:
        raw = mapping(entry.resource.get("subject") or entry.resource.get("patient"))
        literal = text(raw.get("reference")) if raw else None
        if literal is None and not subject_required:
            return None
        subject = literal if literal in aliases else relative_reference(literal)
    if subject in aliases:
        return None
    why = "belongs to another patient" if subject else "names no patient (subject)"
    return Unusable(entry.reference, f"{why}: not read as {owner}'s record")


def _read(
    entry: _Entry,
    collected: Collected,
    terminology: Terminology,
    zone: tzinfo,
    media: Mapping[str, JSON],
    patient: _Entry | None,
) -> None:
    resource, reference = entry.resource, entry.reference
    kind = resource.get("resourceType")
    if kind == "Observation":
        for observed in read_observation(resource, reference, terminology, zone):
            collected.add(observed)
    elif kind in _MEDICATION_TYPES:
        record = read_medication(resource, reference, terminology, media.get)
        collected.add(record)
        if isinstance(record, MedicationRecord) and (
            infusion := infusion_of(resource, record, zone)
        ):
            collected.infusions.append(infusion)
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
    collected: Collected,
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
        collected.unusable.append(Unusable(entry.reference, reason, Topic.DRAFT_ORDER))
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
