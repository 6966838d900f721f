"""One key's progress while a hook request runs.

Mutable on purpose: the fetch tasks record each page as it arrives, so that when the deadline
cancels them, what was already read is kept and the report says how far it got. It is read
once into a frozen `KeyOutcome`; it never holds the access token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from cds_service.prefetch.bundles import Page
from cds_service.prefetch.outcome import Failure, KeyOutcome, KeySource, PrefetchState, Problem
from cds_service.prefetch.templates import PrefetchTemplate


@dataclass(eq=False, slots=True)
class KeyRun:
    template: PrefetchTemplate
    prefetch: PrefetchState
    started: float
    prefetch_note: str | None = None
    source: KeySource | None = None
    next_url: str | None = None
    resources: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    more_available: bool = False
    expected_pages: int | None = None  # known for a set of reads, unknown while paging
    problem: Problem | None = None
    finished: float | None = None

    @property
    def done(self) -> bool:
        return self.finished is not None

    def add(self, page: Page) -> None:
        self.resources.extend(page.resources)
        self.pages += 1
        if self.template.first_page_only:
            self.more_available = page.next_url is not None
            self.next_url = None
        else:
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

    def deadline_reached(self, deadline_ms: int) -> None:
        deadline = f"timeout: deadline of {deadline_ms} ms reached"
        if self.source is None:
            self.finish(KeySource.FAILED, Problem(Failure.TIMEOUT, deadline))
        elif self.expected_pages is not None:
            where = f"{deadline} with {self.pages} of {self.expected_pages} read"
            self.finish(problem=Problem(Failure.TIMEOUT, where))
        else:
            where = f"{deadline} before page {self.pages + 1}"
            self.finish(problem=Problem(Failure.TIMEOUT, where))

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
            more_available=self.more_available,
        )
