"""The OpenAPI description. Hook and feedback bodies are read by `wire.py` (not by FastAPI), so
their schemas are attached here from the same pydantic models that validate them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from cds_service.protocol import FeedbackRequest, HookRequest

REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "HookRequest": HookRequest,
    "FeedbackRequest": FeedbackRequest,
}
_OUTCOME = {"content": {"application/fhir+json": {"schema": {"type": "object"}}}}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed or invalid request; OperationOutcome", **_OUTCOME},
    401: {
        "description": (
            "No bearer JWT, or one that does not verify (trusted clients configured); "
            "OperationOutcome, the same for every reason"
        ),
        **_OUTCOME,
    },
    404: {"description": "Unknown service; OperationOutcome", **_OUTCOME},
    412: {"description": "Required data unobtainable; OperationOutcome", **_OUTCOME},
    413: {"description": "Body over the size limit; OperationOutcome", **_OUTCOME},
    500: {"description": "Unexpected error; OperationOutcome", **_OUTCOME},
    503: {
        "description": "The database does not answer (nothing was stored); OperationOutcome",
        **_OUTCOME,
    },
}


_SCHEME = "cdsClientJwt"
_BEARER_JWT = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": (
        "CDS Hooks 2.0 §security: a JWT signed (ES384 or RS384) by a configured trusted client, "
        "aud = the URL called. Required when [[clients]] are configured (always in production)."
    ),
}


def _needs_token(operation: dict[str, Any]) -> None:
    """Discovery, hook and feedback calls carry the client's JWT (SPEC-30), so each of them
    may answer 401."""
    operation["security"] = [{_SCHEME: []}]
    operation.setdefault("responses", {}).setdefault("401", ERROR_RESPONSES[401])


def install(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in REQUEST_MODELS.items():
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(model_schema.pop("$defs", {}))
            schemas[name] = model_schema
        schema["components"]["securitySchemes"] = {_SCHEME: _BEARER_JWT}
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                if path.startswith("/cds-services"):
                    _needs_token(operation)
                if path.endswith("/feedback"):
                    operation["responses"].setdefault("503", ERROR_RESPONSES[503])
                # FastAPI's 422 is never sent: invalid input is a 400 with an OperationOutcome.
                operation.get("responses", {}).pop("422", None)
                name = operation.pop("x-request-model", None)
                if name:
                    operation["requestBody"] = {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                        },
                    }
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
