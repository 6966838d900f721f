"""The web edge: the only room that imports FastAPI and Starlette (routes, body reading, error
handlers, OpenAPI, middleware). Everything behind it is plain Python: the pipeline is called
with validated models and answers with models."""

from cds_service.http.app import ProductionModeUnavailable, create_app

__all__ = ["ProductionModeUnavailable", "create_app"]
