"""Three-state prefetch resolution with a self-fetch fallback (SPEC-11..15).

Per key (a per-key strategy, as HAPI FHIR does it): a usable prefetch value is used; `null`
means known empty and is not queried; an absent, OperationOutcome or unreadable value is
fetched from `fhirServer` with the request's bearer token. All fetches of one request run
concurrently on one `httpx.AsyncClient` under one deadline. Each request ends itself by the
deadline (its timeouts are cut to the time left, see `client.get_page`), so the deadline does
not cancel requests inside httpx, where a cancelled wait for a pool slot can wedge the pool
(issue 10); a cancel scope `backstop_ms` after the deadline ends whatever did not (nothing
outlives the call). The unfinished keys are reported as timed out by the deadline. Medications
the records reference by id are read next, under the same deadline (see `references`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from cds_service.log_safety import JsonText, capped
from cds_service.prefetch.bundles import Page, read_answer
from cds_service.prefetch.client import (
    DEADLINE_REACHED,
    DeadlineReached,
    FhirServer,
    check_fhir_server,
    get_page,
    new_fhir_client,
    request_headers,
)
from cds_service.prefetch.outcome import (
    Failure,
    KeySource,
    PrefetchResult,
    PrefetchState,
    Problem,
)
from cds_service.prefetch.progress import KeyRun
from cds_service.prefetch.references import REFERENCED_MEDICATIONS, Gathered
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
    may_fetch: bool = True,
) -> PrefetchResult:
    """The data of every key in `templates`, from the prefetch where usable, else fetched.

    Expected failures (timeouts, error statuses, unreadable answers, no fhirServer) are values
    in the result; pass `client` to reuse connections across requests. The token is used for
    this call's requests only and is not kept anywhere in the result.

    `may_fetch=False` (issue 11: `fhirServer` is not one of the caller's FHIR servers) serves
    the call from its prefetch alone: no connection is made, the token is not used, and every
    key that would have been fetched fails as `UNTRUSTED_FHIR_SERVER`, so that a required one
    ends in `missing_required` (412) as usual.
    """
    settings = settings or FetchSettings()
    started = time.perf_counter()
    runs: list[KeyRun] = []
    gathered = Gathered(fhir_server)
    in_order = 0  # the leading keys the prefetch served, gathered as soon as each is read
    for template in templates.values():
        run = _start(template, prefetch, started)
        runs.append(run)
        if run.done and in_order == len(runs) - 1:
            gathered.add(run.resources)
            in_order += 1
    medications = KeyRun(REFERENCED_MEDICATIONS, PrefetchState.ABSENT, started)
    if not may_fetch:
        access_token = None  # never sent anywhere: it belongs to a server we do not query
    pending = [run for run in runs if not run.done]
    # Known once the keys are final: here when the prefetch served them all, so that a call
    # with nothing to fetch sets up no session, client or cancel scope (issue 14).
    wanted = None if pending else gathered.unresolved_medication_ids()
    if pending or wanted:
        async with AsyncExitStack() as stack:
            server = _server(fhir_server, settings, may_fetch=may_fetch)
            deadline = started + settings.deadline_ms / 1000
            session = _Session(server, access_token, context, settings, client, stack, deadline)
            with anyio.move_on_after((settings.deadline_ms + settings.backstop_ms) / 1000):
                await session.fetch(pending)
                wanted = _completed(gathered, runs[in_order:])
                await session.read_medications(medications, wanted)
    if wanted is None:  # the deadline came during the keys' fetch: what they have is final
        wanted = _completed(gathered, runs[in_order:])
    # Reported when it was needed, including when the deadline came before it could start.
    if medications.done or wanted:
        runs.append(medications)
        gathered.add(medications.resources)
    for run in runs:
        if not run.done:
            run.deadline_reached(settings.deadline_ms)
    result = _result(runs, gathered, started)
    _audit(result, hook_instance)
    return result


UNTRUSTED = Problem(
    Failure.UNTRUSTED_FHIR_SERVER,
    "fhirServer is not a FHIR server this service may query for the caller",
)


def _server(url: str | None, settings: FetchSettings, *, may_fetch: bool) -> FhirServer | Problem:
    """Where to fetch, or why nowhere. A missing fhirServer is named as such even when nothing
    may be fetched; any other is untrusted then, without a look at it (no URL echoed)."""
    if url and not may_fetch:
        return UNTRUSTED
    return check_fhir_server(url, settings)


def _start(
    template: PrefetchTemplate, prefetch: Mapping[str, Any] | None, started: float
) -> KeyRun:
    """A run from what the EHR sent; done unless it needs the network (fetch or next pages)."""
    if prefetch is None or template.key not in prefetch:
        return KeyRun(template, PrefetchState.ABSENT, started)
    value = prefetch[template.key]
    if value is None:
        run = KeyRun(template, PrefetchState.NULL, started)
        run.finish(KeySource.NULL)
        return run
    answer = read_answer(value, template)
    if isinstance(answer, Problem):
        state = (
            PrefetchState.OPERATION_OUTCOME
            if answer.kind is Failure.OPERATION_OUTCOME
            else PrefetchState.UNREADABLE
        )
        return KeyRun(template, state, started, prefetch_note=answer.reason)
    run = KeyRun(template, PrefetchState.USED, started, source=KeySource.PREFETCH)
    run.add(answer)
    if run.next_url is None:
        run.finish()
    return run


@dataclass(eq=False, slots=True)
class _Session:
    """What one request's fetches share. It holds the token, so it lives only for the call."""

    server: FhirServer | Problem
    access_token: str | None
    context: Mapping[str, Any]
    settings: FetchSettings
    client: httpx.AsyncClient | None
    stack: AsyncExitStack
    deadline: float  # `time.perf_counter()` when the fallback must be over

    async def fetch(self, runs: list[KeyRun]) -> None:
        """Fetch or complete each run, all concurrently."""
        if not runs:
            return
        if isinstance(self.server, Problem):
            for run in runs:
                run.fail_without_server(self.server)
            return
        http = await self._http()
        async with anyio.create_task_group() as tasks:
            for run in runs:
                tasks.start_soon(self._fetch_key, run, self.server, http)

    async def read_medications(self, run: KeyRun, ids: list[str]) -> None:
        """Read each Medication by id, concurrently; the run fails only if none was read."""
        if not ids:
            return
        if isinstance(self.server, Problem):
            run.fail_without_server(self.server)
            return
        run.expected_pages = len(ids)
        failures: list[Problem] = []
        late: list[str] = []
        server, http = self.server, await self._http()

        async def read(medication_id: str) -> None:
            url = server.query_url(f"Medication/{quote(medication_id, safe='')}")
            answer = await self._get(http, url, run.template)
            if isinstance(answer, DeadlineReached):
                late.append(medication_id)
            elif isinstance(answer, Problem):
                failures.append(answer)
            else:
                run.source = KeySource.FETCHED
                run.add(answer)

        pending = iter(ids)

        async def reader() -> None:
            for medication_id in pending:  # shared: each id is taken by one reader
                await read(medication_id)

        # A bounded set of readers, not a task per reference (1,000 references were 1,000
        # tasks): the requests are bounded per server anyway, the tasks now too (issue 10).
        async with anyio.create_task_group() as tasks:
            for _ in range(min(len(ids), self.settings.max_requests_per_server)):
                tasks.start_soon(reader)
        if late:  # left unfinished: reported as the deadline's, with how many were read
            return
        if failures:
            first = failures[0]
            reason = f"{len(failures)} of {len(ids)} not read: {first.reason}"
            run.finish(
                run.source or KeySource.FAILED, Problem(first.kind, reason, first.http_status)
            )
        else:
            run.finish()

    async def _fetch_key(self, run: KeyRun, server: FhirServer, http: httpx.AsyncClient) -> None:
        if run.source is None:
            rendered = render_template(run.template.template, self.context)
            if isinstance(rendered, Unrenderable):
                run.finish(KeySource.SKIPPED, Problem(Failure.UNRENDERABLE, rendered.reason))
                return
            answer = await self._get(http, server.query_url(rendered), run.template)
            if isinstance(answer, DeadlineReached):
                return  # left unfinished: reported as the deadline's
            if isinstance(answer, Problem):
                run.finish(KeySource.FAILED, answer)
                return
            run.source = KeySource.FETCHED
            run.add(answer)
        stopped = await self._follow_next_links(run, server, http)
        if not isinstance(stopped, DeadlineReached):
            run.finish(problem=stopped)

    async def _follow_next_links(
        self, run: KeyRun, server: FhirServer, http: httpx.AsyncClient
    ) -> Problem | DeadlineReached | None:
        """Read further pages (SPEC-14) on the same origin up to the page limit; why it
        stopped early, if it did. The pages already read are kept either way."""
        limit = self.settings.max_pages
        while run.next_url is not None:
            if run.pages >= limit:
                return Problem(
                    Failure.PAGE_LIMIT, f"more than {limit} pages; only the first {limit} read"
                )
            url = server.same_origin(run.next_url)
            if isinstance(url, Problem):
                return url
            answer = await self._get(http, url, run.template)
            if isinstance(answer, DeadlineReached):
                return DEADLINE_REACHED
            if isinstance(answer, Problem):
                reason = f"page {run.pages + 1} not read: {answer.reason}"
                return Problem(answer.kind, reason, answer.http_status)
            run.add(answer)
        return None

    async def _get(
        self, http: httpx.AsyncClient, url: str, template: PrefetchTemplate
    ) -> Page | Problem | DeadlineReached:
        answer = await get_page(
            http,
            url,
            template=template,
            headers=request_headers(self.access_token),
            settings=self.settings,
            deadline=self.deadline,
        )
        token = self.access_token
        if isinstance(answer, Problem) and token and token in answer.reason:
            # A backstop: reasons hold no server text (outcome.py), but should one ever quote
            # the server, a token the server echoed must still not reach our log.
            reason = answer.reason.replace(token, "[access token]")
            return Problem(answer.kind, reason, answer.http_status)
        return answer

    async def _http(self) -> httpx.AsyncClient:
        """The caller's client, or one of our own, opened on first use and closed with the
        call."""
        if self.client is None:
            self.client = await self.stack.enter_async_context(_own_client(self.settings))
        return self.client


@asynccontextmanager
async def _own_client(settings: FetchSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with new_fhir_client(settings) as client:
        yield client


def _completed(gathered: Gathered, runs: Iterable[KeyRun]) -> list[str]:
    """The Medications to read, once `runs` (the keys after those gathered) are final."""
    for run in runs:
        gathered.add(run.resources)
    return gathered.unresolved_medication_ids()


def _result(runs: list[KeyRun], gathered: Gathered, started: float) -> PrefetchResult:
    now = time.perf_counter()
    outcomes = {run.template.key: run.outcome(now) for run in runs}
    return PrefetchResult(
        resources=tuple(gathered.kept),
        per_key=MappingProxyType(outcomes),
        missing_required=tuple(
            key for key, outcome in outcomes.items() if outcome.required and not outcome.obtained
        ),
        elapsed_ms=(now - started) * 1000,
    )


def _audit(result: PrefetchResult, hook_instance: str | None) -> None:
    if not audit_log.isEnabledFor(logging.INFO):
        return  # the record is built for the log alone (issue 14: a tenth of the stage)
    # The client chose hookInstance: capped here, escaped by json.dumps (issue 10).
    shown = None if hook_instance is None else capped(hook_instance)
    record = {"hookInstance": shown, **result.audit_record()}
    audit_log.info("prefetch %s", JsonText(record, sort_keys=True), extra={"audit": record})
