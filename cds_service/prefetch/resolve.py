"""Three-state prefetch resolution with a self-fetch fallback (SPEC-11..15).

Per key (a per-key strategy, as HAPI FHIR does it): a usable prefetch value is used; `null`
means known empty and is not queried; an absent, OperationOutcome or unreadable value is
fetched from `fhirServer` with the request's bearer token. All fetches of one request run
concurrently on one `httpx.AsyncClient` under one deadline; at the deadline the unfinished ones
are cancelled (nothing outlives the call) and reported as timed out.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import anyio
import httpx

from cds_service.prefetch.bundles import Page, read_answer
from cds_service.prefetch.client import (
    FhirServer,
    check_fhir_server,
    get_page,
    new_fhir_client,
    request_headers,
)
from cds_service.prefetch.outcome import (
    Failure,
    KeyOutcome,
    KeySource,
    PrefetchResult,
    PrefetchState,
    Problem,
)
from cds_service.prefetch.render import Unrenderable, render_template
from cds_service.prefetch.settings import FetchSettings
from cds_service.prefetch.templates import PREFETCH_TEMPLATES, PrefetchTemplate

audit_log = logging.getLogger("cds_service.audit.prefetch")


async def resolve_prefetch(
    *,
    context: Mapping[str, Any],
    prefetch: Mapping[str, Any] | None,
    fhir_server: str | None,
    access_token: str | None,
    templates: Mapping[str, PrefetchTemplate] = PREFETCH_TEMPLATES,
    client: httpx.AsyncClient | None = None,
    settings: FetchSettings | None = None,
    hook_instance: str | None = None,
) -> PrefetchResult:
    """The data of every key in `templates`, from the prefetch where usable, else fetched.

    Expected failures (timeouts, error statuses, unreadable answers, no fhirServer) are values
    in the result; pass `client` to reuse connections across requests. The token is used for
    this call's requests only and is not kept anywhere in the result.
    """
    settings = settings or FetchSettings()
    started = time.perf_counter()
    runs = [_start(template, prefetch, started) for template in templates.values()]
    pending = [run for run in runs if not run.done]
    if pending:
        server = check_fhir_server(fhir_server, settings)
        if isinstance(server, Problem):
            for run in pending:
                run.fail_without_server(server)
        else:
            await _fetch_all(
                pending, server, context, request_headers(access_token), client, settings
            )
    result = _result(runs, started)
    _audit(result, hook_instance)
    return result


@dataclass(eq=False, slots=True)
class _KeyRun:
    """One key's progress; mutable while the request runs, read once into a `KeyOutcome`."""

    template: PrefetchTemplate
    prefetch: PrefetchState
    started: float
    prefetch_note: str | None = None
    source: KeySource | None = None
    next_url: str | None = None
    resources: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    problem: Problem | None = None
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.finished is not None

    def add(self, page: Page) -> None:
        self.resources.extend(page.resources)
        self.pages += 1
        self.next_url = page.next_url

    def finish(self, source: KeySource | None = None, problem: Problem | None = None) -> None:
        self.source = source or self.source
        self.problem = problem or self.problem
        self.finished = time.perf_counter()

    def fail_without_server(self, server: Problem) -> None:
        if self.source is KeySource.PREFETCH:  # only the next pages are lost
            self.finish(problem=Problem(server.kind, f"next page not read: {server.reason}"))
        else:
            self.finish(KeySource.FAILED, server)

    def outcome(self, now: float) -> KeyOutcome:
        return KeyOutcome(
            key=self.template.key,
            source=self.source or KeySource.FAILED,
            prefetch=self.prefetch,
            required=self.template.required,
            label=self.template.label,
            informs=self.template.informs,
            elapsed_ms=((self.finished or now) - self.started) * 1000,
            resource_count=len(self.resources),
            pages=self.pages,
            prefetch_note=self.prefetch_note,
            problem=self.problem,
        )


def _start(
    template: PrefetchTemplate, prefetch: Mapping[str, Any] | None, started: float
) -> _KeyRun:
    """A run from what the EHR sent; done unless it needs the network (fetch or next pages)."""
    if prefetch is None or template.key not in prefetch:
        return _KeyRun(template, PrefetchState.ABSENT, started)
    value = prefetch[template.key]
    if value is None:
        run = _KeyRun(template, PrefetchState.NULL, started)
        run.finish(KeySource.NULL)
        return run
    answer = read_answer(value, template)
    if isinstance(answer, Problem):
        state = (
            PrefetchState.OPERATION_OUTCOME
            if answer.kind is Failure.OPERATION_OUTCOME
            else PrefetchState.UNREADABLE
        )
        return _KeyRun(template, state, started, prefetch_note=answer.reason)
    run = _KeyRun(template, PrefetchState.USED, started, source=KeySource.PREFETCH)
    run.add(answer)
    if run.next_url is None:
        run.finish()
    return run


async def _fetch_all(
    runs: list[_KeyRun],
    server: FhirServer,
    context: Mapping[str, Any],
    headers: dict[str, str],
    client: httpx.AsyncClient | None,
    settings: FetchSettings,
) -> None:
    async with _borrowed(client) as http:
        with anyio.move_on_after(settings.deadline_ms / 1000):
            async with anyio.create_task_group() as tasks:
                for run in runs:
                    tasks.start_soon(_fetch_key, run, server, context, headers, http, settings)
    for run in runs:
        if not run.done:
            _deadline_reached(run, settings)


async def _fetch_key(
    run: _KeyRun,
    server: FhirServer,
    context: Mapping[str, Any],
    headers: dict[str, str],
    http: httpx.AsyncClient,
    settings: FetchSettings,
) -> None:
    if run.source is None:
        rendered = render_template(run.template.template, context)
        if isinstance(rendered, Unrenderable):
            run.finish(KeySource.SKIPPED, Problem(Failure.UNRENDERABLE, rendered.reason))
            return
        answer = await get_page(
            http,
            server.query_url(rendered),
            template=run.template,
            headers=headers,
            settings=settings,
        )
        if isinstance(answer, Problem):
            run.finish(KeySource.FAILED, answer)
            return
        run.source = KeySource.FETCHED
        run.add(answer)
    run.finish(problem=await _follow_next_links(run, server, headers, http, settings))


async def _follow_next_links(
    run: _KeyRun,
    server: FhirServer,
    headers: dict[str, str],
    http: httpx.AsyncClient,
    settings: FetchSettings,
) -> Problem | None:
    """Read further pages (SPEC-14) on the same origin up to the page limit; why it stopped
    early, if it did. The pages already read are kept either way."""
    while run.next_url is not None:
        if run.pages >= settings.max_pages:
            return Problem(
                Failure.PAGE_LIMIT,
                f"more than {settings.max_pages} pages; only the first {settings.max_pages} read",
            )
        url = server.same_origin(run.next_url)
        if isinstance(url, Problem):
            return url
        answer = await get_page(
            http, url, template=run.template, headers=headers, settings=settings
        )
        if isinstance(answer, Problem):
            return Problem(
                answer.kind, f"page {run.pages + 1} not read: {answer.reason}", answer.http_status
            )
        run.add(answer)
    return None


def _deadline_reached(run: _KeyRun, settings: FetchSettings) -> None:
    deadline = f"timeout: deadline of {settings.deadline_ms} ms reached"
    if run.source is None:
        run.finish(KeySource.FAILED, Problem(Failure.TIMEOUT, deadline))
    else:
        run.finish(problem=Problem(Failure.TIMEOUT, f"{deadline} before page {run.pages + 1}"))


@asynccontextmanager
async def _borrowed(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    """The caller's client, left open; or a client of our own for this call only."""
    if client is not None:
        yield client
        return
    async with new_fhir_client() as own:
        yield own


def _result(runs: list[_KeyRun], started: float) -> PrefetchResult:
    now = time.perf_counter()
    outcomes = {run.template.key: run.outcome(now) for run in runs}
    return PrefetchResult(
        resources=_deduplicated(run.resources for run in runs),
        per_key=MappingProxyType(outcomes),
        missing_required=tuple(
            key for key, outcome in outcomes.items() if outcome.required and not outcome.obtained
        ),
        elapsed_ms=(now - started) * 1000,
    )


def _deduplicated(groups: Iterable[Iterable[dict[str, Any]]]) -> tuple[dict[str, Any], ...]:
    """Each type/id once, first occurrence wins; resources without an id are all kept."""
    seen: set[tuple[str, str]] = set()
    kept: list[dict[str, Any]] = []
    for group in groups:
        for resource in group:
            resource_id = resource.get("id")
            if isinstance(resource_id, str):
                identity = (resource["resourceType"], resource_id)
                if identity in seen:
                    continue
                seen.add(identity)
            kept.append(resource)
    return tuple(kept)


def _audit(result: PrefetchResult, hook_instance: str | None) -> None:
    record = {"hookInstance": hook_instance, **result.audit_record()}
    audit_log.info("prefetch %s", json.dumps(record, sort_keys=True), extra={"audit": record})
