"""Hook requests that get real cards from the clinical services (the examples' withdrawal
candidate, dated 2026-12-02), for tests that need issued cards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cds_service.offline import request_from_bundle
from cds_service.services import clinical_registry
from cds_service.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_DATE = "2026-12-02"
PATIENT_VIEW = "aza-withdrawal-patient-view"


def withdrawal_request(
    hook_instance: str = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
) -> dict[str, Any]:
    bundle = json.loads((EXAMPLES / "s9-01-withdrawal-candidate.json").read_text())
    registry = clinical_registry(Settings(dev=True))
    service = registry.get(PATIENT_VIEW)
    assert service is not None and service.descriptor.prefetch is not None
    request = request_from_bundle(
        bundle, hook="patient-view", templates=service.descriptor.prefetch
    )
    return {**request, "hookInstance": hook_instance}
