"""Prefetch: the service's templates, three-state resolution and the FHIR fallback fetch.

The protocol layer calls `resolve_prefetch` once per hook request; the rules read
`PrefetchResult.resources`; the cards name `PrefetchResult.problem_descriptions()`; a non-empty
`PrefetchResult.missing_required` becomes a 412 with those descriptions. `fhir_server_allowed`
decides `may_fetch`: only a caller's own FHIR servers are queried (issue 11).
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
from cds_service.prefetch.trust import fhir_server_allowed

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
    "fhir_server_allowed",
    "new_fhir_client",
    "render_template",
    "resolve_prefetch",
    "with_site_lab_codes",
]
