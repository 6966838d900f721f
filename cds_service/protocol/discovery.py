"""The discovery document (SPEC-03 to SPEC-06)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from cds_service.protocol.base import WireModel


class ServiceDescriptor(WireModel):
    hook: str = Field(min_length=1)
    title: str | None = None
    description: str = Field(min_length=1)
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._~-]+$")
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None
    extension: dict[str, Any] | None = None


class Discovery(WireModel):
    # SPEC-04: an empty registry still answers {"services": []}.
    _keep_empty: ClassVar[frozenset[str]] = frozenset({"services"})

    services: list[ServiceDescriptor] = Field(default_factory=list)
