"""One audit event per hook call (issue 11): who called, what was asked, what was answered.

The event (logger `cds_service.audit`, event `hook`) is written when the call's response has
been sent, whatever its status, once the service was found: the ASGI middleware opens a
`CallRecord` for each hook request (`recording`), the route, the pipeline and the middleware
fill it in as the call goes (`note_*`, through a context variable, so that the pipeline's
signature stays the registry's), and the middleware emits it with the status and latency.

It holds no PHI and no secret: key names, codes, counts, the caller's configured name and
issuer, the policy; never a patient id, a resource, a URL (FHIR query URLs carry patient ids),
a token or a body. The two values a request chose (hookInstance, the token's tenant claim) are
capped (`cds_service.log_safety`); JSON rendering escapes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cds_service.cards.extension import EXTENSION_KEY
from cds_service.log_safety import JsonText, capped
from cds_service.prefetch import PrefetchResult
from cds_service.prefetch.outcome import KeyOutcome, KeySource, PrefetchState
from cds_service.protocol.response import Card
from cds_service.security import Caller

audit_log = logging.getLogger("cds_service.audit")

_NOT_SENT = PrefetchState.ABSENT

OK = "ok"
"""The outcome of a FHIR query that brought its key's data whole."""


@dataclass(eq=False, slots=True)
class CallRecord:
    """What is known of one hook call so far. Mutable on purpose: each layer adds its part."""

    started: float
    service: str | None = None
    """Set once the service was found; before that (401, 404) there is no audit event."""
    caller: Caller | None = None
    hook: str | None = None
    hook_instance: str | None = None
    prefetch: PrefetchResult | None = None
    policy: tuple[str, str] | None = None
    recommendations: tuple[str, ...] | None = None
    status: int | None = None
    _queries: dict[str, str] | None = field(default=None, init=False, repr=False)

    def fhir_queries(self) -> dict[str, str]:
        """`fallback_outcomes` of the call's prefetch, once the call is over: the audit event
        and the metrics both read it, and it is worked out once for both (issue 14)."""
        if self._queries is None:
            self._queries = {} if self.prefetch is None else fallback_outcomes(self.prefetch)
        return self._queries


_current: ContextVar[CallRecord | None] = ContextVar("aza_hook_call", default=None)


@contextmanager
def recording() -> Iterator[CallRecord]:
    """A fresh record, current for the code the block runs (tasks and worker threads
    started from it inherit it)."""
    record = CallRecord(started=time.perf_counter())
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def current() -> CallRecord | None:
    """The record of the hook call being served, or None outside one (tests, other routes)."""
    return _current.get()


def note_service(service_id: str, caller: Caller | None) -> None:
    if (record := current()) is not None:
        record.service, record.caller = service_id, caller


def note_request(hook: str, hook_instance: str) -> None:
    if (record := current()) is not None:
        record.hook, record.hook_instance = hook, hook_instance


def note_prefetch(result: PrefetchResult) -> None:
    if (record := current()) is not None:
        record.prefetch = result


def note_policy(policy_id: str, version: str) -> None:
    if (record := current()) is not None:
        record.policy = (policy_id, version)


def note_cards(cards: Sequence[Card]) -> None:
    """The recommendation codes, read from the cards' machine-readable extension."""
    if (record := current()) is None:
        return
    record.recommendations = tuple(recommendation_codes(cards))
    if record.policy is None:
        record.policy = _policy_of(cards)


def recommendation_codes(cards: Sequence[Card]) -> list[str]:
    codes = []
    for card in cards:
        decision = (card.extension or {}).get(EXTENSION_KEY)
        if isinstance(decision, dict) and isinstance(decision.get("recommendation"), str):
            codes.append(decision["recommendation"])
    return codes


def _policy_of(cards: Sequence[Card]) -> tuple[str, str] | None:
    for card in cards:
        decision = (card.extension or {}).get(EXTENSION_KEY)
        policy = decision.get("policy") if isinstance(decision, dict) else None
        if isinstance(policy, dict):
            return str(policy.get("id")), str(policy.get("version"))
    return None


def fallback_outcomes(result: PrefetchResult) -> dict[str, str]:
    """For each key the FHIR server was to serve (not, or not wholly, by the prefetch): `ok`,
    or the kind of failure (`timeout`, `http-status`, `connection`, `no-fhir-server`, ...)."""
    return {
        key: outcome.problem.kind.value if outcome.problem is not None else OK
        for key, outcome in result.per_key.items()
        if _needed_the_server(outcome)
    }


def _needed_the_server(outcome: KeyOutcome) -> bool:
    if outcome.source in (KeySource.FETCHED, KeySource.FAILED, KeySource.SKIPPED):
        return True
    return outcome.source is KeySource.PREFETCH and outcome.problem is not None  # next pages


def hook_event(record: CallRecord, latency_ms: float) -> dict[str, Any]:
    """The fields of the `hook` audit event. No PHI, no token, no URL, no body."""
    caller = record.caller
    event: dict[str, Any] = {
        "hookInstance": None if record.hook_instance is None else capped(record.hook_instance),
        "service": record.service,
        "hook": record.hook,
        "client": caller.client if caller else None,
        "iss": caller.iss if caller else None,
        "tenant": capped(caller.tenant) if caller and caller.tenant else None,
        "status": record.status,
        "latency_ms": round(latency_ms, 1),
        "policy": record.policy[0] if record.policy else None,
        "policy_version": record.policy[1] if record.policy else None,
        "recommendations": list(record.recommendations or ()),
    }
    result = record.prefetch
    if result is not None:
        outcomes = result.per_key.values()
        used = (KeySource.PREFETCH, KeySource.NULL)
        event |= {
            "prefetch_received": [o.key for o in outcomes if o.prefetch is not _NOT_SENT],
            "prefetch_used": [o.key for o in outcomes if o.source in used],
            "fetched": [o.key for o in outcomes if o.source is KeySource.FETCHED],
            "fhir_queries": record.fhir_queries(),
            "missing_required": list(result.missing_required),
            "prefetch_ms": round(result.elapsed_ms, 1),
        }
    return event


def emit(record: CallRecord, latency_ms: float) -> None:
    """Write the call's audit event (a found service only: before that nothing is known)."""
    if record.service is None:
        return
    fields = hook_event(record, latency_ms)
    # The message repeats the fields as JSON for plain handlers (pytest's capture), rendered
    # only if one asks for it: the JSON lines of the service render the fields themselves.
    audit_log.info("hook %s", JsonText(fields), extra={"audit": fields})
