"""Where refused tokens are counted: one call per refusal, by reason (for the metrics).

`authenticate` calls `note(reason)` for every refusal. The metrics layer subscribes with
`observe(callback)` (e.g. a Prometheus counter's `labels(reason).inc`), so this room does not
depend on any metrics library. `counts()` is a process-local tally for tests and diagnostics.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from cds_service.security.errors import RejectReason

log = logging.getLogger("cds_service.security")

_counts: Counter[RejectReason] = Counter()
_observers: list[Callable[[RejectReason], None]] = []


def note(reason: RejectReason) -> None:
    """Count one refusal. An observer that fails is logged, never breaks the 401."""
    _counts[reason] += 1
    for observer in list(_observers):
        try:
            observer(reason)
        except Exception:
            log.exception("rejection observer failed")


def observe(callback: Callable[[RejectReason], None]) -> Callable[[], None]:
    """Call `callback(reason)` on every refusal; returns a function that unsubscribes it."""
    _observers.append(callback)

    def unsubscribe() -> None:
        if callback in _observers:
            _observers.remove(callback)

    return unsubscribe


def counts() -> dict[RejectReason, int]:
    return dict(_counts)
