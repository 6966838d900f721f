"""Validate fixtures with the strict `fhir.resources.R4B` models (tests only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def validate_r4b(resource: Mapping[str, Any]) -> None:
    """Raise pydantic.ValidationError unless `resource` is valid R4 (R4B models) JSON."""
    get_fhir_model_class(str(resource["resourceType"])).model_validate(dict(resource))
