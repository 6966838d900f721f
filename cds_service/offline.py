"""Offline evaluation: a patient's record (a FHIR Bundle) or a whole hook request, through the
same pipeline the service runs, with no HTTP server and no network (issue 12).

Testers and clinicians need to see a card without an EHR or a sandbox. Reusing the service's
own registry (`clinical_registry`) and handlers, rather than calling the rules directly, means
the offline answer is the one the service would give: same prefetch resolution, same
completeness checks, same cards.

A Bundle is taken as the patient's whole record and turned into the request an EHR would send:

- `context.patientId` is the id of the Bundle's Patient (or, without one, the patient most
  resources name); `userId` is a placeholder practitioner;
- for order hooks, the MedicationRequests with status `draft` are the `draftOrders` (and, for
  `order-select`, the `selections`);
- `prefetch` holds, under each key the service advertises, what that key's query returns when
  run over the Bundle (type, status, code and category filters; the latest-results windows
  sorted and cut at their `_count`, as an EHR's first page). The patient filter is not applied:
  a record of another patient in the Bundle reaches the pipeline, which drops it, as it does
  for an EHR whose search leaked one (decision-spec §10). Medications in the Bundle go with the
  medication keys, as `_include`d entries.

A whole hook request is used as sent, except that `fhirServer` and `fhirAuthorization` are
dropped: a key missing from its prefetch is reported as not obtainable, never fetched.

The evaluation date is `as_of`, else the day the Bundle was assembled (`Bundle.timestamp`: a
record is a snapshot, and the examples carry theirs), else the settings' `evaluation_date`,
else today in the settings' time zone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import anyio
import httpx
from pydantic import ValidationError

from cds_service.prefetch import PREFETCH_TEMPLATES, Unrenderable, render_template
from cds_service.protocol import CONTEXT_MODELS, CdsHooksError, CdsResponse, HookRequest
from cds_service.registry import HookCall
from cds_service.services import SERVICES, clinical_registry
from cds_service.settings import Settings

Resource = dict[str, Any]

SERVICE_FOR_HOOK: Mapping[str, str] = {service.hook: service.id for service in SERVICES}
HOOKS: tuple[str, ...] = tuple(SERVICE_FOR_HOOK)
ORDER_HOOKS = frozenset({"order-select", "order-sign"})
OFFLINE_USER = "Practitioner/offline-evaluation"
_HOOK_INSTANCE = "00000000-0000-4000-8000-0ff11e000000"
_MEDICATION_KEYS = frozenset(
    {"medicationStatements", "medicationRequests", "medicationAdministrations"}
)
_DATE_ELEMENTS = ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")


class InvalidDocument(ValueError):
    """The document is neither a usable Bundle nor a usable hook request; the message is one
    line naming what is wrong, never the record's content (it is patient data)."""


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One offline run: the hook request built (or taken), and the service's answer."""

    request: Resource
    response: CdsResponse
    service_id: str
    policy: str
    as_of: date


def available_policies() -> tuple[str, ...]:
    """The policy ids shipped with the service (`rules/policies/*.toml`)."""
    folder = files("cds_service.rules") / "policies"
    return tuple(
        sorted(
            entry.name.removesuffix(".toml")
            for entry in folder.iterdir()
            if entry.name.endswith(".toml")
        )
    )


def evaluate(
    document: Mapping[str, Any],
    *,
    hook: str | None = None,
    policy: str | None = None,
    as_of: date | None = None,
    settings: Settings | None = None,
) -> CdsResponse:
    """The service's answer to `document` (a Bundle or a hook request), computed offline.

    `hook` defaults to `patient-view` for a Bundle and to the request's own hook for a hook
    request (a different one is refused). Raises `InvalidDocument`, or the service's own
    `CdsHooksError` (e.g. 412 when a hook request's prefetch has no medication data)."""
    evaluation = anyio.run(_evaluate_sync_args, document, hook, policy, as_of, settings)
    return evaluation.response


async def _evaluate_sync_args(
    document: Mapping[str, Any],
    hook: str | None,
    policy: str | None,
    as_of: date | None,
    settings: Settings | None,
) -> Evaluation:
    return await run_evaluation(document, hook=hook, policy=policy, as_of=as_of, settings=settings)


async def run_evaluation(
    document: Mapping[str, Any],
    *,
    hook: str | None = None,
    policy: str | None = None,
    as_of: date | None = None,
    settings: Settings | None = None,
) -> Evaluation:
    """`evaluate` for callers already in an event loop (the preview page), with the request."""
    base = settings or Settings(dev=True)
    chosen_policy = policy or base.policy
    if chosen_policy not in available_policies():
        raise InvalidDocument(
            f"unknown policy {chosen_policy!r}; known: {', '.join(available_policies())}"
        )
    configured = base.model_copy(update={"policy": chosen_policy})
    day = as_of or _record_date(document, configured) or _today(configured)
    registry = clinical_registry(configured, today=lambda: day)
    if _is_hook_request(document):
        request = _offline_request(document, hook)
    else:
        chosen_hook = hook or "patient-view"
        if chosen_hook not in SERVICE_FOR_HOOK:
            raise InvalidDocument(f"unknown hook {chosen_hook!r}; known: {', '.join(HOOKS)}")
        service = registry.get(SERVICE_FOR_HOOK[chosen_hook])
        assert service is not None  # every hook of SERVICE_FOR_HOOK is registered
        request = request_from_bundle(
            document, hook=chosen_hook, templates=service.descriptor.prefetch or {}
        )
    hook_request, context = _validated(request)
    service_id = SERVICE_FOR_HOOK[hook_request.hook]
    service = registry.get(service_id)
    assert service is not None
    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as http:
        call = HookCall(service_id, hook_request, context, http)
        response = await service.handler(call)
    return Evaluation(request, response, service_id, chosen_policy, day)


def no_network(request: httpx.Request) -> httpx.Response:
    """The offline client's transport: nothing leaves the process, whatever a request says."""
    raise httpx.ConnectError("offline evaluation: no network", request=request)


# --- the document ------------------------------------------------------------------------


def _is_hook_request(document: Mapping[str, Any]) -> bool:
    return "resourceType" not in document and "hook" in document


def _offline_request(document: Mapping[str, Any], hook: str | None) -> Resource:
    request = {k: v for k, v in document.items() if k not in ("fhirServer", "fhirAuthorization")}
    sent = request.get("hook")
    if hook is not None and sent != hook:
        raise InvalidDocument(f"the hook request is for {sent!r}, not {hook!r}")
    return request


def _validated(request: Resource) -> tuple[HookRequest, Any]:
    try:
        hook_request = HookRequest.model_validate(request)
        model = CONTEXT_MODELS.get(hook_request.hook)
        if model is None:
            raise InvalidDocument(f"unknown hook {hook_request.hook!r}; known: {', '.join(HOOKS)}")
        context = model.model_validate(hook_request.context)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidDocument(f"not a valid hook request: {where}: {first['msg']}") from None
    return hook_request, context


def request_from_bundle(
    bundle: Mapping[str, Any], *, hook: str, templates: Mapping[str, str]
) -> Resource:
    """The hook request an EHR would send for the patient whose record `bundle` is, with
    `templates` (key -> prefetch template, as discovery advertises them) prefetched."""
    resources = bundle_resources(bundle)
    patient_id = _patient_id(resources)
    drafts = [
        r
        for r in resources
        if r["resourceType"] == "MedicationRequest" and r.get("status") == "draft"
    ]
    context: Resource = {"userId": OFFLINE_USER, "patientId": patient_id}
    if hook in ORDER_HOOKS:
        context["draftOrders"] = _collection(drafts)
    if hook == "order-select":
        if not drafts:
            raise InvalidDocument(
                "order-select needs a selected order: the Bundle has no MedicationRequest "
                "with status draft"
            )
        context["selections"] = [f"MedicationRequest/{d.get('id')}" for d in drafts]
    prefetch = {
        key: _answer(key, template, context, resources) for key, template in templates.items()
    }
    return {"hook": hook, "hookInstance": _HOOK_INSTANCE, "context": context, "prefetch": prefetch}


def bundle_resources(bundle: Mapping[str, Any]) -> list[Resource]:
    """The resources of a Bundle's entries; `InvalidDocument` if it is not a Bundle."""
    if bundle.get("resourceType") != "Bundle":
        kind = bundle.get("resourceType")
        found = f"a {kind}" if isinstance(kind, str) else "no resourceType"
        raise InvalidDocument(f"expected a FHIR Bundle or a CDS Hooks request, found {found}")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidDocument("Bundle.entry is not a list")
    resources = [
        entry["resource"]
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and isinstance(entry["resource"].get("resourceType"), str)
    ]
    if not resources:
        raise InvalidDocument("the Bundle holds no resources")
    return resources


def _patient_id(resources: Sequence[Resource]) -> str:
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    if len(patients) > 1:
        raise InvalidDocument("the Bundle holds several Patients: one patient's record expected")
    if patients:
        patient_id = patients[0].get("id")
        if not isinstance(patient_id, str) or not patient_id:
            raise InvalidDocument("the Bundle's Patient has no id")
        return patient_id
    # No Patient resource: the patient most records name (a foreign record is the exception).
    named = Counter(
        reference.removeprefix("Patient/")
        for resource in resources
        for reference in _patient_references(resource)
    )
    ranked = named.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        raise InvalidDocument("the Bundle has no Patient and no single patient its records name")
    return ranked[0][0]


def _patient_references(resource: Resource) -> Iterable[str]:
    for element in ("subject", "patient"):
        value = resource.get(element)
        reference = value.get("reference") if isinstance(value, dict) else None
        if isinstance(reference, str) and reference.startswith("Patient/"):
            yield reference


def _collection(resources: Sequence[Resource]) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": resource} for resource in resources],
    }


# --- the prefetch: each template's query run over the Bundle -----------------------------


def _answer(
    key: str, template: str, context: Mapping[str, Any], resources: Sequence[Resource]
) -> Any:
    rendered = render_template(template, context)
    if isinstance(rendered, Unrenderable):
        return None  # not a key this request can fill: known empty
    path, _, query = rendered.partition("?")
    if not query:  # a read: Type/id
        resource_type, _, resource_id = path.partition("/")
        found = [
            r
            for r in resources
            if r["resourceType"] == resource_type and r.get("id") == resource_id
        ]
        return found[0] if found else None
    params = {name: values[0] for name, values in parse_qs(query).items()}
    matches = [r for r in resources if r["resourceType"] == path and _matches(r, params)]
    next_page = False
    known = PREFETCH_TEMPLATES.get(key)
    if known is not None and known.first_page_only:
        matches.sort(key=_date_key, reverse=params.get("_sort", "").startswith("-"))
        count = int(params.get("_count", len(matches)))
        next_page = len(matches) > count
        matches = matches[:count]
    entries = [{"resource": r, "search": {"mode": "match"}} for r in matches]
    if key in _MEDICATION_KEYS:
        entries += [
            {"resource": r, "search": {"mode": "include"}}
            for r in resources
            if r["resourceType"] == "Medication"
        ]
    answer: Resource = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matches),
        "entry": entries,
    }
    if next_page:  # an EHR's first page of a longer window: the window was full
        answer["link"] = [{"relation": "next", "url": f"urn:offline:{key}:page-2"}]
    return answer


def _matches(resource: Resource, params: Mapping[str, str]) -> bool:
    for name, value in params.items():
        alternatives = value.split(",")
        if name == "status" and resource.get("status") not in alternatives:
            return False
        if name == "code":
            concept = resource.get("code") or resource.get("medicationCodeableConcept")
            if not any(_token_matches(concept, token) for token in alternatives):
                return False
        if name == "category":
            concepts = resource.get("category")
            listed = concepts if isinstance(concepts, list) else [concepts]
            if not any(_token_matches(c, token) for c in listed for token in alternatives):
                return False
    return True


def _token_matches(concept: Any, token: str) -> bool:
    system, bar, code = token.rpartition("|")
    codings = concept.get("coding") if isinstance(concept, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if not isinstance(coding, dict) or coding.get("code") != code:
            continue
        if bar and system and coding.get("system") != system:
            continue
        return True
    return False


def _date_key(resource: Resource) -> datetime:
    """A result's instant for `_sort=-date`; partial dates by their first instant, undated
    results last, as FHIR servers sort them."""
    for path in _DATE_ELEMENTS:
        value: Any = resource
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, str):
            try:
                padded = value + "-01-01"[len(value) - 4 :] if len(value) < 10 else value
                parsed = datetime.fromisoformat(padded)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)


# --- the evaluation date -----------------------------------------------------------------


def _record_date(document: Mapping[str, Any], settings: Settings) -> date | None:
    stamp = document.get("timestamp") if document.get("resourceType") == "Bundle" else None
    if not isinstance(stamp, str):
        return None
    try:
        assembled = datetime.fromisoformat(stamp)
    except ValueError:
        raise InvalidDocument("Bundle.timestamp is not a FHIR instant") from None
    if assembled.tzinfo is None:
        return assembled.date()
    return assembled.astimezone(ZoneInfo(settings.timezone)).date()


def _today(settings: Settings) -> date:
    return settings.evaluation_date or datetime.now(ZoneInfo(settings.timezone)).date()


# --- the command line --------------------------------------------------------------------


def read_document(path: Path) -> Resource:
    """The JSON object in `path`; `InvalidDocument` with a one-line reason otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = (
            error.strerror if isinstance(error, OSError) and error.strerror else "not UTF-8 text"
        )
        raise InvalidDocument(f"cannot read {path}: {reason}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidDocument(
            f"{path} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(document, dict):
        raise InvalidDocument(f"{path} holds JSON but not an object (a Bundle or a hook request)")
    return document


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cds-service evaluate",
        description=(
            "Evaluate a patient's record (FHIR Bundle) or a whole CDS Hooks request offline, "
            "with the service's own pipeline, and show the cards."
        ),
    )
    parser.add_argument("path", type=Path, help="a FHIR R4 Bundle or a hook request (JSON)")
    parser.add_argument(
        "--hook",
        choices=HOOKS,
        help="hook to call (a Bundle: default patient-view; a hook request: its own)",
    )
    parser.add_argument("--policy", choices=available_policies(), help="clinical policy id")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        metavar="DATE",
        help="evaluation date, YYYY-MM-DD (default: the Bundle's timestamp, else today)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print exactly the JSON the service would answer"
    )
    return parser


def main_evaluate(argv: Sequence[str] | None = None) -> int:
    """`cds-service evaluate`: 0 with the cards shown, 2 (one line on stderr) when the file
    cannot be read or evaluated. argparse's own usage errors also exit 2."""
    args = _parser().parse_args(argv)
    try:
        document = read_document(args.path)
        evaluation = anyio.run(_run_for_cli, document, args.hook, args.policy, args.as_of)
    except (InvalidDocument, CdsHooksError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"cds-service evaluate: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(evaluation.response.wire(), indent=2, ensure_ascii=False))
        return 0
    from cds_service.terminal import show  # rich is needed for the terminal view only

    show(evaluation)
    return 0


async def _run_for_cli(
    document: Resource, hook: str | None, policy: str | None, as_of: date | None
) -> Evaluation:
    return await run_evaluation(document, hook=hook, policy=policy, as_of=as_of)
