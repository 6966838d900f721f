"""Prefetch: the service's templates, three-state resolution and the FHIR fallback fetch.

The protocol layer calls `resolve_prefetch` once per hook request; the rules read
`PrefetchResult.resources`; the cards name `PrefetchResult.problem_descriptions()`; a non-empty
`PrefetchResult.missing_required` becomes a 412 with those descriptions.
"""

from cds_service.prefetch.client import new_fhir_client
from cds_service.prefetch.outcome import (
    Failure,
    KeyOutcome,
    KeySource,
    PrefetchResult,
    PrefetchState,
    Problem,
)
from cds_service.prefetch.render import Unrenderable, render_template
from cds_service.prefetch.resolve import resolve_prefetch
from cds_service.prefetch.settings import FetchSettings
from cds_service.prefetch.templates import (
    PREFETCH_TEMPLATES,
    PrefetchTemplate,
    discovery_prefetch,
    with_site_lab_codes,
)

__all__ = [
    "PREFETCH_TEMPLATES",
    "Failure",
    "FetchSettings",
    "KeyOutcome",
    "KeySource",
    "PrefetchResult",
    "PrefetchState",
    "PrefetchTemplate",
    "Problem",
    "Unrenderable",
    "discovery_prefetch",
    "new_fhir_client",
    "render_template",
    "resolve_prefetch",
    "with_site_lab_codes",
]
