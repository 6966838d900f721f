"""CDS Hooks 2.0 wire models and errors. Knows nothing clinical."""

from cds_service.protocol.discovery import Discovery, ServiceDescriptor
from cds_service.protocol.errors import (
    BadRequest,
    CdsHooksError,
    Issue,
    PayloadTooLarge,
    PreconditionFailed,
    Unauthorized,
    UnknownService,
    operation_outcome,
)
from cds_service.protocol.feedback import FeedbackItem, FeedbackRequest
from cds_service.protocol.hooks import CONTEXT_MODELS
from cds_service.protocol.request import FhirAuthorization, HookRequest
from cds_service.protocol.response import (
    SUMMARY_LIMIT,
    Action,
    Card,
    CdsResponse,
    Coding,
    Link,
    OverrideReason,
    Source,
    Suggestion,
)

__all__ = [
    "CONTEXT_MODELS",
    "SUMMARY_LIMIT",
    "Action",
    "BadRequest",
    "Card",
    "CdsHooksError",
    "CdsResponse",
    "Coding",
    "Discovery",
    "FeedbackItem",
    "FeedbackRequest",
    "FhirAuthorization",
    "HookRequest",
    "Issue",
    "Link",
    "OverrideReason",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ServiceDescriptor",
    "Source",
    "Suggestion",
    "Unauthorized",
    "UnknownService",
    "operation_outcome",
]
